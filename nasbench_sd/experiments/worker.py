"""What a worker does with one run: the same code in-process, in a process pool
or in a Ray task.

A :class:`RunTask` is a small picklable description of one (group, seed) run;
:func:`execute_task` runs it with :func:`nasbench_sd.search.run_search` and
returns an outcome dict instead of raising, so one failed run never stops the
others. A :class:`SeedBatchTask` is several seeds of one group trained as one
seed-batched supernet (``run --batch-seeds``); its outcome holds one outcome
per run (:func:`member_outcomes`). Search data are loaded once per worker
process and reused by every run that needs the same data set, split and limit.

Outcome: ``key``, ``status`` (finished | failed | stopped), ``result``,
``error``, ``kind`` (why it did not finish, one of :data:`KINDS`), ``retry``
(True: another attempt may succeed, resuming from the run's checkpoint),
``wall_time_s``, ``gpu``, ``files``. While a run goes on, SIGTERM or SIGINT
stop it at its next step with a checkpoint (``status`` stopped).

GPUs: a pool worker of ``--device cuda`` is pinned to ONE visible GPU before it
touches CUDA (``CUDA_VISIBLE_DEVICES`` set in :func:`init_pool_worker`; the run
then uses ``cuda``, i.e. that GPU), and reports which in its outcome (``gpu``).
A process that only checks the data (the driver) reads them on the CPU.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
from collections.abc import Iterator
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
    #: The run's live log (a nasbench_sd.loggers.LogSpec), or None.
    log: Any = None
    #: 1 for the first attempt at this run in this invocation; more after its worker died.
    attempt: int = 1
    #: The time budget's end (a time.time()): the run stops there at its next step, with a checkpoint.
    deadline: float | None = None

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

    @property
    def label(self) -> str:
        return self.runs[0].label

    @property
    def path(self) -> str:
        """The first seed's run directory (it stands for the batch where one directory is asked for)."""
        return self.runs[0].path

    @property
    def attempt(self) -> int:
        """The batch's attempt (its runs are started, stopped and retried together)."""
        return self.runs[0].attempt

    @property
    def resume(self) -> bool:
        return any(r.resume for r in self.runs)


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


def init_pool_worker(gpu: str | None = None) -> None:
    """Start of a process-pool worker: die with the parent; ignore Ctrl-C between
    runs (the driver stops the pool); with ``gpu`` see only that GPU."""
    import signal

    global _PINNED_GPU
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # during a run, SIGINT stops it at a step (execute_task)
    if gpu is not None:
        _PINNED_GPU = str(gpu)
        os.environ["CUDA_VISIBLE_DEVICES"] = _PINNED_GPU  # before this process first touches CUDA


def pool_worker_main(conn: Any, gpu: str | None = None) -> None:
    """A pool worker: say it is up, then for each :class:`RunTask` received on ``conn``
    say it began and send back its outcome, until the connection closes. After a
    device error the process ends (its CUDA context may be broken): the pool
    starts a fresh one."""
    init_pool_worker(gpu)
    import nasbench_sd.search.loop  # noqa: F401 - torch and the search code, before the worker says it is up

    try:
        conn.send({"ready": os.getpid()})
        while True:
            try:
                task = conn.recv()
            except EOFError:  # the driver closed the pool
                return
            conn.send({"started": task.key})
            outcome = execute_task(task)
            conn.send(outcome)
            if outcome.get("kind") == "device-error":
                return
    except OSError:  # the driver is gone or stopping (a run's files are written before its outcome is sent)
        return


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


#: Why a run did not finish (an outcome's ``kind``): its worker process died (set
#: by the executor), a stop was requested (a signal), the time budget was spent
#: (``--budget``: stopped with a checkpoint, not retried), its checkpoint was
#: refused as unsafe, the disk was full, the device ran out of memory, the device
#: failed (CUDA error), or any other error of the run.
KINDS = ("died", "stopped", "budget", "unsafe-checkpoint", "disk-full", "out-of-memory", "device-error", "failed")
#: The reason a :class:`~nasbench_sd.search.stop.StopRequest` carries when the time budget ends a run.
BUDGET_REASON = "the time budget was spent"


