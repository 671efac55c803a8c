"""Choosing a run's logger: :func:`open_logger`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasbench_sd.loggers.base import LogSpec, NullLogger, RunLogger, check_available


def open_logger(spec: LogSpec | None, run: Any, config: Any) -> RunLogger:
    """The logger of ``spec`` for a run (``run``: its :class:`~nasbench_sd.search.rundir.RunDir`,
    ``config``: its RunConfig); writes nothing until the first epoch."""
    if spec is None:
        return NullLogger()
    check_available(spec.kind)
    folder = Path(spec.dir) if spec.dir is not None else Path(run.path)
    if spec.kind == "tensorboard":
        from nasbench_sd.loggers.tb import TensorBoardLogger

        return TensorBoardLogger(folder, run.metrics, config.to_dict())
    from nasbench_sd.loggers.wb import WandbLogger

    return WandbLogger(folder, run.metrics, config.to_dict())
