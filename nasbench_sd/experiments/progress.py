"""Progress of an experiment: one bar over runs, and one bar per running run.

Runs executed in this process draw their own per-step bar
(:class:`nasbench_sd.search.progress.Progress`). For runs in other processes or
on Ray nodes, the per-run bars count the finished epochs in each run's
``metrics.jsonl`` (polled about once a second).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from nasbench_sd.experiments.worker import RunTask


def count_epochs(run_dir: str | Path) -> int:
    """Finished epochs of a run = complete lines of its metrics.jsonl."""
    p = Path(run_dir) / "metrics.jsonl"
    try:
        with open(p, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


class ExperimentProgress:
    """tqdm bars on stderr; ``disable=True`` prints nothing."""

    def __init__(self, total: int, initial: int, disable: bool, inline: bool, label: str = "runs"):
        self.disable, self.inline = disable, inline
        self._bar = None
        self._inner: dict[str, Any] = {}
        self._tqdm = None
        if not disable:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
            self._bar = tqdm(total=total, initial=initial, desc=label, unit="run", file=sys.stderr,
                             dynamic_ncols=True, leave=True)

    def started(self, task: RunTask) -> None:
        """A run was sent to a worker."""
        if self._bar is None or self.inline:
            return
        epochs = task.config.search.epochs
        self._inner[task.key] = (self._tqdm(total=epochs, initial=min(epochs, count_epochs(task.path)),
                                            desc=task.key, unit="epoch", file=sys.stderr, leave=False,
                                            dynamic_ncols=True), task.path)

    def retried(self, task: RunTask, outcome: dict[str, Any], attempts: int) -> None:
        """A run's attempt ended in a way worth another (its worker died): it goes again."""
        inner = self._inner.pop(task.key, None)
        if inner is not None:
            inner[0].close()
        if self._bar is not None:
            self._bar.write(f"nasbench-sd: run {task.key}, attempt {task.attempt} of {attempts}: "
                            f"{outcome.get('error')}; starting it again from its last checkpoint", file=sys.stderr)

    def poll(self) -> None:
        """Refresh the per-run bars from the metrics files."""
        for bar, path in self._inner.values():
            n = min(bar.total, count_epochs(path))
            if n != bar.n:
                bar.update(n - bar.n)

    def finished(self, task: RunTask, outcome: dict[str, Any]) -> None:
        """A run ended (finished or failed)."""
        inner = self._inner.pop(task.key, None)
        if inner is not None:
            inner[0].close()
        if self._bar is None:
            return
        if outcome["status"] == "finished" and outcome.get("result"):
            self._bar.set_postfix_str(f"last {task.key}: C10 test {outcome['result']['benchmark']['c10_test']:.2f}",
                                      refresh=False)
        else:
            self._bar.write(f"nasbench-sd: run {task.key} failed: {outcome.get('error')}", file=sys.stderr)
        self._bar.update(1)

    def close(self) -> None:
        for bar, _ in self._inner.values():
            bar.close()
        self._inner.clear()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
