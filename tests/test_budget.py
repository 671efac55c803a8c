"""A time budget (``run --budget SECONDS``, a lent GPU window): at its end the
running runs stop at a step with a checkpoint (status stopped, never retried),
no other run starts, the experiment says ``budget-spent``, and the same command
without a budget finishes every run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NASBENCH_SD = [sys.executable, "-c", "import torch; torch.set_num_threads(1); from nasbench_sd.cli import main; main()"]
TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=128", "--set", "batch_size=32",
        "--set", "epochs=200", "-q"]  # far longer than the budget on any machine


def run(out, data_root, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([*NASBENCH_SD, "run", "-m", "darts-v1", "--seeds", "3", "--device", "cpu", "--data-root",
                           str(data_root), "--out", str(out), *TINY, *map(str, extra)], capture_output=True, text=True,
                          timeout=900)


def test_a_spent_budget_stops_runs_with_checkpoints_and_starts_no_more(tmp_path, cifar10_format):
    out = tmp_path / "exp"
    r = run(out, cifar10_format, "--budget", 6)
    assert r.returncode == 0, r.stderr
    assert "time budget of 6 s spent: 1 runs stopped with a checkpoint, 2 not started" in r.stdout
    manifest = json.loads((out / "experiment.json").read_text())
    assert manifest["status"] == "budget-spent" and manifest["budget_deadline"]
    runs = manifest["runs"]
    stopped = runs["darts-v1/seed-0"]
    assert stopped["status"] == "stopped" and [a["outcome"] for a in stopped["attempts"]] == ["budget"]
    assert (out / "darts-v1/seed-0/checkpoint.pt").is_file()
    for seed in (1, 2):
        assert runs[f"darts-v1/seed-{seed}"]["status"] == "pending"
        assert "budget" in runs[f"darts-v1/seed-{seed}"]["note"] and not (out / f"darts-v1/seed-{seed}").exists()
    status = subprocess.run([*NASBENCH_SD, "status", str(out)], capture_output=True, text=True, timeout=300)
    assert status.returncode == 0 and "stopped" in status.stdout


@pytest.mark.parametrize("budget", ["0", "-5"])
def test_a_budget_must_be_positive(tmp_path, cifar10_format, budget):
    r = run(tmp_path / "exp", cifar10_format, "--budget", budget)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--budget" in r.stderr
    assert not (tmp_path / "exp").exists()
