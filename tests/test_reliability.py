"""Faults never lose work: divergence keeps the last good checkpoint and the
metrics; a killed search resumes to the same end; a run directory is locked."""

from __future__ import annotations

import json
import math
import subprocess

import pytest
import torch

from nasbench_sd.errors import RunError, UserError
from nasbench_sd.io import atomic_write_json, checksummed, directory_lock, unframe
from nasbench_sd.methods import get_method, register, unregister
from nasbench_sd.search import run_search
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.faults import Kill, run_with_kills, search_command
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


SEARCH_ARGS = ["-m", "sd-darts", "--preset", "cpu", "--seed", "1", "--quiet", "--device", "cpu",
               "--set", "channels=4", "--set", "train_limit=192", "--set", "batch_size=32", "--set", "epochs=4",
               "--set", "method.warmup=1", "--set", "method.K=2"]


def test_sigkill_at_several_points_then_resume_matches_uninterrupted(tmp_path, cifar10_format):
    args = [*SEARCH_ARGS, "--data-root", str(cifar10_format)]
    full = subprocess.run(search_command(args, tmp_path / "full", resume=False), capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    kills = [Kill(0, 0.2), Kill(1, during_checkpoint=True), Kill(2, 0.3), Kill(3, during_checkpoint=True)]
    reports = run_with_kills(args, tmp_path / "cut", kills)
    assert sum(r.killed for r in reports) >= 3
    assert not list((tmp_path / "cut").glob(".*.tmp"))
    a, b = RunDir(tmp_path / "full"), RunDir(tmp_path / "cut")
    assert a.result()["cell"] == b.result()["cell"]
    for x, y in zip(a.load_checkpoint()["method"]["arch"], b.load_checkpoint()["method"]["arch"]):
        assert torch.equal(x, y)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rs]  # noqa: E731
    assert strip(a.metrics()) == strip(b.metrics())
