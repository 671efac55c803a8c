"""Live logging of a search, opt-in: TensorBoard event files or a Weights & Biases run.

``nasbench-sd search|run|ablate --log tensorboard|wandb [--log-dir DIR]`` (or
``log=`` in the Python API) gives the search loop a :class:`RunLogger`; the
loop calls ``logger.epoch(record)`` once per finished epoch and never knows
which kind it has. Logging is not part of a run's identity: it is no field of
the run's configuration, so a run logged or not is the same run.
"""

from nasbench_sd.loggers.base import LOG_KINDS, LogSpec, RunLogger, check_available
from nasbench_sd.loggers.factory import open_logger

__all__ = ["LOG_KINDS", "LogSpec", "RunLogger", "check_available", "open_logger"]
