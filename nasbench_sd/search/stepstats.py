"""Step statistics of one epoch, accumulated where they are computed.

A method's ``step()`` returns a dict of floats or detached 0-dim tensors (see
:mod:`nasbench_sd.methods.base`). Reading a GPU tensor from the host
(``float(t)``, ``t.item()``, ``bool(t)``) waits for every queued kernel, so
on a small network the GPU idles while the host prepares the next step. The
loop therefore never reads a step's statistics: :class:`EpochStats` adds them
up on their device (in float64, so the epoch means equal those of a host sum of
``float(v) * n`` bit for bit) together with the first step at which a
statistic or an architecture parameter was not finite, and everything is read
in ONE transfer at the end of the epoch (:meth:`EpochStats.read`).

A non-finite value is therefore noticed at the end of its epoch, not at its
step: the run then stops before that epoch's checkpoint is written, so the
last good checkpoint (the previous epoch's) is kept, and the error names the
first step that went wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

#: Sentinel of "no non-finite value seen" (larger than any step number).
NONE_BAD = 2**62


@dataclass(frozen=True)
class EpochSummary:
    """What :meth:`EpochStats.read` found: per-key means, and the first bad step if any."""

    means: dict[str, float]
    #: 0-based step of the first non-finite statistic or architecture parameter, or None.
    bad_step: int | None
    #: The statistics that were not finite at ``bad_step`` (empty: the architecture parameters were).
    bad_keys: tuple[str, ...]


class EpochStats:
    """Sums of ``v * n`` per statistic and the first non-finite step, kept on the device."""

    def __init__(self, state: dict[str, Any] | None = None, device: torch.device | str | None = None) -> None:
        """Empty, or (``state`` from :meth:`state_dict`) the first steps of an epoch that
        was stopped part-way, its tensors put on ``device``."""
        def on_device(v: Any) -> Any:
            return v.to(device) if isinstance(v, torch.Tensor) and device is not None else v

        state = state or {}
        self.sums: dict[str, float | torch.Tensor] = {k: on_device(v) for k, v in state.get("sums", {}).items()}
        self.n_seen = int(state.get("n_seen", 0))
        #: per key (and "" for the architecture parameters): first bad step (host int or device tensor)
        self.first_bad: dict[str, int | torch.Tensor] = {k: on_device(v)
                                                         for k, v in state.get("first_bad", {}).items()}

    def state_dict(self) -> dict[str, Any]:
        """The sums so far as CPU tensors and numbers (a mid-epoch checkpoint's part);
        reading it copies the device's values, so it is taken only when a run stops."""
        def on_cpu(v: Any) -> Any:
            return v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v

        return {"sums": {k: on_cpu(v) for k, v in self.sums.items()}, "n_seen": self.n_seen,
                "first_bad": {k: on_cpu(v) for k, v in self.first_bad.items()}}

    def add(self, stats: dict[str, float | torch.Tensor], n: int, step: int,
            arch: list[torch.Tensor] | tuple[torch.Tensor, ...] = ()) -> None:
        """Add one step's statistics (``n`` samples) and check them and ``arch`` for
        non-finite values; reads nothing from the device."""
        for k, v in stats.items():
            if isinstance(v, torch.Tensor):
                v = v.detach().to(torch.float64)
                self.sums[k] = self.sums.get(k, 0.0) + v * n
                self._flag(k, ~torch.isfinite(v), step)
            else:
                self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
                if not math.isfinite(float(v)):
                    self._flag(k, True, step)
        self.n_seen += n
        self.check_arch(arch, step)

    def check_arch(self, arch: list[torch.Tensor] | tuple[torch.Tensor, ...], step: int) -> None:
        """Remember ``step`` if some architecture parameter is not finite (no read)."""
        if arch:
            bad = ~torch.stack([torch.isfinite(p.detach()).all().to(arch[0].device) for p in arch]).all()
            self._flag("", bad, step)

    def _flag(self, key: str, bad: bool | torch.Tensor, step: int) -> None:
        old = self.first_bad.get(key, NONE_BAD)
        if isinstance(bad, torch.Tensor):
            if not isinstance(old, torch.Tensor):
                old = torch.full((), old, dtype=torch.int64, device=bad.device)
            self.first_bad[key] = torch.where(bad & (old == NONE_BAD), step, old)
        elif bad and (isinstance(old, torch.Tensor) or old == NONE_BAD):
            self.first_bad[key] = torch.where(old == NONE_BAD, step, old) if isinstance(old, torch.Tensor) else step

    def read(self) -> EpochSummary:
        """The epoch's means and first bad step, with one device-to-host transfer."""
        keys = list(self.sums)
        bad_keys = list(self.first_bad)
        values = [self.sums[k] for k in keys] + [self.first_bad[k] for k in bad_keys]
        host = _to_host(values)
        sums, firsts = host[:len(keys)], [int(v) for v in host[len(keys):]]
        means = {k: s / self.n_seen for k, s in zip(keys, sums)} if self.n_seen else {}
        step = min((f for f in firsts if f != NONE_BAD), default=None)
        if step is None:
            return EpochSummary(means, None, ())
        named = tuple(k for k, f in zip(bad_keys, firsts) if f == step and k)
        return EpochSummary(means, step, named)


def _to_host(values: list[float | int | torch.Tensor]) -> list[float]:
    """Python numbers of ``values`` (device tensors fetched in one transfer per device)."""
    out: list[float] = [0.0] * len(values)
    by_device: dict[torch.device, list[int]] = {}
    for i, v in enumerate(values):
        if isinstance(v, torch.Tensor):
            by_device.setdefault(v.device, []).append(i)
        else:
            out[i] = v
    for idx in by_device.values():
        # float64 holds every sum exactly as computed and every step number (< 2**53) exactly
        fetched = torch.stack([values[i].to(torch.float64) for i in idx]).tolist()
        for i, x in zip(idx, fetched):
            out[i] = x
    return out
