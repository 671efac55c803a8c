"""The local process pool outlives its workers: a worker that dies costs only its
own run (reported ``died``, worth a retry), a fresh process takes its place, and
runs waiting in the queue are never touched."""

from __future__ import annotations

import os
import signal
import time

import pytest

from nasbench_sd.experiments.executors import PoolExecutor, exit_reason
from nasbench_sd.experiments.worker import RunTask
from nasbench_sd.presets import build_run_config
from nasbench_sd.testing.faults import FAULT_VAR, MARKER_VAR, fault_env


def random_task(tmp_path, seed: int, attempt: int = 1) -> RunTask:
    cfg = build_run_config("random", "cpu", seed, {})
    return RunTask(label="random", seed=seed, path=str(tmp_path / f"random/seed-{seed}"), config=cfg,
                   attempt=attempt)


def inject(monkeypatch, spec: str, marker) -> None:
    """Put the fault into this process's environment, which spawned workers inherit."""
    for key in (FAULT_VAR, MARKER_VAR):
        monkeypatch.setenv(key, fault_env(spec, marker)[key])


def outcomes(ex: PoolExecutor, n: int, timeout_s: float = 180) -> dict[str, dict]:
    out, deadline = {}, time.monotonic() + timeout_s
    while len(out) < n:
        assert time.monotonic() < deadline, f"only {sorted(out)} came back"
        out.update({task.key: outcome for task, outcome in ex.wait(1.0)})
    return out


def test_a_dead_worker_costs_only_its_run_and_is_replaced(tmp_path, monkeypatch):
    # the worker running seed 1 SIGKILLs itself once its result is written (before reporting it)
    inject(monkeypatch, "result-written@random/seed-1", tmp_path / "marker")
    ex = PoolExecutor(2)
    try:
        before = ex.worker_pids()
        for seed in range(4):
            ex.submit(random_task(tmp_path, seed))
        got = outcomes(ex, 4)
        assert (tmp_path / "marker").read_text() == "result-written 1\n"
        dead = got.pop("random/seed-1")
        assert dead["status"] == "failed" and dead["kind"] == "died" and dead["retry"] is True
        assert "was killed by SIGKILL" in dead["error"], dead["error"]
        assert {k: o["status"] for k, o in got.items()} == {f"random/seed-{s}": "finished" for s in (0, 2, 3)}
        assert ex.replaced == 1 and len(set(ex.worker_pids()) - set(before)) == 1
        # the retry finds the result the dead attempt wrote: the run ends once, with that result
        written = (tmp_path / "random/seed-1/result.json").stat().st_mtime_ns
        monkeypatch.undo()
        ex.submit(random_task(tmp_path, 1, attempt=2))
        again = outcomes(ex, 1)["random/seed-1"]
        assert again["status"] == "finished" and again["result"]["cell"]
        assert (tmp_path / "random/seed-1/result.json").stat().st_mtime_ns == written
    finally:
        ex.close()
    assert all(not p.is_alive() for p in (s.process for s in ex._slots))


def test_a_worker_killed_while_idle_is_replaced_before_it_gets_a_run(tmp_path):
    ex = PoolExecutor(1)
    try:
        (pid,) = ex.worker_pids()
        os.kill(pid, signal.SIGKILL)
        ex._slots[0].process.join(30)
        ex.submit(random_task(tmp_path, 0))
        assert outcomes(ex, 1)["random/seed-0"]["status"] == "finished"
        assert ex.replaced == 1
    finally:
        ex.close()


def test_a_device_error_is_retried_in_a_fresh_process(tmp_path, monkeypatch):
    inject(monkeypatch, "result-written@random/seed-0=device", tmp_path / "marker")
    ex = PoolExecutor(1)
    try:
        (pid,) = ex.worker_pids()
        ex.submit(random_task(tmp_path, 0))
        got = outcomes(ex, 1)["random/seed-0"]
        assert got["kind"] == "device-error" and got["retry"] is True and "CUDA error" in got["error"]
        assert ex.worker_pids() != [pid] and ex.replaced == 1  # its CUDA context may be broken
    finally:
        ex.close()


@pytest.mark.parametrize(("code", "words"), [(-9, "was killed by SIGKILL, as the kernel's out-of-memory killer"),
                                             (-15, "was killed by SIGTERM"), (3, "exited with code 3")])
def test_exit_reasons(code, words):
    assert exit_reason(code).startswith(words)
