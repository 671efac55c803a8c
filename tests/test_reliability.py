"""Faults never lose work: divergence keeps the last good checkpoint and the
metrics; a killed search resumes to the same end; a run directory is locked."""

from __future__ import annotations

import math
import signal
import subprocess
import sys

import pytest
import torch

from nasbench_sd.errors import RunError, UserError
from nasbench_sd.io import atomic_write_json, checksummed, directory_lock, unframe
from nasbench_sd.methods import get_method, register, unregister
from nasbench_sd.search import run_search
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.contract import single_thread
from nasbench_sd.testing.faults import Fault, fault_env, parse_fault
from searchkit import STATE, TINY, assert_same_end, run_search_process, tiny_config, tiny_data


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
    with pytest.raises(ValueError, match="checksum mismatch"):
        unframe(blob[:-10])
    with pytest.raises(ValueError, match="bad header"):
        unframe(blob[:20])


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


def test_atomic_write_failing_replace_or_write_keeps_old_content(tmp_path, monkeypatch):
    import errno

    from nasbench_sd import io as nio

    target = tmp_path / "result.json"
    atomic_write_json(target, {"a": 1})
    before = target.read_bytes()

    def refuse(*args):
        raise OSError(errno.EXDEV, "replace refused by the test")

    monkeypatch.setattr(nio.os, "replace", refuse)
    with pytest.raises(OSError, match="replace refused"):
        atomic_write_json(target, {"a": 2})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]

    def io_error(fd):
        raise OSError(errno.EIO, "input/output error (test)")

    monkeypatch.setattr(nio.os, "fsync", io_error)  # the data cannot be made durable
    with pytest.raises(OSError, match="input/output error"):
        atomic_write_json(target, {"a": 3})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    with pytest.raises(TypeError, match="not JSON serialisable"):
        atomic_write_json(target, {"a": object()})
    assert target.read_bytes() == before


def test_writer_killed_mid_write_leaves_old_content(tmp_path):
    target = tmp_path / "config.json"
    atomic_write_json(target, {"a": 1})
    before = target.read_bytes()
    marker = tmp_path.parent / f"{tmp_path.name}-marker"
    code = (f"from nasbench_sd.io import atomic_write_json; atomic_write_json({str(target)!r}, "
            "{'a': 2, 'pad': 'x' * 100000})")
    proc = subprocess.run([sys.executable, "-c", code], env=fault_env("written/config.json", marker),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert marker.read_text() == "written/config.json 1\n"
    assert target.read_bytes() == before
    (left,) = [p for p in tmp_path.iterdir() if p.name != "config.json"]  # the dead writer's temp file
    assert left.name.startswith(".config.json.") and left.name.endswith(".tmp") and left.stat().st_size > 100000
    RunDir(tmp_path).prepare({"a": 1}, resume=True)  # the next run (holding the lock) removes it
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"] and target.read_bytes() == before


def test_fault_specs():
    assert parse_fault("step:5") == Fault("step", 5)
    assert parse_fault("written/result.json") == Fault("written/result.json", 1)
    assert parse_fault("checkpoint-rotated:2") == Fault("checkpoint-rotated", 2)
    assert parse_fault("step:2@darts-v1/seed-1=term") == Fault("step", 2, "darts-v1/seed-1", "term")
    assert parse_fault("result-written@seed-0=oom") == Fault("result-written", 1, "seed-0", "oom")
    with pytest.raises(ValueError, match="unknown place 'nowhere'"):
        parse_fault("nowhere:3")
    with pytest.raises(ValueError, match="count must be >= 1"):
        parse_fault("step:0")
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        parse_fault("step=explode")


#: sd-darts on tiny data: 4 epochs of 3 steps; its teacher store is part of the checkpoint.
KILL_RUN = ("sd-darts", {**TINY, "epochs": "4", "method.warmup": "1", "method.K": "2"})

#: (fault, finished epochs in metrics.jsonl after the kill, checkpoint files left, files left mid-write)
INJECTED = [
    ("step:2", 0, [], []),  # mid-epoch 1: nothing checkpointed yet
    ("checkpoint-rotated", 2, ["checkpoint.prev.pt"], []),  # end of epoch 2: only the previous one exists
    ("written/checkpoint.pt", 2, ["checkpoint.prev.pt"], ["checkpoint.pt"]),  # epoch 2 again, mid-write
    ("metrics-appended:2", 3, ["checkpoint.prev.pt", "checkpoint.pt"], []),  # epoch 3 recorded, not checkpointed
    ("written/result.json", 4, ["checkpoint.prev.pt", "checkpoint.pt"], ["result.json"]),  # inside the result write
]


def test_injected_kills_then_resume_match_uninterrupted(tmp_path):
    method, sets = KILL_RUN
    cut = tmp_path / "cut"
    for i, (fault, epochs_done, checkpoints, temps) in enumerate(INJECTED):
        marker = tmp_path / f"marker-{i}"
        proc = run_search_process(cut, method, sets, resume=i > 0, env=fault_env(fault, marker))
        assert proc.returncode == -signal.SIGKILL, f"{fault}: not killed (exit {proc.returncode}) {proc.stderr}"
        place, _, count = fault.partition(":")
        assert marker.read_text() == f"{place} {count or 1}\n", fault
        assert [r["epoch"] for r in RunDir(cut).metrics()] == list(range(1, epochs_done + 1)), fault
        assert sorted(p.name for p in cut.glob("checkpoint*")) == checkpoints, fault
        assert sorted(p.name[1:].rsplit(".", 2)[0] for p in cut.glob(".*.tmp")) == temps, fault
        assert not RunDir(cut).is_finished()
    last = run_search_process(cut, method, sets, resume=True)
    assert last.returncode == 0, last.stderr
    assert not list(cut.glob(".*.tmp"))
    with single_thread():
        run_search(tiny_config(method, **sets), tmp_path / "full", data=tiny_data(), quiet=True)
    # (the global RNG state is the caller's, not the run's: this process's differs from a fresh one's)
    assert_same_end(RunDir(tmp_path / "full"), RunDir(cut), keys=tuple(k for k in STATE if k != "torch_rng"))
