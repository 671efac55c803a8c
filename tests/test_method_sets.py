"""Method-scoped ``--set`` in a run of several methods: ``sd-darts.lam`` reaches
sd-darts only, ``method.X`` every method that has X, and the table's caption
names the change for that method only."""

from __future__ import annotations

import csv
import json

import pytest

from nasbench_sd.cli import main
from nasbench_sd.errors import UserError
from nasbench_sd.experiments.runner import method_groups
from nasbench_sd.method_sets import scope_sets

TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=32", "--set", "batch_size=16",
        "--set", "epochs=2"]


def test_scoped_key_reaches_one_method():
    scoped = scope_sets(["sd-darts", "darts-v1"], {"sd-darts.lam": "0.5", "epochs": "3"})
    assert scoped == {"sd-darts": {"epochs": "3", "method.lam": "0.5"}, "darts-v1": {"epochs": "3"}}


def test_method_key_reaches_every_method_that_has_it():
    scoped = scope_sets(["sd-darts", "gdas", "darts-v1"], {"method.lam": "0.5", "tau_min": "0.2"})
    assert scoped["sd-darts"] == {"method.lam": "0.5"}
    assert scoped["gdas"] == {"method.tau_min": "0.2"}
    assert scoped["darts-v1"] == {}


def test_scoped_key_wins_over_method_key():
    scoped = scope_sets(["sd-darts"], {"method.lam": "0.5", "sd-darts.lam": "2"})
    assert scoped["sd-darts"] == {"method.lam": "2"}


@pytest.mark.parametrize("methods, sets, needle", [
    (["darts-v1", "gdas"], {"method.lam": "1"}, "no method of this run has it"),
    (["darts-v1"], {"method.lam": "1"}, "unknown setting 'lam'"),
    (["darts-v1"], {"sd-darts.lam": "1"}, "sd-darts is not a method of this run"),
    (["sd-darts"], {"sd-darts.colour": "1"}, "unknown setting 'colour' for sd-darts"),
    (["sd-darts"], {"nosuch.lam": "1"}, "unknown setting 'nosuch.lam'"),
])
def test_refused(methods, sets, needle):
    with pytest.raises(UserError, match=needle):
        scope_sets(methods, sets)


def test_groups_carry_only_their_settings():
    groups = {g.label: dict(g.sets) for g in method_groups(["sd-darts", "darts-v1"], {"sd-darts.lam": "0.5"})}
    assert groups == {"sd-darts": {"method.lam": "0.5"}, "darts-v1": {}}


def test_run_two_methods_and_caption(tmp_path, cifar10_format, capsys, one_thread):
    out = tmp_path / "exp"
    with pytest.raises(SystemExit) as exc:
        main(["run", "-m", "sd-darts,darts-v1", "--seeds", "1", "--preset", "cpu", "--device", "cpu", "--quiet",
              "--data-root", str(cifar10_format), "--out", str(out), *TINY, "--set", "sd-darts.lam=0.5",
              "--set", "sd-darts.warmup=1"])
    assert exc.value.code == 0
    assert json.loads((out / "sd-darts/seed-0/config.json").read_text())["method_config"]["lam"] == 0.5
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["table", str(out), "--no-published", "--no-best"])
    md = capsys.readouterr().out
    assert exc.value.code == 0
    caption = md.splitlines()[0]
    assert "darts-v1: none" in caption
    assert "sd-darts: method.lam=0.5." in caption  # warmup=1 is the cpu default scaled to 2 epochs
    assert "for every row: train_limit=32 batch_size=16 channels=4 epochs=2" in caption
    assert "rows share every search setting" in caption
    rows = {r["row"]: r for r in csv.DictReader((out / "table.csv").open())}
    assert "method.lam=0.5" in rows["sd-darts"]["overrides"] and "lam" not in rows["darts-v1"]["overrides"]