@contextlib.contextmanager
def stop_at(stop: Any, deadline: float | None) -> Iterator[None]:
    """Inside the block, ``stop`` is set at ``deadline`` (a time.time(); None: never)."""
    if deadline is None:
        yield
        return
    timer = threading.Timer(max(0.0, deadline - time.time()), stop.set, args=(BUDGET_REASON,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def execute_task(task: RunTask | SeedBatchTask) -> dict[str, Any]:
    """Run one task; never raises for a failed run (the outcome says why).

    A retried task (``attempt`` > 1) whose run finished in the attempt that died
    (after result.json, before the outcome came back) reports that result: every
    run ends exactly once."""
    from nasbench_sd.search import run_search
    from nasbench_sd.search.rundir import RunDir
    from nasbench_sd.search.stop import StopRequest, stop_on_signals

    if isinstance(task, SeedBatchTask):
        return execute_seed_batch(task)

    set_threads(task.threads)
    t0 = time.time()
    outcome: dict[str, Any] = {"key": task.key, "status": "failed", "result": None, "error": None}
    stop = StopRequest()
    try:
        with stop_on_signals(stop), stop_at(stop, task.deadline):
            if task.attempt > 1 and RunDir(task.path).is_finished():
                outcome.update(status="finished", result=RunDir(task.path).result())
            else:
                data = search_data(task.config, task.data_root, task.download)
                result = run_search(task.config, task.path, data_root=task.data_root, resume=task.resume,
                                    quiet=task.quiet, data=data, log=task.log, stop=stop)
                outcome.update(status="finished", result=result)
    except Exception as e:  # noqa: BLE001 - reported per run; the experiment goes on
        outcome.update(_failure(e, task, stop))
        if stop.signum is not None:
            outcome["signal"] = int(stop.signum)
    return _with_run_facts(outcome, task, t0)


def _with_run_facts(outcome: dict[str, Any], task: RunTask, t0: float) -> dict[str, Any]:
    """``outcome`` plus its wall time since ``t0``, the pinned GPU and (``return_files``) the run's small files."""
    outcome["wall_time_s"] = round(time.time() - t0, 3)
    if _PINNED_GPU is not None:
        outcome["gpu"] = _PINNED_GPU
    if task.return_files:
        outcome["files"] = {name: (Path(task.path) / name).read_text()
                            for name in SMALL_FILES if (Path(task.path) / name).is_file()}
    return outcome


def _failure(e: Exception, task: RunTask, stop: Any = None) -> dict[str, Any]:
    """The outcome fields of a run that raised ``e``: its kind, message, and whether to retry
    (``stop``: the run's stop request; a stop by the time budget is not retried)."""
    import torch

    from nasbench_sd.errors import (
        DiskFullError,
        OutOfMemoryRunError,
        RunError,
        Stopped,
        UnsafeCheckpointError,
        UserError,
    )

    if isinstance(e, Stopped) and stop is not None and stop.reason == BUDGET_REASON:
        return {"status": "stopped", "kind": "budget", "retry": False, "error": f"{BUDGET_REASON}: {e}"}
    kinds = ((Stopped, "stopped"), (UnsafeCheckpointError, "unsafe-checkpoint"), (DiskFullError, "disk-full"),
             (OutOfMemoryRunError, "out-of-memory"), (UserError, "failed"), (RunError, "failed"))
    for cls, kind in kinds:
        if isinstance(e, cls):
            return {"status": "stopped" if kind == "stopped" else "failed", "kind": kind, "error": str(e),
                    "retry": kind == "stopped"}
    if isinstance(e, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)):  # e.g. moving the data
        return {"kind": "out-of-memory", "retry": False,
                "error": f"out of memory on {task.config.device} ({str(e).splitlines()[0][:160]}); lower "
                         "train_limit or run fewer runs at once on this device (--workers)"}
    if is_device_error(e):
        return {"kind": "device-error", "retry": True, "error": f"device error: {str(e).splitlines()[0][:300]}"}
    return {"kind": "failed", "retry": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def is_device_error(e: BaseException) -> bool:
    """A CUDA (accelerator) failure other than running out of memory: the process's
    device context may be broken, a fresh process may succeed."""
    import torch

    accelerator = getattr(torch, "AcceleratorError", None)
    if accelerator is not None and isinstance(e, accelerator):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and any(s in text for s in ("CUDA error", "CUBLAS_STATUS", "cuDNN error"))


def execute_seed_batch(task: SeedBatchTask) -> dict[str, Any]:
    """Run the seeds of ``task`` as one batch (:func:`nasbench_sd.search.run_seed_batch`).

    The outcome holds one outcome per run (``members``), as :func:`execute_task`
    makes them, and the batch's ``status``, ``kind`` and ``retry`` (a batch fails,
    stops and is retried as a whole). A retried batch reports the seeds that
    finished in the attempt that died and trains the others."""
    from nasbench_sd.search import run_seed_batch
    from nasbench_sd.search.rundir import RunDir
    from nasbench_sd.search.stop import StopRequest, stop_on_signals

    first = task.runs[0]
    set_threads(first.threads)
    t0 = time.time()
    members: list[dict[str, Any]] = [{"key": r.key, "status": "failed", "result": None, "error": None}
                                     for r in task.runs]
    outcome: dict[str, Any] = {"key": task.key, "status": "failed", "members": members}
    stop = StopRequest()
    try:
        with stop_on_signals(stop), stop_at(stop, first.deadline):
            todo = []
            for m, r in zip(members, task.runs):
                if r.attempt > 1 and RunDir(r.path).is_finished():
                    m.update(status="finished", result=RunDir(r.path).result())
                else:
                    todo.append((m, r))
            if todo:
                runs = [r for _, r in todo]
                data = search_data(first.config, first.data_root, first.download)
                results = run_seed_batch([r.config for r in runs], [r.path for r in runs],
                                         data_root=first.data_root, resume=any(r.resume for r in runs),
                                         quiet=first.quiet, data=data, logs=[r.log for r in runs], stop=stop)
                for (m, _), result in zip(todo, results):
                    m.update(status="finished", result=result)
        outcome["status"] = "finished"
    except Exception as e:  # noqa: BLE001 - reported per run; the experiment goes on
        failure = _failure(e, first, stop)
        if stop.signum is not None:
            failure["signal"] = int(stop.signum)
        outcome.update(failure)
        for m in members:
            if m["status"] != "finished":
                m.update(failure)
    for m, r in zip(members, task.runs):
        _with_run_facts(m, r, t0)
    return outcome
