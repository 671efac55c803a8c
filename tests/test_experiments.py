"""``nasbench-sd run`` and ``ablate`` as a user runs them: the layout, skip and
resume after a kill, --workers and Ray equal to one worker, and bad input
refused before anything is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasbench_sd.cli import main
from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import is_locked, parse_seeds
from nasbench_sd.testing.faults import fault_env

TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=64", "--set", "batch_size=32",
        "--set", "epochs=2"]


#: The command line, run in a fresh interpreter.
NASBENCH_SD = [sys.executable, "-c", "from nasbench_sd.cli import main; main()"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below ``root`` with its mtime and content."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def results(root: Path) -> dict[str, dict]:
    """group/seed -> (cell, figures) of every result.json below ``root``."""
    out = {}
    for p in sorted(root.rglob("result.json")):
        r = json.loads(p.read_text())
        out[p.parent.relative_to(root).as_posix()] = {"cell": r["cell"], "benchmark": r["benchmark"]}
    return out


def metrics(root: Path) -> dict[str, list]:
    """group/seed -> metrics records without wall times."""
    out = {}
    for p in sorted(root.rglob("metrics.jsonl")):
        recs = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
        out[p.parent.relative_to(root).as_posix()] = [{k: v for k, v in r.items() if k != "epoch_seconds"}
                                                      for r in recs]
    return out


# -- seeds ----------------------------------------------------------------------------------------
def test_parse_seeds():
    assert parse_seeds("5") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("7,") == [7]
    for bad in ("0", "-2", "x", "1,,2", "1,1", "1.5", "", ",", "3,-1"):
        with pytest.raises(UserError, match="seed"):
            parse_seeds(bad)


# -- bad input: one line, exit 2, nothing written --------------------------------------------------
BAD_RUNS = {
    "unknown method": ["--method", "nope"],
    "one bad of two methods": ["--method", "random,nope"],
    "method twice": ["--method", "random,random"],
    "zero seeds": ["--method", "random", "--seeds", "0"],
    "negative seeds": ["--method", "random", "--seeds", "-3"],
    "malformed seeds": ["--method", "random", "--seeds", "1;2"],
    "duplicate seeds": ["--method", "random", "--seeds", "1,1"],
    "unknown preset": ["--method", "random", "--preset", "huge"],
    "set without =": ["--method", "random", "--set", "epochs"],
    "unknown setting": ["--method", "random", "--set", "bogus=1"],
    "bad value": ["--method", "random", "--set", "epochs=many"],
    "invalid value": ["--method", "random", "--set", "epochs=0"],
    "zero workers": ["--method", "random", "--workers", "0"],
    "zero threads": ["--method", "random", "--threads", "0"],
    "ray address without ray": ["--method", "random", "--ray-address", "auto"],
    "unknown executor": ["--method", "random", "--executor", "slurm"],
    "unknown device": ["--method", "random", "--device", "tpu"],
    "method setting out of range": ["--method", "sd-darts", "--set", "method.warmup=10"],
}


@pytest.mark.parametrize("args", BAD_RUNS.values(), ids=BAD_RUNS.keys())
def test_run_bad_input(tmp_path, capsys, args):
    out = tmp_path / "exp"
    code, stdout, err = run_cli(capsys, "run", *args, "--out", out, "-q")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nasbench-sd: error:"), err
    assert not out.exists()


BAD_ABLATIONS = {
    "unknown param": ["--param", "nope", "--values", "1,2"],
    "no values": ["--param", "warmup", "--values", ""],
    "value twice": ["--param", "warmup", "--values", "1,1"],
    "value out of range": ["--param", "warmup", "--values", "0,10"],
    "value of wrong type": ["--param", "K", "--values", "1,two"],
    "swept and set": ["--param", "warmup", "--values", "0,1", "--set", "method.warmup=1"],
}


@pytest.mark.parametrize("args", BAD_ABLATIONS.values(), ids=BAD_ABLATIONS.keys())
def test_ablate_bad_input(tmp_path, capsys, args):
    out = tmp_path / "abl"
    code, _, err = run_cli(capsys, "ablate", "--method", "sd-darts", *args, "--out", out, "-q")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nasbench-sd: error:"), err
    assert not out.exists()


def test_unwritable_out_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "run", "--method", "random", "--seeds", "1", "--out", blocker / "exp", "-q")
    assert code == 2 and err.count("\n") == 1 and "file" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        code, _, err = run_cli(capsys, "run", "--method", "random", "--out", locked / "exp", "-q")
        assert code == 2 and not (locked / "exp").exists()


# -- skip, extend, refuse another configuration ------------------------------------------------------
def test_finished_runs_are_skipped_and_manifest(tmp_path, capsys):
    out = tmp_path / "exp"
    code, stdout, _ = run_cli(capsys, "run", "--method", "random", "--seeds", "2", "--out", out, "-q")
    assert code == 0
    assert sorted(p.parent.name for p in out.glob("random/seed-*/result.json")) == ["seed-0", "seed-1"]
    before = snapshot(out / "random")
    code, _, _ = run_cli(capsys, "run", "--method", "random", "--seeds", "0,1,2", "--out", out, "-q")
    assert code == 0
    after = snapshot(out / "random")
    for name, value in before.items():
        if name.endswith("result.json"):
            assert after[name] == value, f"{name} was rewritten"
    assert (out / "random/seed-2/result.json").is_file()
    manifest = json.loads((out / "experiment.json").read_text())
    assert manifest["status"] == "finished" and manifest["preset"] == "cpu"
    assert manifest["methods"] == ["random"] and manifest["seeds"] == [0, 1, 2]
    assert manifest["started"] and manifest["finished"]
    assert {k: v["status"] for k, v in manifest["runs"].items()} == {
        "random/seed-0": "skipped", "random/seed-1": "skipped", "random/seed-2": "finished"}
    assert not list(out.rglob("*.tmp"))


def test_other_configuration_refused(tmp_path, capsys):
    out = tmp_path / "exp"
    assert run_cli(capsys, "run", "--method", "random", "--seeds", "1", "--out", out, "-q")[0] == 0
    before = snapshot(out)
    # same run directory, another configuration
    code, _, err = run_cli(capsys, "run", "--method", "random", "--seeds", "1", "--out", out, "--set", "epochs=3",
                           "-q")
    assert code == 2 and err.count("\n") == 1 and "another configuration" in err
    # new seed only, but the group was made by another configuration
    code, _, err = run_cli(capsys, "run", "--method", "random", "--seeds", "5,", "--out", out, "--set", "epochs=3",
                           "-q")
    assert code == 2 and err.count("\n") == 1 and "another configuration" in err
    # another preset into the same experiment
    code, _, err = run_cli(capsys, "run", "--method", "random", "--seeds", "1", "--out", out, "--preset", "paper",
                           "-q")
    assert code == 2 and err.count("\n") == 1
    assert snapshot(out) == before


# -- real runs on CIFAR-10 -------------------------------------------------------------------------------
def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*NASBENCH_SD, *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs)


def test_killed_run_resumes_only_missing_work(tmp_path, cifar10_format):
    out = tmp_path / "exp"
    args = ["run", "--method", "sd-darts", "--seeds", "3", "--data-root", cifar10_format, "--out", out, *TINY[:-1],
            "epochs=3", "-q"]
    # one worker runs the seeds in turn in this process: seed 0 writes checkpoints 1-3, seed 1 its 4th and
    # 5th; the process dies inside the 5th write (seed 1 finished epoch 1, is in the middle of epoch 2's)
    marker = tmp_path / "marker"
    killed = cli(*args, env=fault_env("written/checkpoint.pt:5", marker))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert marker.read_text() == "written/checkpoint.pt 5\n"
    first = out / "sd-darts/seed-0/result.json"
    assert first.is_file() and not (out / "sd-darts/seed-1/result.json").exists()
    assert not (out / "sd-darts/seed-2").exists()
    kept = (first.stat().st_mtime_ns, first.read_bytes())
    seed1 = out / "sd-darts/seed-1/metrics.jsonl"
    epoch1 = json.loads(seed1.read_text().splitlines()[0])
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert (first.stat().st_mtime_ns, first.read_bytes()) == kept
    runs = json.loads((out / "experiment.json").read_text())["runs"]
    assert runs["sd-darts/seed-0"]["status"] == "skipped"
    assert runs["sd-darts/seed-1"]["status"] == "finished" and runs["sd-darts/seed-1"]["resumed"] is True
    assert runs["sd-darts/seed-2"]["status"] == "finished" and runs["sd-darts/seed-2"]["resumed"] is False
    assert json.loads(seed1.read_text().splitlines()[0]) == epoch1  # epoch 1 was not run again
    for seed in range(3):
        recs = [json.loads(x) for x in (out / f"sd-darts/seed-{seed}/metrics.jsonl").read_text().splitlines()]
        assert [x["epoch"] for x in recs] == [1, 2, 3]


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory, cifar10_format) -> Path:
    """sd-darts and random, seeds 0 and 1, one worker (the reference)."""
    out = tmp_path_factory.mktemp("serial") / "exp"
    r = cli("run", "--method", "sd-darts,random", "--seeds", "2", "--data-root", cifar10_format, "--out", out, *TINY,
            "-q")
    assert r.returncode == 0, r.stderr
    return out


def test_layout_and_summary(serial_run):
    assert sorted(results(serial_run)) == ["random/seed-0", "random/seed-1", "sd-darts/seed-0", "sd-darts/seed-1"]
    manifest = json.loads((serial_run / "experiment.json").read_text())
    assert manifest["threads_per_run"] == 1 and manifest["workers"] is None
    assert all(v["status"] == "finished" for v in manifest["runs"].values())


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_a_stop_ends_the_workers_and_marks_the_runs_interrupted(tmp_path, cifar10_format, how):
    """``kill`` or a batch scheduler sends SIGTERM to the ``run`` process only; a
    Ctrl-C sends SIGINT to its whole process group, workers included. Either way
    the runs stop at once and experiment.json says "interrupted"."""
    out = tmp_path / "exp"
    args = ["run", "--method", "sd-darts", "--seeds", "2", "--workers", "2", "--data-root", str(cifar10_format),
            "--out", str(out), *TINY[:-1], "epochs=1000", "-q"]
    proc = subprocess.Popen([*NASBENCH_SD, *args], stderr=subprocess.PIPE, text=True, start_new_session=True)
    runs = [out / f"sd-darts/seed-{s}" for s in (0, 1)]
    deadline = time.monotonic() + 180
    while not all((r / "checkpoint.pt").is_file() for r in runs):  # both workers are searching
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.2)
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (143 if how == "sigterm" else 130), err
    what = "terminated (SIGTERM)" if how == "sigterm" else "interrupted"
    assert err.strip().splitlines()[-1].startswith(f"nasbench-sd: {what}; finished work is kept")
    manifest = json.loads((out / "experiment.json").read_text())
    assert manifest["status"] == "interrupted"
    assert [v["status"] for v in manifest["runs"].values()] == ["interrupted", "interrupted"]
    assert not any(is_locked(r) for r in runs)  # no worker is left holding its run
    assert not any((r / "result.json").exists() for r in runs)


def test_two_workers_equal_one(serial_run, tmp_path, cifar10_format):
    out = tmp_path / "exp"
    r = cli("run", "--method", "sd-darts,random", "--seeds", "2", "--workers", "2", "--data-root", cifar10_format,
            "--out", out, *TINY, "-q")
    assert r.returncode == 0, r.stderr
    assert results(out) == results(serial_run)
    assert metrics(out) == metrics(serial_run)


def test_ray_local_equals_serial(serial_run, tmp_path, cifar10_format):
    pytest.importorskip("ray")
    out = tmp_path / "exp"
    r = cli("run", "--method", "sd-darts,random", "--seeds", "2", "--executor", "ray", "--workers", "2",
            "--data-root", cifar10_format, "--out", out, *TINY, "-q", env={**os.environ, "RAY_ADDRESS": ""})
    assert r.returncode == 0, r.stderr
    assert results(out) == results(serial_run)
    assert metrics(out) == metrics(serial_run)
    assert json.loads((out / "experiment.json").read_text())["executor"] == "ray"


def test_ablate_runs_each_value(tmp_path, capsys, cifar10_format):
    out = tmp_path / "abl"
    code, stdout, err = run_cli(capsys, "ablate", "--method", "sd-darts", "--param", "K", "--values", "1,2",
                                "--seeds", "2", "--data-root", cifar10_format, "--out", out, *TINY, "-q")
    assert code == 0, err
    assert sorted(results(out)) == [f"sd-darts-K={v}/seed-{s}" for v in (1, 2) for s in (0, 1)]
    for v in (1, 2):
        cfg = json.loads((out / f"sd-darts-K={v}/seed-0/config.json").read_text())
        assert cfg["method_config"]["K"] == v and cfg["search"]["epochs"] == 2
    import csv

    rows = list(csv.DictReader((out / "ablation-K.csv").open()))
    assert [r["value"] for r in rows] == ["1", "2"] and all(r["n"] == "2" for r in rows)
    for r in rows:
        vals = [json.loads((out / f"sd-darts-K={r['value']}/seed-{s}/result.json").read_text())["benchmark"]
                ["c10_test"] for s in (0, 1)]
        assert float(r["c10_test_mean"]) == pytest.approx(sum(vals) / 2, abs=1e-9)
    for ext in ("png", "pdf"):
        assert (out / f"ablation-K.{ext}").stat().st_size > 1000


def test_failed_run_does_not_stop_the_others(tmp_path, capsys):
    """A run that fails is reported (exit 1, one line, manifest says why); the others finish."""
    from nasbench_sd.errors import RunError
    from nasbench_sd.methods import register, unregister
    from nasbench_sd.methods.random_search import RandomSearch

    class Failing(RandomSearch):
        name = "failing-for-test"

        def genotype(self):
            if self.seed == 1:
                raise RunError("diverged on purpose")
            return super().genotype()

    register(Failing)
    try:
        out = tmp_path / "exp"
        code, _, err = run_cli(capsys, "run", "--method", "failing-for-test,random", "--seeds", "3", "--out", out,
                               "-q")
    finally:
        unregister("failing-for-test")
    assert code == 1 and err.count("\n") == 1 and "1 of 6 runs failed" in err, err
    runs = json.loads((out / "experiment.json").read_text())["runs"]
    assert runs["failing-for-test/seed-1"] == {**runs["failing-for-test/seed-1"], "status": "failed",
                                               "error": "diverged on purpose"}
    assert sum(r["status"] == "finished" for r in runs.values()) == 5
    assert not (out / "failing-for-test/seed-1/result.json").exists()
