"""Progress of one search: a bar over all remaining steps (its ETA is the whole
run's), with the epoch, the last epoch's mean train loss and the current
cell's figure as postfix. It never reads a step's statistics (they may still be
on the GPU; see :mod:`nasbench_sd.search.stepstats`)."""

from __future__ import annotations

import sys
import time
from typing import Any

ETA_AFTER_STEPS = 5


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress:
    """Thin wrapper over tqdm (stderr); ``disable=True`` prints nothing."""

    def __init__(self, total: int, initial_epoch: int, epochs: int, disable: bool = False, label: str = ""):
        self.epochs = epochs
        self.disable = disable
        self._bar = None
        if not disable:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=label, unit="step", file=sys.stderr, leave=False,
                             dynamic_ncols=True, mininterval=0.5)
        self._last: dict[str, Any] = {"epoch": f"{initial_epoch}/{epochs}"}
        self.total, self._steps, self._t0 = total, 0, time.perf_counter()

    def update(self, epoch: int) -> None:
        """One step of ``epoch`` (0-based) done."""
        if self._bar is None:
            return
        self._last["epoch"] = f"{epoch + 1}/{self.epochs}"
        self._bar.set_postfix(self._last, refresh=False)
        self._bar.update(1)
        self._steps += 1
        if self._steps == ETA_AFTER_STEPS:
            per_step = (time.perf_counter() - self._t0) / self._steps
            self._bar.write(f"nasbench-sd: {per_step:.2f} s/step; ETA for the remaining "
                            f"{self.total - self._steps} steps: about {format_duration(per_step * self.total)}",
                            file=sys.stderr)

    def epoch_done(self, record: dict[str, Any]) -> None:
        if self._bar is None:
            return
        if "train_loss" in record:
            self._last["loss"] = f"{record['train_loss']:.3f}"
        self._last["c10_test"] = f"{record['benchmark']['c10_test']:.2f}"
        self._last["free_ops"] = record["num_parameter_free"]
        self._bar.set_postfix(self._last)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
