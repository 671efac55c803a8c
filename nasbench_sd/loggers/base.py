"""The logger interface of the search loop, and how a logger is chosen.

Call protocol (what the loop calls, when):

* the logger is made before the run directory is touched (:func:`open_logger`:
  a missing package fails here, with one line naming the extra to install);
* ``epoch(record)`` once per finished epoch, after the epoch's record is in
  metrics.jsonl and before its checkpoint is written, with that record;
* ``close()`` once when the run ends, finished, stopped or failed (the logger is
  a context manager).

Resumed runs: a run killed after an epoch was logged but before its checkpoint
redoes that epoch, and a run may be logged only from a resume on. On its first
``epoch`` call a logger therefore catches up from the run's own metrics.jsonl
(``history``) so that every epoch appears once, at global step = epoch
(1-based), whatever happened before.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError

#: Kinds of live log; each needs its own package, installed as an extra of the same name.
LOG_KINDS = ("tensorboard", "wandb")
_PACKAGE = {"tensorboard": "tensorboard", "wandb": "wandb"}


@dataclass(frozen=True)
class LogSpec:
    """Where a run's live log goes: ``kind`` (tensorboard | wandb) into ``dir``
    (None: the run directory itself). Picklable, for worker processes."""

    kind: str
    dir: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in LOG_KINDS:
            raise UserError(f"unknown --log {self.kind!r} (choose from {', '.join(LOG_KINDS)})")

    def below(self, relative: str) -> LogSpec:
        """The spec of one run of an experiment: ``dir/relative`` when a folder is given."""
        return self if self.dir is None else replace(self, dir=str(Path(self.dir) / relative))


def check_available(kind: str) -> None:
    """One line naming the extra when the package of ``kind`` is not installed (imports nothing)."""
    package = _PACKAGE[LogSpec(kind).kind]
    if importlib.util.find_spec(package) is None:
        raise UserError(f"--log {kind} needs the {package} package: pip install 'nasbench-sd[{kind}]' "
                        f"(or pip install {package})")


class RunLogger(ABC):
    """A live view of one run (see the module docstring for the call protocol)."""

    @abstractmethod
    def epoch(self, record: dict[str, Any]) -> None:
        """Log one finished epoch's record (the metrics.jsonl line); step = ``record["epoch"]``."""

    def close(self) -> None:
        """Flush and release files; called once, also when the run stops on an error."""
        return None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullLogger(RunLogger):
    """No live log (the default)."""

    def epoch(self, record: dict[str, Any]) -> None:
        pass


class CatchingUp(RunLogger):
    """A logger that writes each epoch once: on its first call it first writes the
    epochs of ``history`` it has not written yet (:meth:`logged` says which)."""

    def __init__(self, folder: Path, history: Callable[[], list[dict[str, Any]]], config: dict[str, Any]):
        self.folder, self.history, self.config = folder, history, config
        self._open = False

    def epoch(self, record: dict[str, Any]) -> None:
        if not self._open:
            self._open = True
            done = self.start()
            for earlier in self.history():
                if done < int(earlier["epoch"]) < int(record["epoch"]):
                    self.write(earlier)
        self.write(record)

    @abstractmethod
    def start(self) -> int:
        """Open the log; return the last epoch already in it (0: none)."""

    @abstractmethod
    def write(self, record: dict[str, Any]) -> None:
        """Write one epoch (at step ``record["epoch"]``) and make it durable."""
