"""Where runs execute: in this process, in a local process pool, or as Ray tasks.

Every executor has the same small interface, used by the runner's one loop::

    ex = make_executor("local", workers=2, device="cpu")
    ex.submit(task)                       # start (or queue) a RunTask
    for task, outcome in ex.wait(1.0):    # finished runs, after at most ~1 s
        ...
    ex.close()                            # also on errors and Ctrl-C

``inline`` is True when runs execute in this process (their own per-run
progress bar is drawn directly); otherwise the runner draws per-run bars from
the runs' metrics files. An outcome whose worker died (a process killed, a lost
Ray node) has kind ``died`` and ``retry`` True; the runner decides whether to
submit the run again (``--retries``), resuming from its checkpoint.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.worker import RunTask, execute_task

EXECUTORS = ("local", "ray")


class SerialExecutor:
    """Runs one task at a time in this process (``--workers 1``); the search data
    stay loaded between runs. A run stopped by SIGTERM or Ctrl-C (at a step, with
    its checkpoint) stops the experiment as the signal would have."""

    inline = True

    def __init__(self) -> None:
        self._queue: deque[RunTask] = deque()

    def submit(self, task: RunTask) -> None:
        self._queue.append(task)

    def wait(self, timeout: float) -> list[tuple[RunTask, dict[str, Any]]]:
        import signal

        from nasbench_sd.errors import Terminated

        if not self._queue:
            return []
        task = self._queue.popleft()
        outcome = execute_task(task)
        if outcome.get("kind") == "stopped":  # the signal was meant for this process
            raise Terminated() if outcome.get("signal") == signal.SIGTERM else KeyboardInterrupt()
        return [(task, outcome)]

    def close(self) -> None:
        self._queue.clear()


def visible_gpus() -> list[str]:
    """The GPUs this process may use: the entries of ``CUDA_VISIBLE_DEVICES`` if
    set, else ``0..torch.cuda.device_count()-1``."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def gpu_slots(workers: int, device: str, gpus: list[str]) -> list[str] | None:
    """The GPU each of ``workers`` pool workers is pinned to: round robin over ``gpus``
    for ``--device cuda`` (several workers share a GPU only when there are more
    workers than GPUs); None (no pinning) for the CPU or an explicit ``cuda:N``."""
    if device != "cuda":
        return None
    if not gpus:
        raise UserError("--device cuda, but no GPU is visible (CUDA_VISIBLE_DEVICES is empty?)")
    return [gpus[k % len(gpus)] for k in range(workers)]


def place_workers(workers: int | None, device: str, runs_per_device: int = 1,
                  gpus: list[str] | None = None) -> int | None:
    """The local pool's worker count for ``--runs-per-device N``: N runs share each GPU.

    With N > 1 and ``--device cuda``, ``workers`` defaults to N x the visible GPUs
    (:func:`visible_gpus`, or ``gpus``) and may not exceed it; :func:`gpu_slots`
    then pins them round robin, so no GPU holds more than N. ``cuda:K`` is one
    GPU. On the CPU, N > 1 is refused (runs share the cores: use ``--workers``).
    N = 1 leaves ``workers`` as given."""
    if isinstance(runs_per_device, bool) or not isinstance(runs_per_device, int) or runs_per_device < 1:
        raise UserError(f"--runs-per-device must be a number of runs >= 1, got {runs_per_device!r}")
    if runs_per_device == 1:
        return workers
    if not device.startswith("cuda"):
        raise UserError(f"--runs-per-device shares GPUs between runs; with --device {device} use --workers "
                        "(one process per run)")
    if device == "cuda":
        found = visible_gpus() if gpus is None else gpus
        if not found:
            raise UserError("--device cuda, but no GPU is visible (CUDA_VISIBLE_DEVICES is empty?)")
        count = len(found)
    else:
        count = 1
    capacity = runs_per_device * count
    if workers is None:
        return capacity
    if workers > capacity:
        raise UserError(f"--workers {workers} is more than --runs-per-device {runs_per_device} x {count} GPU"
                        f"{'s' if count > 1 else ''} ({capacity}); lower --workers or raise --runs-per-device")
    return workers


def ray_options(device: str, threads: int, runs_per_device: int = 1) -> dict[str, float]:
    """Resources of one Ray task: on CUDA 1/N GPU (N = ``runs_per_device`` tasks share a
    GPU) and one CPU, else ``threads`` CPUs."""
    if device.startswith("cuda"):
        return {"num_gpus": 1.0 / runs_per_device, "num_cpus": 1}
    return {"num_cpus": max(1, threads)}


def exit_reason(exitcode: int | None) -> str:
    """How a worker process ended, in words (negative exit codes are signals)."""
    import signal

    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        return f"was killed by {name}" + (", as the kernel's out-of-memory killer does" if name == "SIGKILL" else "")
    return f"exited with code {exitcode}"


