"""``nasbench-sd show`` and single-run directories: the labelled alphas equal the
checkpoint's, the per-epoch table equals metrics.jsonl, and ``table``/``plot``
read one run (``search --out``) and one ``seed-<n>`` directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from nasbench_sd.cells import EDGES, OPS
from nasbench_sd.cli import main
from nasbench_sd.search import run_search
from searchkit import tiny_config, tiny_data


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, one_thread) -> Path:
    """A finished tiny sd-darts run with one changed method setting (lam)."""
    out = tmp_path_factory.mktemp("show") / "sd0"
    cfg = tiny_config("sd-darts", seed=3, epochs="3", **{"method.warmup": "1", "method.lam": "0.5"})
    run_search(cfg, out, data=tiny_data(), quiet=True)
    return out


def test_show_json_matches_the_run_files(finished_run, capsys):
    code, out, _ = run_cli(capsys, "show", finished_run, "--json")
    assert code == 0
    info = json.loads(out)
    records = [json.loads(line) for line in (finished_run / "metrics.jsonl").read_text().splitlines()]
    assert info["method"] == "sd-darts" and info["seed"] == 3 and info["finished"]
    assert info["edges"] == [f"{to}<-{frm}" for to, frm in EDGES] == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    assert info["ops"] == list(OPS)
    assert info["op_probs"] == records[-1]["op_probs"]
    assert [r["epoch"] for r in info["epochs"]] == [1, 2, 3]
    assert [r["c10_test"] for r in info["epochs"]] == [r["benchmark"]["c10_test"] for r in records]
    assert [r["train_loss"] for r in info["epochs"]] == [r["train_loss"] for r in records]
    # the raw alpha is the checkpoint's, and its softmax is the recorded op probabilities
    from nasbench_sd.io import unframe

    state = torch.load(__import__("io").BytesIO(unframe((finished_run / "checkpoint.pt").read_bytes())),
                       weights_only=False)
    alpha = state["method"]["arch"][0]
    assert info["alpha"] == alpha.tolist()
    assert torch.allclose(torch.tensor(info["op_probs"]), alpha.softmax(-1), atol=1e-6)
    # changed settings: the user's, not the preset's
    assert info["changed"]["method.lam"] == 0.5 and info["changed"]["epochs"] == 3
    assert "method.K" not in info["changed"] and "w_lr" not in info["changed"]


def test_show_text_labels_edges_and_ops(finished_run, capsys):
    code, out, _ = run_cli(capsys, "show", finished_run)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("changed from the preset:") and "method.lam=0.5" in lines[1]
    for label in ("1<-0", "3<-2", "nor_conv_3x3", "avg_pool_3x3", "op probabilities", "alpha", "per epoch"):
        assert label in out
    cell = json.loads((finished_run / "result.json").read_text())["cell"]
    assert f"final cell {cell}" in out


def test_table_and_plot_read_one_run_a_seed_and_a_method_dir(finished_run, tmp_path, capsys):
    seed_dir = tmp_path / "exp" / "sd-darts" / "seed-3"
    shutil.copytree(finished_run, seed_dir)
    result = json.loads((finished_run / "result.json").read_text())
    for where in (finished_run, seed_dir, seed_dir.parent):  # one run, a seed-<n> directory, a method directory
        out_dir = tmp_path / f"t-{where.name}"
        code, out, err = run_cli(capsys, "table", where, "--out", out_dir, "--no-published", "--no-best")
        assert code == 0, err
        assert f"| sd-darts | 1 | {result['benchmark']['c10_valid']:.2f}" in out.replace("**", "")
        if where != seed_dir.parent:  # method directories were read before; plots are slow
            code, out, err = run_cli(capsys, "plot", where, "--out", tmp_path / f"p-{where.name}")
            assert code == 0, err
            assert any(line.endswith("accuracy.png") for line in out.split())


@pytest.mark.parametrize("what, needle", [("missing", "does not exist"), ("empty", "no config.json")])
def test_show_bad_input(tmp_path, capsys, what, needle):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "show", tmp_path / what)
    assert code == 2 and err.count("\n") == 1 and needle in err


def test_changed_settings_of_a_run_that_only_validates_with_its_own_method_settings():
    """Paper sd-darts with epochs=2 needs warmup < 2: the preset's defaults (warm-up 25) are
    rebuilt without that check, so the table's overrides column names both changes (not "?")."""
    from nasbench_sd.presets import build_run_config
    from nasbench_sd.report.show import changed_settings

    cfg = build_run_config("sd-darts", "paper", 0, {"epochs": "2", "method.warmup": "1"}).to_dict()
    assert changed_settings(cfg) == {"epochs": 2, "method.warmup": 1}
