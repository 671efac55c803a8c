"""What a worker does with one run: the same code in-process, in a process pool
or in a Ray task.

A :class:`RunTask` is a small picklable description of one (group, seed) run;
:func:`execute_task` runs it with :func:`nasbench_sd.search.run_search` and
returns an outcome dict instead of raising, so one failed run never stops the
others. Search data are loaded once per worker process and reused by every
run that needs the same data set, split and limit.

GPUs: a pool worker of ``--device cuda`` is pinned to ONE visible GPU before it
touches CUDA (``CUDA_VISIBLE_DEVICES`` set in :func:`init_pool_worker`; the run
then uses ``cuda``, i.e. that GPU), and reports which in its outcome (``gpu``).
A process that only checks the data (the driver) reads them on the CPU.
"""

from __future__ import annotations

import os
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
#: The GPU this pool worker is pinned to (its CUDA_VISIBLE_DEVICES entry), if any.
_PINNED_GPU: str | None = None


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


@dataclass(frozen=True)
class SeedBatchTask:
    """Runs of one group (its seeds, in order) trained together in one process as one
    seed-batched supernet (``--batch-seeds``); each keeps its run directory."""

    runs: tuple[RunTask, ...]

    @property
    def key(self) -> str:
        return f"{self.runs[0].label}/seeds-{'-'.join(str(r.seed) for r in self.runs)}"


def member_outcomes(task: RunTask | SeedBatchTask, outcome: dict[str, Any]) -> list[tuple[RunTask, dict[str, Any]]]:
    """(run, outcome) of every run of ``task``: a batch's outcome holds one per run
    (``members``); a batch that never ran (its worker died) failed alike for every run."""
    if not isinstance(task, SeedBatchTask):
        return [(task, outcome)]
    members = outcome.get("members")
    if members is None:
        return [(r, {**outcome, "key": r.key}) for r in task.runs]
    return list(zip(task.runs, members))


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


def init_pool_worker(gpus: Any = None) -> None:
    """Initializer of process-pool workers: die with the parent; with ``gpus`` (a
    queue of GPU ids, one per worker) take one and see only that GPU."""
    global _PINNED_GPU
    die_with_parent()
    if gpus is not None:
        _PINNED_GPU = str(gpus.get(timeout=60))
        os.environ["CUDA_VISIBLE_DEVICES"] = _PINNED_GPU  # before this process first touches CUDA


def pinned_gpu() -> str | None:
    """The GPU this process was pinned to by :func:`init_pool_worker` (None: not pinned)."""
    return _PINNED_GPU


def search_data(cfg: RunConfig, data_root: str | None, download: bool = False, device: str | None = None) -> Any:
    """The search data of ``cfg`` on ``device`` (default: the run's), loaded once per
    process and cached; ``None`` for methods that train no supernet. Files are
    read once: a copy on another device is made from the cached one."""
    from nasbench_sd.methods import get_method

    if not get_method(cfg.method).trains_supernet:
        return None
    import torch

    s = cfg.search
    base = (s.dataset, str(data_root), s.split, s.train_limit)
    dev = torch.device(device or cfg.device)
    for key in [k for k in _DATA_CACHE if k[:-1] != base]:  # keep one data set in memory at a time
        del _DATA_CACHE[key]
    if base + (str(dev),) not in _DATA_CACHE:
        if _DATA_CACHE:
            _DATA_CACHE[base + (str(dev),)] = data_on(next(iter(_DATA_CACHE.values())), dev)
        else:
            from nasbench_sd.data import load_search_data

            _DATA_CACHE[base + (str(dev),)] = load_search_data(s.dataset, data_root, s.split,
                                                               limit=s.train_limit or None, device=dev,
                                                               download=download)
    return _DATA_CACHE[base + (str(dev),)]


def data_on(data: Any, device: Any) -> Any:
    """A copy of search data with its tensors on ``device``."""
    import dataclasses

    import torch

    moved = {f.name: getattr(data, f.name).to(device) for f in dataclasses.fields(data)
             if isinstance(getattr(data, f.name), torch.Tensor)}
    return dataclasses.replace(data, **moved)


def execute_task(task: RunTask | SeedBatchTask) -> dict[str, Any]:
    """Run one task; never raises for a failed run (the outcome says why)."""
    from nasbench_sd.errors import RunError, UserError
    from nasbench_sd.search import run_search

    if isinstance(task, SeedBatchTask):
        return execute_seed_batch(task)

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
    if _PINNED_GPU is not None:
        outcome["gpu"] = _PINNED_GPU
    if task.return_files:
        outcome["files"] = {name: (Path(task.path) / name).read_text()
                            for name in SMALL_FILES if (Path(task.path) / name).is_file()}
    return outcome


def execute_seed_batch(task: SeedBatchTask) -> dict[str, Any]:
    """Run the seeds of ``task`` as one batch (:func:`nasbench_sd.search.run_seed_batch`); the
    outcome holds one outcome per run (``members``), as :func:`execute_task` makes them."""
    from nasbench_sd.errors import RunError, UserError
    from nasbench_sd.search import run_seed_batch

    first = task.runs[0]
    set_threads(first.threads)
    t0 = time.time()
    members: list[dict[str, Any]] = [{"key": r.key, "status": "failed", "result": None, "error": None}
                                     for r in task.runs]
    try:
        data = search_data(first.config, first.data_root, first.download)
        results = run_seed_batch([r.config for r in task.runs], [r.path for r in task.runs],
                                 data_root=first.data_root, resume=any(r.resume for r in task.runs), quiet=first.quiet,
                                 data=data)
        for m, result in zip(members, results):
            m.update(status="finished", result=result)
    except (UserError, RunError) as e:
        for m in members:
            m["error"] = str(e)
    except Exception as e:  # noqa: BLE001 - reported per run; the experiment goes on
        for m in members:
            m.update(error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
    for m, r in zip(members, task.runs):
        m["wall_time_s"] = round(time.time() - t0, 3)
        if _PINNED_GPU is not None:
            m["gpu"] = _PINNED_GPU
        if r.return_files:
            m["files"] = {name: (Path(r.path) / name).read_text()
                          for name in SMALL_FILES if (Path(r.path) / name).is_file()}
    ok = all(m["status"] == "finished" for m in members)
    return {"key": task.key, "status": "finished" if ok else "failed", "members": members}
