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


class PoolExecutor:
    """``workers`` separate processes (spawned, so CUDA and threads are safe); each
    loads the search data once and keeps it for its next runs."""

    inline = False

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=init_pool_worker)
        self._futures: dict[Any, RunTask] = {}

    def submit(self, task: RunTask) -> None:
        self._futures[self._pool.submit(execute_task, task)] = task

    def wait(self, timeout: float) -> list[tuple[RunTask, dict[str, Any]]]:
        from concurrent.futures import FIRST_COMPLETED, wait

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
        """Cancel queued runs; on an interrupt, do not wait for running ones (the
        workers die with this process and their runs resume next time)."""
        interrupted = bool(self._futures)
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=not interrupted, cancel_futures=True)


class RayExecutor:
    """One Ray task per run: ``num_gpus=1`` when the device is CUDA, else
    ``num_cpus`` = the run's torch threads. Connects to ``address`` (or
    ``$RAY_ADDRESS``), else starts a local Ray instance."""

    inline = False

    def __init__(self, device: str, address: str | None, threads: int):
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install 'nasbench-sd[ray]' (or 'ray>=2.9')") from None
        self._ray = ray
        address = address or os.environ.get("RAY_ADDRESS") or None
        self._owns_ray = not ray.is_initialized()
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
        options = {"num_gpus": 1, "num_cpus": 1} if device.startswith("cuda") else {"num_cpus": max(1, threads)}
        self._remote = ray.remote(execute_task).options(max_retries=0, **options)
        self._refs: dict[Any, RunTask] = {}

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
        return SerialExecutor() if (workers or 1) == 1 else PoolExecutor(int(workers))
    if kind == "ray":
        return RayExecutor(device, ray_address, threads)
    raise UserError(f"unknown executor {kind!r} (choose from {', '.join(EXECUTORS)})")
