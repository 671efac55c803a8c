"""What a worker does with one run: the same code in-process, in a process pool
or in a Ray task.

A :class:`RunTask` is a small picklable description of one (group, seed) run;
:func:`execute_task` runs it with :func:`nasbench_sd.search.run_search` and
returns an outcome dict instead of raising, so one failed run never stops the
others. Search data are loaded once per worker process and reused by every
run that needs the same data set, split and limit.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench_sd.config import RunConfig
from nasbench_sd.runtime import set_threads

#: Files of a run directory returned by remote workers (see ``return_files``).
SMALL_FILES = ("config.json", "metrics.jsonl", "result.json")

_DATA_CACHE: dict[tuple, Any] = {}


@dataclass(frozen=True)
class RunTask:
    """One run: its resolved configuration and where it goes."""

    label: str
    seed: int
    path: str
    config: RunConfig
    data_root: str | None = None
    resume: bool = False
    quiet: bool = True
    #: torch CPU threads for this run (CPU results depend on it; see ``--threads``); None = leave as is.
    threads: int | None = 1
    #: Return the run's small files with the outcome (Ray without a shared file system).
    return_files: bool = False
    #: Fetch a missing CIFAR data set (verified) before the run.
    download: bool = False

    @property
    def key(self) -> str:
        return f"{self.label}/seed-{self.seed}"


def die_with_parent() -> None:
    """Linux: have the kernel kill this worker when its parent dies (no orphan
    keeps a run directory locked after ``kill -9`` of ``nasbench-sd run``)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass


def init_pool_worker() -> None:
    """Initializer of process-pool workers."""
    die_with_parent()


def search_data(cfg: RunConfig, data_root: str | None, download: bool = False) -> Any:
    """The search data of ``cfg``, loaded once per process and cached; ``None``
    for methods that train no supernet."""
    from nasbench_sd.methods import get_method

    if not get_method(cfg.method).trains_supernet:
        return None
    s = cfg.search
    key = (s.dataset, str(data_root), s.split, s.train_limit, cfg.device)
    if key not in _DATA_CACHE:
        import torch

        from nasbench_sd.data import load_search_data

        _DATA_CACHE.clear()  # keep one data set in memory at a time
        _DATA_CACHE[key] = load_search_data(s.dataset, data_root, s.split, limit=s.train_limit or None,
                                            device=torch.device(cfg.device), download=download)
    return _DATA_CACHE[key]


def execute_task(task: RunTask) -> dict[str, Any]:
    """Run one task; never raises for a failed run (the outcome says why)."""
    from nasbench_sd.errors import RunError, UserError
    from nasbench_sd.search import run_search

    set_threads(task.threads)
    t0 = time.time()
    outcome: dict[str, Any] = {"key": task.key, "status": "failed", "result": None, "error": None}
    try:
        data = search_data(task.config, task.data_root, task.download)
        result = run_search(task.config, task.path, data_root=task.data_root, resume=task.resume,
                            quiet=task.quiet, data=data)
        outcome.update(status="finished", result=result)
    except (UserError, RunError) as e:
        outcome["error"] = str(e)
    except Exception as e:  # noqa: BLE001 - reported per run; the experiment goes on
        outcome["error"] = f"{type(e).__name__}: {e}"
        outcome["traceback"] = traceback.format_exc()
    outcome["wall_time_s"] = round(time.time() - t0, 3)
    if task.return_files:
        outcome["files"] = {name: (Path(task.path) / name).read_text()
                            for name in SMALL_FILES if (Path(task.path) / name).is_file()}
    return outcome
