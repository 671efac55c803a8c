"""Faults never lose work: divergence keeps the last good checkpoint and the
metrics; a killed search resumes to the same end; a run directory is locked."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from nasbench_sd.errors import RunError, UserError
from nasbench_sd.io import atomic_write_json, checksummed, directory_lock, unframe
from nasbench_sd.methods import get_method, register, unregister
from nasbench_sd.search import run_search
from nasbench_sd.search.rundir import RunDir
from searchkit import tiny_config, tiny_data


@pytest.fixture
def diverging_method():
    """darts-v1 whose loss turns NaN in its second epoch."""
    base = get_method("darts-v1")

    class Diverging(base):
        name = "test-diverging"

        def step(self, batch, ctx):
            stats = super().step(batch, ctx)
            if ctx.epoch == 1:
                stats["train_loss"] = math.nan
            return stats

    register(Diverging)
    yield Diverging.name
    unregister(Diverging.name)


def test_nan_stops_with_clear_error_and_keeps_work(tmp_path, diverging_method):
    cfg = tiny_config(diverging_method, epochs="3")
    with pytest.raises(RunError, match="non-finite train_loss at epoch 2"):
        run_search(cfg, tmp_path / "r", data=tiny_data(), quiet=True)
    run = RunDir(tmp_path / "r")
    assert [r["epoch"] for r in run.metrics()] == [1]
    assert run.load_checkpoint()["epoch"] == 0
    assert not run.is_finished()


def test_nan_in_architecture_parameters_is_caught(tmp_path):
    base = get_method("darts-v1")

    class BadAlpha(base):
        name = "test-bad-alpha"

        def on_epoch_end(self, ctx):
            with torch.no_grad():
                self.alpha[0, 0] = float("inf")

    register(BadAlpha)
    try:
        with pytest.raises(RunError, match="architecture parameters"):
            run_search(tiny_config("test-bad-alpha", epochs="2"), tmp_path / "r", data=tiny_data(), quiet=True)
    finally:
        unregister("test-bad-alpha")


def test_checksum_detects_corruption():
    blob = checksummed(b"payload" * 100)
    assert unframe(blob) == b"payload" * 100
    flipped = bytearray(blob)
    flipped[-5] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        unframe(bytes(flipped))
    with pytest.raises(ValueError):
        unframe(blob[:-10])


def test_both_checkpoints_corrupt_is_an_error_not_a_restart(tmp_path):
    cfg = tiny_config("darts-v1", epochs="3")
    run_search(cfg, tmp_path / "r", data=tiny_data(), quiet=True, max_steps=7)
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (tmp_path / "r" / name).write_bytes(b"garbage")
    before = (tmp_path / "r" / "metrics.jsonl").read_bytes()
    with pytest.raises(UserError, match="no readable checkpoint"):
        run_search(cfg, tmp_path / "r", data=tiny_data(), quiet=True, resume=True)
    assert (tmp_path / "r" / "metrics.jsonl").read_bytes() == before


def test_run_directory_lock(tmp_path):
    with directory_lock(tmp_path):
        with pytest.raises(UserError, match="in use by another"):
            run_search(tiny_config("darts-v1", epochs="1"), tmp_path, data=tiny_data(), quiet=True)
    run_search(tiny_config("darts-v1", epochs="1"), tmp_path, data=tiny_data(), quiet=True)


def test_atomic_write_leaves_old_or_new(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


SEARCH_ARGS = ["search", "-m", "sd-darts", "--preset", "cpu", "--seed", "1", "--quiet", "--device", "cpu",
               "--set", "channels=4", "--set", "train_limit=192", "--set", "batch_size=32", "--set", "epochs=4",
               "--set", "method.warmup=1", "--set", "method.K=2"]


def _search(out, data_root, *extra):
    cmd = [sys.executable, "-m", "nasbench_sd", *SEARCH_ARGS, "--out", str(out), "--data-root", str(data_root),
           *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, cifar10_root):
    full = _search(tmp_path / "full", cifar10_root)
    assert full.wait(timeout=600) == 0, full.stderr.read()
    cut = _search(tmp_path / "cut", cifar10_root)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and cut.poll() is None:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
            time.sleep(0.3)  # into epoch 3
            break
        time.sleep(0.05)
    assert cut.poll() is None, "the run finished before it could be killed"
    os.kill(cut.pid, signal.SIGKILL)
    cut.wait()
    assert not (tmp_path / "cut" / "result.json").exists()
    again = _search(tmp_path / "cut", cifar10_root, "--resume")
    assert again.wait(timeout=600) == 0, again.stderr.read()
    a, b = RunDir(tmp_path / "full"), RunDir(tmp_path / "cut")
    assert a.result()["cell"] == b.result()["cell"]
    for x, y in zip(a.load_checkpoint()["method"]["arch"], b.load_checkpoint()["method"]["arch"]):
        assert torch.equal(x, y)
