"""Every kind of bad input: ONE line on stderr, exit code 2, no traceback, and
nothing written or overwritten. One parametrised list, run in-process."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nasbench_sd.cli import main

SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=32", "--set", "batch_size=16",
        "--set", "epochs=1"]


def search(*extra: str) -> list[str]:
    return ["search", "-m", "darts-v1", "--preset", "cpu", "--quiet", "--device", "cpu", "--out", "{out}",
            "--data-root", "{data}", *TINY, *extra]


def sd(*extra: str) -> list[str]:
    return [*search(*extra)[:2], "sd-darts", *search(*extra)[3:]]


CASES: list[tuple[str, list[str], str]] = [
    # cells and the benchmark
    ("bad-op", ["query", SKIP.replace("skip_connect~1|+", "conv_3x3~1|+")], "unknown op 'conv_3x3' on edge 2<-1"),
    ("malformed-cell", ["query", "|skip_connect~0|+|"], "malformed"),
    ("wrong-edge-source", ["query", SKIP.replace("skip_connect~2", "skip_connect~0")], "edge 3<-2"),
    ("index-too-large", ["query", "15625"], "out of range"),
    ("index-negative", ["query", "--", "-1"], "out of range"),
    ("unknown-dataset", ["query", SKIP, "--dataset", "svhn", "--split", "test"], "unknown data set"),
    ("unknown-split", ["query", SKIP, "--dataset", "cifar10", "--split", "holdout"], "unknown split"),
    ("unknown-backend", ["query", SKIP, "--benchmark", "hpobench"], "Invalid value"),
    ("missing-benchmark-file", ["query", SKIP, "--benchmark", "nb201", "--benchmark-path", "{tmp}/no.pth"],
     "not found"),
    ("benchmark-path-required", ["query", SKIP, "--benchmark", "nats"], "--benchmark-path"),
    ("corrupt-benchmark-table", ["query", SKIP, "--benchmark-path", "{corrupt_table}"], "corrupt"),
    ("cell-bad-string", ["cell", "|none~0|"], "node groups"),
    ("cell-bad-index", ["cell", "99999"], "out of range"),
    ("unknown-command", ["serach"], "No such command"),
    # search: names and settings
    ("unknown-method", ["search", "-m", "darts-v3", "--out", "{out}"], "unknown method 'darts-v3'"),
    ("unknown-preset", ["search", "-m", "darts-v1", "--preset", "fast", "--out", "{out}"], "unknown preset"),
    ("negative-seed", ["search", "-m", "darts-v1", "--seed", "-1", "--out", "{out}"], "seed must be >= 0"),
    ("set-unknown-key", search("--set", "epoch=3"), "unknown setting 'epoch'"),
    ("set-no-equals", search("--set", "epochs"), "key=value"),
    ("set-wrong-type", search("--set", "epochs=ten"), "expects int"),
    ("set-float-for-int", search("--set", "batch_size=1.5"), "expects int"),
    ("set-bool-garbage", search("--set", "w_nesterov=maybe"), "expects bool"),
    ("negative-epochs", search("--set", "epochs=-1"), "epochs must be >= 1"),
    ("zero-epochs", search("--set", "epochs=0"), "epochs must be >= 1"),
    ("zero-batch", search("--set", "batch_size=0"), "batch_size"),
    ("negative-lr", search("--set", "w_lr=-0.1"), "w_lr"),
    ("negative-grad-clip", search("--set", "grad_clip=-1"), "grad_clip"),
    ("unknown-search-dataset", search("--set", "dataset=svhn"), "unknown data set"),
    ("unknown-split-protocol", search("--set", "split=random"), "unknown split"),
    ("unknown-method-key", search("--set", "method.lam=1"), "unknown setting 'lam'"),
    ("warmup-ge-epochs", sd("--set", "method.warmup=1"), "warmup"),
    ("K-zero", sd("--set", "method.K=0"), "K"),
    ("lambda-negative", sd("--set", "method.lam=-0.5"), "lam must be >= 0"),
    ("temperature-zero", sd("--set", "method.temperature=0"), "temperature"),
    ("unknown-teacher", sd("--set", "method.teacher=disk"), "unknown sd-darts teacher"),
    ("unknown-kl-direction", sd("--set", "method.kl_direction=sideways"), "kl_direction"),
    ("unknown-device", search("--device", "tpu"), "unknown device"),
    # data, output directory, existing runs
    ("missing-data", search("--data-root", "{tmp}/empty", "--no-download"), "not found"),
    ("corrupt-data", search("--data-root", "{corrupt_data}"), "corrupt"),
    ("unwritable-out", search("--out", "{tmp}/a-file/run"), "not writable"),
    ("incompatible-run-dir", search("--out", "{other_run}", "--resume"), "another configuration"),
    ("finished-run-dir", search("--out", "{finished_run}"), "finished run"),
    # experiments
    ("run-unknown-method", ["run", "-m", "sd-darts,darts-v9", "--seeds", "2", "--out", "{out}"], "darts-v9"),
    ("run-zero-seeds", ["run", "-m", "sd-darts", "--seeds", "0", "--out", "{out}"], "seed"),
    ("run-negative-seeds", ["run", "-m", "sd-darts", "--seeds", "-3", "--out", "{out}"], "seed"),
    ("run-malformed-seeds", ["run", "-m", "sd-darts", "--seeds", "1,b", "--out", "{out}"], "seed"),
    ("run-bad-set", ["run", "-m", "sd-darts", "--seeds", "1", "--set", "epochs=-2", "--out", "{out}"], "epochs"),
    ("run-unwritable-out", ["run", "-m", "random", "--seeds", "1", "--out", "{tmp}/a-file/x"], "cannot be created"),
    ("table-missing-dir", ["table", "{tmp}/no-such-results"], "{tmp}/no-such-results"),
    ("table-no-runs", ["table", "{tmp}/empty"], "no results below"),
    ("plot-no-runs", ["plot", "{tmp}/empty"], "no"),
    ("ablate-unknown-param", ["ablate", "-m", "sd-darts", "--param", "colour", "--values", "1,2", "--out", "{out}"],
     "colour"),
    # a researcher's daily work (issue 15): show, scoped settings, tables, plots, queries
    ("show-missing-dir", ["show", "{tmp}/no-such-run"], "does not exist"),
    ("show-not-a-run", ["show", "{tmp}/empty"], "no config.json"),
    ("set-scoped-other-method", search("--set", "sd-darts.lam=1"), "sd-darts is not a method of this run"),
    ("set-scoped-unknown-field", sd("--set", "sd-darts.colour=1"), "unknown setting 'colour' for sd-darts"),
    ("set-scoped-unknown-prefix", search("--set", "nosuch.lam=1"), "unknown setting 'nosuch.lam'"),
    ("run-method-key-none-has-it", ["run", "-m", "darts-v1,gdas", "--seeds", "1", "--set", "method.lam=1",
                                    "--out", "{out}"], "no method of this run has it"),
    ("table-unknown-order", ["table", "{finished_run}", "--out", "{out}", "--order", "nope"], "--order names nope"),
    ("table-bad-name", ["table", "{finished_run}", "--out", "{out}", "--name", "darts-v1"], "ROW=TEXT"),
    ("table-unknown-name-row", ["table", "{finished_run}", "--out", "{out}", "--name", "nope=X"], "--name names nope"),
    ("table-bad-correction", ["table", "{finished_run}", "--out", "{out}", "--correction", "bonf"], "Invalid value"),
    ("table-rescore-missing-file", ["table", "{finished_run}", "--out", "{out}", "--benchmark", "nb201",
                                    "--benchmark-path", "{tmp}/no.pth"], "not found"),
    ("table-rescore-no-path", ["table", "{finished_run}", "--out", "{out}", "--benchmark", "nats"],
     "--benchmark-path"),
    ("plot-unknown-methods", ["plot", "{finished_run}", "--out", "{out}", "--methods", "nope"], "--methods names nope"),
    ("plot-bad-split", ["plot", "{finished_run}", "--out", "{out}", "--split", "train"], "Invalid value"),
    ("query-not-in-table", ["query", SKIP, "--dataset", "cifar10", "--split", "train"], "not in the bundled table"),
    ("query-hp12-train", ["query", SKIP, "--dataset", "cifar100", "--split", "train", "--hp", "12"],
     "not in the bundled table"),
    ("query-bad-hp", ["query", SKIP, "--hp", "50"], "Invalid value"),
    ("query-no-cell", ["query"], "give one CELL_OR_INDEX or --batch"),
    ("query-cell-and-batch", ["query", SKIP, "--batch", "{bad_cells}"], "give one CELL_OR_INDEX or --batch"),
    ("query-batch-missing-file", ["query", "--batch", "{tmp}/no-cells.txt"], "cannot read --batch file"),
    ("query-batch-bad-line", ["query", "--batch", "{bad_cells}"], "line 2: malformed"),
    ("cell-official-no-path", ["cell", SKIP, "--benchmark", "nb201"], "--benchmark-path"),
    ("query-nats-valid", ["query", SKIP, "--nats", "--dataset", "cifar10", "--split", "valid"], "NATS-Bench tss"),
    ("query-nats-no-dataset", ["query", SKIP, "--nats"], "--nats needs --dataset"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory, cifar10_format):
    """Files the cases point at, made once: corrupt data, a finished run, another config's run."""
    tmp = tmp_path_factory.mktemp("bad-input")
    (tmp / "empty").mkdir()
    (tmp / "a-file").write_text("not a directory")
    (tmp / "corrupt.csv.gz").write_bytes(b"\x1f\x8b garbage")
    (tmp / "bad-cells.txt").write_text("1835\nnot-a-cell\n")
    corrupt = tmp / "corrupt-data" / "cifar-10-batches-py"
    corrupt.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (corrupt / name).write_bytes(b"\x80\x04 truncated pickle")
    paths = {"tmp": str(tmp), "data": str(cifar10_format), "corrupt_table": str(tmp / "corrupt.csv.gz"),
             "corrupt_data": str(tmp / "corrupt-data"), "finished_run": str(tmp / "finished"),
             "other_run": str(tmp / "finished"), "bad_cells": str(tmp / "bad-cells.txt")}
    args = [a.format(**paths, out=str(tmp / "finished")) for a in search()]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 0
    return paths


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize("name, argv, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, argv, fragment, world, tmp_path, capsys):
    out = tmp_path / "out"
    paths = {**world, "out": str(out)}
    if name == "incompatible-run-dir":
        argv = [*argv, "--set", "w_lr=0.05"]
    argv = [a.format(**paths) for a in argv]
    before = _tree(Path(world["tmp"]))
    with pytest.raises(SystemExit) as exc:
        main(argv)
    _, err = capsys.readouterr()
    assert exc.value.code == 2, err
    assert fragment.format(**paths) in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not out.exists(), f"{name} wrote {out}"
    assert _tree(Path(world["tmp"])) == before, f"{name} changed existing files"


def test_case_list_is_long_enough():
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)
    json.dumps(CASES)
