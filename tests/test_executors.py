"""The local process pool survives a worker that dies: later runs fail with a message, no traceback."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace

import pytest

from nasbench_sd.experiments.executors import PoolExecutor


def test_runs_submitted_after_a_worker_died_are_reported_failed():
    ex = PoolExecutor(1)
    try:
        killer = ex._pool.submit(os._exit, 3)  # a worker that dies abruptly (as under the OOM killer)
        with pytest.raises(BrokenProcessPool, match="terminated abruptly"):
            killer.result(timeout=60)
        ex.submit(SimpleNamespace(key="sd-darts/seed-1"))  # must not raise
        [(task, outcome)] = ex.wait(0.1)
        assert task.key == "sd-darts/seed-1" and outcome["status"] == "failed"
        assert "worker pool broke" in outcome["error"]
        assert ex.wait(0.1) == []
    finally:
        ex.close()
