"""An experiment outlives its workers: a run whose worker dies is started again and
resumes from its checkpoint, to the same result as an uninterrupted run; the
manifest and ``status`` list every attempt; only a run that dies on every attempt
fails, after the others finished. Running out of (GPU) memory is reported as such,
naming what to lower, and is not retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nasbench_sd.testing.faults import fault_env

NASBENCH_SD = [sys.executable, "-c", "from nasbench_sd.cli import main; main()"]
#: darts-v1 on 64 images per half, batch 32: 2 epochs of 2 steps (a checkpoint after step 2).
TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=64", "--set", "batch_size=32",
        "--set", "epochs=2", "-q"]


def run(out, data_root, *extra, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*NASBENCH_SD, "run", "--method", "darts-v1", "--seeds", "3", "--data-root", str(data_root),
                           "--out", str(out), *TINY, *map(str, extra)], capture_output=True, text=True, timeout=900,
                          env=env)


def results(root) -> dict[str, dict]:
    """seed -> (cell, figures, every epoch record without wall times) of each finished run."""
    out = {}
    for p in sorted(root.rglob("result.json")):
        r = json.loads(p.read_text())
        records = [{k: v for k, v in json.loads(line).items() if k != "epoch_seconds"}
                   for line in (p.parent / "metrics.jsonl").read_text().splitlines()]
        out[p.parent.name] = {"cell": r["cell"], "benchmark": r["benchmark"], "records": records}
    return out


def attempts(root) -> dict[str, list[tuple[str, bool]]]:
    """run -> [(outcome, resumed), ...] of every attempt in experiment.json."""
    runs = json.loads((root / "experiment.json").read_text())["runs"]
    return {k: [(a["outcome"], a["resumed"]) for a in v["attempts"]] for k, v in runs.items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cifar10_format):
    out = tmp_path_factory.mktemp("retries") / "exp"
    r = run(out, cifar10_format)
    assert r.returncode == 0, r.stderr
    assert len(results(out)) == 3
    return results(out)


def test_a_killed_worker_costs_nothing(tmp_path, cifar10_format, uninterrupted):
    out, marker = tmp_path / "exp", tmp_path / "marker"
    # seed 1's worker is SIGKILLed after its 3rd step (epoch 2, after epoch 1's checkpoint), once
    r = run(out, cifar10_format, "--workers", "2", env=fault_env("step:3@darts-v1/seed-1", marker, once=True))
    assert r.returncode == 0, r.stderr
    assert marker.read_text() == "step 3\n"
    assert results(out) == uninterrupted  # the resumed run ends where the uninterrupted one ends
    assert attempts(out) == {"darts-v1/seed-0": [("finished", False)], "darts-v1/seed-2": [("finished", False)],
                             "darts-v1/seed-1": [("died", False), ("finished", True)]}
    entry = json.loads((out / "experiment.json").read_text())["runs"]["darts-v1/seed-1"]
    assert entry["status"] == "finished" and "was killed by SIGKILL" in entry["attempts"][0]["reason"]
    status = subprocess.run([*NASBENCH_SD, "status", str(out)], capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    (line,) = [x for x in status.stdout.splitlines() if x.startswith("darts-v1/seed-1: ")]
    assert line.startswith("darts-v1/seed-1: 2 attempts: 1 died (worker process ") and line.endswith("; 2 finished")


def test_a_run_killed_at_every_attempt_fails_after_them_and_the_others_finish(tmp_path, cifar10_format,
                                                                             uninterrupted):
    out = tmp_path / "exp"
    r = run(out, cifar10_format, "--workers", "2", "--retries", "1",
            env=fault_env("step:1@darts-v1/seed-1", tmp_path / "marker"))  # every attempt dies at its first step
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(
        "nasbench-sd: error: 1 of 3 runs failed (darts-v1/seed-1: worker died on all 2 attempts)"), r.stderr
    assert attempts(out) == {"darts-v1/seed-0": [("finished", False)], "darts-v1/seed-2": [("finished", False)],
                             "darts-v1/seed-1": [("died", False), ("died", True)]}
    assert json.loads((out / "experiment.json").read_text())["runs"]["darts-v1/seed-1"]["status"] == "failed"
    assert results(out) == {k: v for k, v in uninterrupted.items() if k != "seed-1"}


def test_out_of_memory_is_named_and_not_retried(tmp_path, cifar10_format, uninterrupted):
    out = tmp_path / "exp"
    r = run(out, cifar10_format, "--workers", "2", env=fault_env("step:2@darts-v1/seed-0=oom", tmp_path / "marker"))
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert "1 of 3 runs failed (darts-v1/seed-0: out of memory)" in r.stderr
    assert "run fewer runs at once per device (--workers, now 2) or lower batch_size" in r.stderr
    entry = json.loads((out / "experiment.json").read_text())["runs"]["darts-v1/seed-0"]
    assert [a["outcome"] for a in entry["attempts"]] == ["out-of-memory"]  # the same settings are not tried again
    assert entry["error"].startswith("out of memory on cpu (CUDA out of memory. Tried to allocate 2.00 GiB")
    assert "lower batch_size (now 32" in entry["error"]
    assert results(out) == {k: v for k, v in uninterrupted.items() if k != "seed-0"}


def test_search_out_of_memory_is_one_line(tmp_path, cifar10_format):
    r = subprocess.run([*NASBENCH_SD, "search", "--method", "darts-v1", "--preset", "cpu", "--data-root",
                        str(cifar10_format), "--out", str(tmp_path / "r"), *TINY], capture_output=True, text=True,
                       timeout=600, env=fault_env("step:3=oom", tmp_path / "marker"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("nasbench-sd: error: out of memory on cpu (CUDA out of memory.")
    assert "lower batch_size (now 32;" in r.stderr and "the last checkpoint in" in r.stderr


def test_ray_retries_a_run_whose_worker_died(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "exp"
    env = {**fault_env("result-written@random/seed-1", tmp_path / "marker", once=True), "RAY_ADDRESS": ""}
    r = subprocess.run([*NASBENCH_SD, "run", "--method", "random", "--seeds", "3", "--executor", "ray", "--workers",
                        "2", "--out", str(out), "-q"], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "marker").is_file()
    tried = attempts(out)
    # the Ray worker died after writing the result: the retry reports that result, so the run ends once
    assert tried.pop("random/seed-1") == [("died", False), ("finished", True)]
    assert tried == {f"random/seed-{s}": [("finished", False)] for s in (0, 2)}
    assert os.path.getsize(out / "random/seed-1/result.json") > 0
