"""Where runs execute: in this process, in a local process pool, or as Ray tasks.

Every executor has the same small interface, used by the runner's one loop::

    ex = make_executor("local", workers=2, device="cpu")
    ex.submit(task)                       # start (or queue) a RunTask
    for task, outcome in ex.wait(1.0):    # finished runs, after at most ~1 s
        ...
    ex.close()                            # also on errors and Ctrl-C

``inline`` is True when runs execute in this process (their own per-run
progress bar is drawn directly); otherwise the runner draws per-run bars from
the runs' metrics files.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.worker import RunTask, execute_task, init_pool_worker

EXECUTORS = ("local", "ray")


class SerialExecutor:
    """Runs one task at a time in this process (``--workers 1``); the search data
    stay loaded between runs."""

    inline = True

    def __init__(self) -> None:
        self._queue: deque[RunTask] = deque()

    def submit(self, task: RunTask) -> None:
        self._queue.append(task)

    def wait(self, timeout: float) -> list[tuple[RunTask, dict[str, Any]]]:
        if not self._queue:
            return []
        task = self._queue.popleft()
        return [(task, execute_task(task))]

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


class PoolExecutor:
    """``workers`` separate processes (spawned, so CUDA and threads are safe); each
    loads the search data once and keeps it for its next runs. With ``--device
    cuda`` each worker is pinned to one GPU (:func:`gpu_slots`)."""

    inline = False

    def __init__(self, workers: int, device: str = "cpu", gpus: list[str] | None = None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        slots = gpu_slots(workers, device, visible_gpus() if gpus is None and device == "cuda" else gpus or [])
        queue = None
        if slots is not None:
            queue = ctx.Queue()
            for gpu in slots:
                queue.put(gpu)
        #: the GPU of each worker, in start order (None: not pinned)
        self.gpu_slots = slots
        self._gpu_queue = queue
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_pool_worker,
                                         initargs=(queue,))
        self._futures: dict[Any, RunTask] = {}
        #: runs refused because the pool broke (a worker died), reported by the next wait()
        self._refused: list[tuple[RunTask, dict[str, Any]]] = []

    def submit(self, task: RunTask) -> None:
        from concurrent.futures.process import BrokenProcessPool

        try:
            self._futures[self._pool.submit(execute_task, task)] = task
        except BrokenProcessPool as e:  # an earlier worker died abruptly: this run fails, the others go on
            self._refused.append((task, {"key": task.key, "status": "failed", "result": None,
                                         "error": f"not started, the worker pool broke: {e}"}))

    def wait(self, timeout: float) -> list[tuple[RunTask, dict[str, Any]]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        if self._refused:
            out, self._refused = self._refused, []
            return out
        if not self._futures:
            return []
        done, _ = wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            task = self._futures.pop(future)
            try:
                outcome = future.result()
            except Exception as e:  # noqa: BLE001 - e.g. a worker killed by the OS
                outcome = {"key": task.key, "status": "failed", "result": None,
                           "error": f"worker process failed: {type(e).__name__}: {e}"}
            out.append((task, outcome))
        return out

    def close(self) -> None:
        """Cancel queued runs; on an interrupt, stop running ones (their runs
        resume next time from their last checkpoint). A Ctrl-C reaches the
        workers too; a SIGTERM reaches only this process, so the workers are
        terminated here, or the interpreter's exit would wait for their runs."""
        interrupted = bool(self._futures)
        for future in self._futures:
            future.cancel()
        if interrupted:
            # ProcessPoolExecutor has no public way to stop its workers before Python 3.14
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                if process.is_alive():
                    process.terminate()
        self._pool.shutdown(wait=not interrupted, cancel_futures=True)


class RayExecutor:
    """One Ray task per run: ``num_gpus=1`` when the device is CUDA, else
    ``num_cpus`` = the run's torch threads. Connects to ``address`` (or
    ``$RAY_ADDRESS``), else starts a local Ray instance. A cluster without GPU
    resources asked for CUDA is refused at once (its tasks would wait forever)."""

    inline = False

    def __init__(self, device: str, address: str | None, threads: int):
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
        options = {"num_gpus": 1, "num_cpus": 1} if device.startswith("cuda") else {"num_cpus": max(1, threads)}
        self._remote = ray.remote(execute_task).options(max_retries=0, **options)
        self._refs: dict[Any, RunTask] = {}

    def _require_gpus(self, address: str | None) -> None:
        gpus = float(self._ray.cluster_resources().get("GPU", 0))
        if gpus < 1:
            if self._owns_ray:
                self._ray.shutdown()
            where = f"the Ray cluster at {address}" if address else "the local Ray instance"
            raise UserError(f"--device cuda, but {where} has no GPU resources (start Ray on GPU nodes, "
                            "or use --device cpu)")

    def submit(self, task: RunTask) -> None:
        self._refs[self._remote.remote(task)] = task

    def wait(self, timeout: float) -> list[tuple[RunTask, dict[str, Any]]]:
        if not self._refs:
            return []
        done, _ = self._ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        out = []
        for ref in done:
            task = self._refs.pop(ref)
            try:
                outcome = self._ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a worker or node died
                outcome = {"key": task.key, "status": "failed", "result": None,
                           "error": f"Ray task failed: {type(e).__name__}: {str(e).splitlines()[0]}"}
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


def make_executor(kind: str, workers: int | None, device: str, ray_address: str | None = None, threads: int = 1):
    """An executor by name (``local`` or ``ray``)."""
    if kind == "local":
        return SerialExecutor() if (workers or 1) == 1 else PoolExecutor(int(workers), device)
    if kind == "ray":
        return RayExecutor(device, ray_address, threads)
    raise UserError(f"unknown executor {kind!r} (choose from {', '.join(EXECUTORS)})")