@dataclass
class _Slot:
    """One worker of a :class:`PoolExecutor`: its process, its pipe, its run."""

    index: int
    gpu: str | None
    process: Any = None
    conn: Any = None
    ready: bool = False  # the worker said it is up (its imports done)
    task: RunTask | None = None  # the run handed to it
    started: bool = False  # the worker said it began that run


class PoolExecutor:
    """``workers`` separate processes (spawned, so CUDA and threads are safe), one
    run at a time each; a worker loads the search data once and keeps them for
    its next runs. A worker that dies (SIGKILL, the OOM killer, a crash) is
    replaced by a fresh process: only the run it had begun is affected, reported
    with kind ``died`` and ``retry``. A run goes to a worker only once that worker
    says it is up, and counts as begun only once the worker says so: a worker that
    dies while starting, idle, or before beginning its run costs no run anything
    (a run handed to it goes to the next worker). With ``--device cuda`` each
    worker slot is pinned to one GPU (:func:`gpu_slots`), its replacements too.

    Messages from a worker: ``{"ready": pid}``, ``{"started": key}``, then the outcome."""

    inline = False
    #: Seconds a stopping run gets to write its checkpoint (at its next step) before its worker is killed.
    STOP_GRACE_S = 60.0

    def __init__(self, workers: int, device: str = "cpu", gpus: list[str] | None = None):
        import multiprocessing

        self._ctx = multiprocessing.get_context("spawn")
        slots = gpu_slots(workers, device, visible_gpus() if gpus is None and device == "cuda" else gpus or [])
        #: the GPU of each worker slot (None: not pinned)
        self.gpu_slots = slots
        self._slots = [_Slot(k, None if slots is None else slots[k]) for k in range(workers)]
        self._queue: deque[RunTask] = deque()
        #: worker processes started to replace dead ones
        self.replaced = 0
        self._closed = False
        for slot in self._slots:
            self._start(slot)

    def _start(self, slot: _Slot) -> None:
        from nasbench_sd.experiments.worker import pool_worker_main

        parent, child = self._ctx.Pipe()
        slot.process = self._ctx.Process(target=pool_worker_main, args=(child, slot.gpu), daemon=True,
                                         name=f"nasbench-sd-worker-{slot.index}")
        slot.process.start()
        child.close()
        slot.conn, slot.ready, slot.task, slot.started = parent, False, None, False

    def _replace(self, slot: _Slot) -> None:
        """A fresh worker in ``slot``; a run handed to the old one but not begun goes back to the queue."""
        if slot.task is not None and not slot.started:
            self._queue.appendleft(slot.task)
        slot.conn.close()
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join()
        self.replaced += 1
        self._start(slot)

    def worker_pids(self) -> list[int]:
        """Process ids of the workers now (for tests and benchmarks that kill them)."""
        return [s.process.pid for s in self._slots]

    def ready_workers(self) -> int:
        """How many workers have said they are up (they are up once :meth:`wait` has read it)."""
        return sum(s.ready for s in self._slots)

    def submit(self, task: RunTask) -> None:
        self._queue.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand queued runs to idle workers that are up (a dead one is replaced instead)."""
        for slot in self._slots:
            if not self._queue or slot.task is not None or not slot.ready:
                continue
            if not slot.process.is_alive():
                self._replace(slot)
                continue
            slot.task, slot.started = self._queue.popleft(), False
            try:
                slot.conn.send(slot.task)
            except OSError:  # died just now: the run waits for the next worker
                self._replace(slot)

    def wait(self, timeout: float) -> list[tuple[RunTask, dict[str, Any]]]:
        from multiprocessing.connection import wait

        self._dispatch()
        watched = [s for s in self._slots if s.task is not None or not s.ready]
        if not watched:
            return []
        ready = set(wait([s.conn for s in watched] + [s.process.sentinel for s in watched], timeout=timeout))
        out = []
        for slot in watched:
            if slot.conn not in ready and slot.process.sentinel not in ready:
                continue
            message = self._receive(slot)
            if message is None and not slot.started:  # gone while starting, idle, or before its run began
                self._replace(slot)
            elif message is None:
                out.append((slot.task, self._died(slot)))
                self._replace(slot)
            elif "ready" in message:
                slot.ready = True
            elif "started" in message:
                slot.started = True
            else:
                out.append((slot.task, message))
                slot.task, slot.started = None, False
                if message.get("kind") == "device-error":  # its worker has ended: a fresh one takes over
                    self._replace(slot)
        self._dispatch()
        return out

    @staticmethod
    def _receive(slot: _Slot) -> dict[str, Any] | None:
        """The worker's next message, or None if it is gone."""
        try:
            if slot.conn.poll():
                return slot.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    @staticmethod
    def _died(slot: _Slot) -> dict[str, Any]:
        slot.process.join(5)
        assert slot.task is not None
        task, slot.task, slot.started = slot.task, None, False
        return {"key": task.key, "status": "failed", "result": None, "kind": "died", "retry": True,
                "error": f"worker process {slot.process.pid} {exit_reason(slot.process.exitcode)} during the run"}

    def close(self) -> None:
        """Cancel queued runs and end the workers. Running runs (an interrupt) get
        SIGTERM: each writes a checkpoint at its next step and its worker exits
        (killed after :attr:`STOP_GRACE_S`); idle workers exit at once."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        running = [s for s in self._slots if s.task is not None and s.process.is_alive()]
        for slot in running:
            slot.process.terminate()
        for slot in self._slots:
            slot.conn.close()  # an idle worker reads the end of its pipe and exits
        deadline = time.monotonic() + (self.STOP_GRACE_S if running else 10.0)
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()


def lock_stamp(run_dir: str) -> tuple[int, bytes] | None:
    """The run directory's lock file as last taken (its mtime and the holder's pid), or None."""
    try:
        p = os.path.join(run_dir, ".lock")
        with open(p, "rb") as f:
            return os.stat(p).st_mtime_ns, f.read()
    except OSError:
        return None


class RayExecutor:
    """One Ray task per run: ``num_gpus=1/N`` when the device is CUDA (N =
    ``--runs-per-device``, :func:`ray_options`), else ``num_cpus`` = the run's
    torch threads. Connects to ``address`` (or ``$RAY_ADDRESS``), else starts a
    local Ray instance. A cluster without GPU resources asked for CUDA is
    refused at once (its tasks would wait forever).

    A task whose worker or node died is reported ``died`` (worth a retry) if its
    run had begun: its run directory's lock was taken since it was submitted.
    If not (the worker died while starting, or before it took the run up), the
    task is sent again here, unreported, up to :attr:`UNSTARTED_RESUBMITS` times.
    (Without a shared file system the driver cannot see the lock: every death
    then counts.)"""

    inline = False
    UNSTARTED_RESUBMITS = 5

    def __init__(self, device: str, address: str | None, threads: int, runs_per_device: int = 1):
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install 'nasbench-sd[ray]' (or 'ray>=2.9')") from None
        self._ray = ray
        address = address or os.environ.get("RAY_ADDRESS") or None
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray and not address and device.startswith("cuda") and not visible_gpus():
            raise UserError("--device cuda, but this machine has no GPU for a local Ray instance (give "
                            "--ray-address of a cluster with GPU nodes, or use --device cpu)")
        if self._owns_ray:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
            except Exception as e:  # noqa: BLE001 - connection problems are the user's to fix
                raise UserError(f"cannot start or reach Ray ({address or 'local'}): {type(e).__name__}: {e}") \
                    from None
        if device.startswith("cuda"):
            self._require_gpus(address)
        options = ray_options(device, threads, runs_per_device)
        self._remote = ray.remote(execute_task).options(max_retries=0, **options)
        self._refs: dict[Any, tuple[RunTask, tuple[int, bytes] | None, int]] = {}
        #: tasks sent again because their worker died before their run began
        self.resubmitted = 0

    def _require_gpus(self, address: str | None) -> None:
        gpus = float(self._ray.cluster_resources().get("GPU", 0))
        if gpus < 1:
            if self._owns_ray:
                self._ray.shutdown()
            where = f"the Ray cluster at {address}" if address else "the local Ray instance"
            raise UserError(f"--device cuda, but {where} has no GPU resources (start Ray on GPU nodes, "
                            "or use --device cpu)")

    def submit(self, task: RunTask, resent: int = 0) -> None:
        self._refs[self._remote.remote(task)] = (task, lock_stamp(task.path), resent)

    def wait(self, timeout: float) -> list[tuple[RunTask, dict[str, Any]]]:
        if not self._refs:
            return []
        done, _ = self._ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        out = []
        for ref in done:
            task, stamp, resent = self._refs.pop(ref)
            try:
                outcome = self._ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a worker or node died (execute_task itself never raises)
                if lock_stamp(task.path) == stamp and resent < self.UNSTARTED_RESUBMITS:  # its run never began
                    self.resubmitted += 1
                    self.submit(task, resent + 1)
                    continue
                outcome = {"key": task.key, "status": "failed", "result": None, "kind": "died", "retry": True,
                           "error": f"Ray task failed: {type(e).__name__}: {(str(e).splitlines() or [''])[0]}"}
            out.append((task, outcome))
        return out

    def close(self) -> None:
        for ref in self._refs:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001, S110 - best effort on shutdown
                pass
        self._refs.clear()
        if self._owns_ray:
            self._ray.shutdown()


def make_executor(kind: str, workers: int | None, device: str, ray_address: str | None = None, threads: int = 1,
                  runs_per_device: int = 1):
    """An executor by name (``local`` or ``ray``); ``workers`` as resolved by :func:`place_workers`."""
    if kind == "local":
        return SerialExecutor() if (workers or 1) == 1 else PoolExecutor(int(workers), device)
    if kind == "ray":
        return RayExecutor(device, ray_address, threads, runs_per_device)
    raise UserError(f"unknown executor {kind!r} (choose from {', '.join(EXECUTORS)})")
