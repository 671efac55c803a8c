"""TensorBoard event files (``pip install 'nasbench-sd[tensorboard]'``).

Per epoch (global step = epoch): every scalar of :func:`~nasbench_sd.loggers.content.scalars`,
the op probabilities as an image (``op_probs``), the derived cell as text
(``cell``); the configuration as text (``config``) at step 1. Flushed after
every epoch, so a killed run loses nothing it logged.

Every invocation opens its writer with ``purge_step=1`` (a session start at
step 1) and writes the run's whole history again: TensorBoard takes a later
session start as a restart and drops the earlier files' events from step 1
on (its purge of orphaned data), so an epoch logged by a killed process and
redone after the resume appears once, and a run first logged on a resume
shows every epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasbench_sd.loggers.base import CatchingUp
from nasbench_sd.loggers.content import OP_IMAGE_CAPTION, cell_text, config_text, op_image, scalars


class TensorBoardLogger(CatchingUp):
    def __init__(self, folder: Path, history: Callable[[], list[dict[str, Any]]], config: dict[str, Any]):
        super().__init__(folder, history, config)
        self._writer: Any = None

    def start(self) -> int:
        from torch.utils.tensorboard import SummaryWriter

        from nasbench_sd.io import ensure_writable_dir

        ensure_writable_dir(self.folder)
        # every invocation starts a session at step 1: TensorBoard takes a later session's
        # start as a restart and drops the earlier files' events from that step on
        self._writer = SummaryWriter(str(self.folder), purge_step=1, flush_secs=3600)
        self._writer.add_text("config", config_text(self.config), 1)
        return 0  # the whole history is written again (see the module docstring)

    def write(self, record: dict[str, Any]) -> None:
        step = int(record["epoch"])
        for name, value in scalars(record).items():
            self._writer.add_scalar(name, value, step)
        image = op_image(record)
        if image is not None:
            self._writer.add_image("op_probs", image, step, dataformats="HWC")
            if step == 1:
                self._writer.add_text("op_probs_layout", OP_IMAGE_CAPTION, step)
        self._writer.add_text("cell", cell_text(record), step)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
