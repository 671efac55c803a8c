"""Counting host reads of tensors during search steps (on the CPU, no GPU needed).

On a GPU every conversion of a device tensor to a Python value (``float(t)``,
``t.item()``, ``t.tolist()``, ``bool(t)``, ``if t:``, ``int(t)``, using ``t`` as an
index, ``t.numpy()``) makes the host wait until the GPU has run every queued
kernel; on a network as small as the NB201 supernet that idle time decides
the speed. The search loop and the methods therefore read the device at most
once per step (see :mod:`nasbench_sd.search.stepstats`).

:class:`HostReadCounter` patches those conversions on ``torch.Tensor`` and
records each one. On the CPU every tensor is a host tensor, so it counts
every conversion, except:

* those made by ``torch.optim`` (optimisers keep their step counters on the
  host, also on CUDA, and read them there);
* those made through :func:`nasbench_sd.runtime.host_read`, which refuses a
  tensor that is not on the CPU (a method's own generator draws).

:func:`step_reads` runs the real search loop (:func:`nasbench_sd.search.run_search`)
of a method on a few tiny synthetic steps and returns the reads made inside
each ``step()`` and between consecutive steps of an epoch; both must be small
(``<= 1`` and ``0``) for every registered method, built-in or plugin.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from nasbench_sd import runtime

#: The conversions that move a tensor's values to the host.
#: (``__format__`` of a 0-dim tensor and ``__array__`` go through ``item`` and ``numpy``.)
CONVERSIONS = ("item", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__", "__complex__")


@dataclass
class HostReadCounter:
    """Context manager recording every counted conversion as ``(name, where)``
    (``where`` the innermost frame outside torch), between optional markers."""

    events: list[tuple[str, str]] = field(default_factory=list)
    #: count only conversions of tensors that are not on the CPU (for runs on a GPU)
    device_only: bool = False
    _saved: dict[str, Any] = field(default_factory=dict)

    def mark(self, label: str) -> None:
        """Put a marker into the event list (e.g. the start of a step)."""
        self.events.append(("@" + label, ""))

    def __enter__(self) -> HostReadCounter:
        for name in CONVERSIONS:
            original = getattr(torch.Tensor, name, None)
            if original is None:
                continue
            self._saved[name] = original
            setattr(torch.Tensor, name, self._wrap(name, original))
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)
        self._saved.clear()

    def _wrap(self, name: str, original: Any) -> Any:
        counter = self

        def converted(t, *args, **kwargs):
            frame = sys._getframe(1)
            module = frame.f_globals.get("__name__", "")
            exempt = module.startswith("torch.optim") or frame.f_code is runtime.host_read.__code__
            exempt = exempt or (counter.device_only and t.device.type == "cpu")
            if not exempt:
                counter.events.append((name, _where()))
            return original(t, *args, **kwargs)

        converted.__name__ = name
        return converted


def _where() -> str:
    """The innermost caller outside torch and this module (file:line function)."""
    for fs in reversed(traceback.extract_stack()[:-2]):
        if "/torch/" not in fs.filename and not fs.filename.endswith("hostreads.py"):
            return f"{fs.filename}:{fs.lineno} {fs.name}"
    return "?"


@dataclass(frozen=True)
class StepReads:
    """Reads found by :func:`step_reads`."""

    #: per step (in order): the reads made inside ``method.step``
    in_step: list[list[tuple[str, str]]]
    #: per pair of consecutive steps of one epoch: the reads the loop made between them
    between_steps: list[list[tuple[str, str]]]


def tiny_search_data(n: int = 24, size: int = 8, seed: int = 0):
    """Random synthetic CIFAR-10-like search data: ``n`` images per half of ``size``² pixels."""
    from nasbench_sd.data import SearchData

    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (2 * n,), generator=g)
    images = torch.randint(0, 256, (2 * n, 3, size, size), generator=g, dtype=torch.uint8)
    idx = torch.arange(2 * n)
    return SearchData(dataset="cifar10", split="official", train_images=images[:n], train_labels=labels[:n],
                      train_index=idx[:n], valid_images=images[n:], valid_labels=labels[n:], valid_index=idx[n:],
                      num_classes=10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), padding=1, limit=n)


def step_reads(method: str, epochs: int = 2, steps_per_epoch: int = 3, seed: int = 0,
               device: str = "cpu") -> StepReads:
    """Run ``method``'s search (tiny network, ``contract_overrides`` applied so its
    own terms are active) through the real loop and sort the counted reads.

    On a GPU (``device="cuda"``) only conversions of GPU tensors are counted,
    plus every synchronising CUDA call inside ``step`` that torch's sync debug
    mode reports (``("cuda-sync", message)``)."""
    from nasbench_sd.experiments.worker import data_on
    from nasbench_sd.methods import get_method
    from nasbench_sd.presets import build_run_config
    from nasbench_sd.search import loop

    cls = get_method(method)
    batch = 8
    sets = {"channels": "4", "cells_per_stage": "1", "batch_size": str(batch), "epochs": str(epochs),
            "hessian_every": "0"}
    cfg = build_run_config(method, "cpu", seed, sets, device=device)
    if cls.contract_overrides:
        cfg = dataclasses.replace(cfg, method_config=dataclasses.replace(cfg.method_config,
                                                                          **cls.contract_overrides))
    cuda = torch.device(device).type == "cuda"
    counter = HostReadCounter(device_only=cuda)
    real_create = loop.create_method

    def create(*args: Any, **kwargs: Any):
        m = real_create(*args, **kwargs)
        real_step = m.step

        def step(batch, ctx):
            counter.mark(f"start {ctx.epoch}")
            if cuda:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    torch.cuda.set_sync_debug_mode("warn")
                    try:
                        out = real_step(batch, ctx)
                    finally:
                        torch.cuda.set_sync_debug_mode(0)
                counter.events += sync_events(caught)
            else:
                out = real_step(batch, ctx)
            counter.mark(f"end {ctx.epoch}")
            return out

        m.step = step
        return m

    loop.create_method = create
    try:
        with tempfile.TemporaryDirectory() as tmp, counter:
            data = data_on(tiny_search_data(steps_per_epoch * batch), torch.device(device))
            loop.run_search(cfg, tmp, data=data, quiet=True)
    finally:
        loop.create_method = real_create
    return _sort(counter.events)


def sync_events(caught: list[warnings.WarningMessage]) -> list[tuple[str, str]]:
    """``("cuda-sync", where)`` for each warning of torch's sync debug mode that reports a
    synchronising call; the one-time notice that the mode is a prototype is not a call."""
    return [("cuda-sync", f"{str(w.message).splitlines()[0]} ({w.filename}:{w.lineno})") for w in caught
            if "synchronizing" in str(w.message) and "prototype feature" not in str(w.message)]


def _sort(events: list[tuple[str, str]]) -> StepReads:
    in_step: list[list[tuple[str, str]]] = []
    between: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] | None = None
    gap: list[tuple[str, str]] | None = None
    last_epoch = None
    for name, where in events:
        if name.startswith("@start"):
            epoch = name.split()[1]
            if gap is not None and epoch == last_epoch:
                between.append(gap)
            current, gap = [], None
        elif name.startswith("@end"):
            in_step.append(current or [])
            current, gap, last_epoch = None, [], name.split()[1]
        elif current is not None:
            current.append((name, where))
        elif gap is not None:
            gap.append((name, where))
    return StepReads(in_step, between)


__all__ = ["CONVERSIONS", "HostReadCounter", "StepReads", "step_reads", "sync_events", "tiny_search_data"]
