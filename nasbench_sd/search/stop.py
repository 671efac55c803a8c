"""Stop a search at its next step boundary, with a checkpoint, on request.

:func:`nasbench_sd.search.run_search` takes ``stop``, a callable it polls once
per step: when it answers True, the loop writes a checkpoint right after that
step (the loader's position within the epoch, every RNG, the method's state
and the epoch's statistics so far) and raises
:class:`~nasbench_sd.errors.Stopped`; ``--resume`` then ends bit for bit where
an uninterrupted run ends. A :class:`StopRequest` is such a callable, set by
anyone: a signal handler (:func:`stop_on_signals`), a timer, a caller that
watches a wall-clock budget::

    stop = StopRequest()
    threading.Timer(3600, stop.set, args=("time budget",)).start()
    run_search(cfg, out, stop=stop)          # raises Stopped after the checkpoint
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

#: The signals that stop a search at its next step (a scheduler's SIGTERM, Ctrl-C).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """A flag the search loop polls once per step (call it: True once set)."""

    def __init__(self) -> None:
        #: Why the stop was requested (None: not requested).
        self.reason: str | None = None
        #: The signal that requested it, if a signal did.
        self.signum: int | None = None

    def set(self, reason: str = "stop requested", signum: int | None = None) -> None:
        """Ask for a stop at the next step boundary (the first request's reason is kept)."""
        if self.reason is None:
            self.reason, self.signum = reason, signum

    def __call__(self) -> bool:
        return self.reason is not None


@contextlib.contextmanager
def stop_on_signals(stop: StopRequest, signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[StopRequest]:
    """Inside the block, SIGTERM and SIGINT set ``stop`` instead of interrupting.

    The same signal a second time is handled as it would have been without
    this block (Ctrl-C twice interrupts at once, losing the steps since the
    last checkpoint). Outside the main thread (where Python cannot install
    handlers) the block changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in signals}

    def handler(signum: int, frame: object) -> None:
        if stop.signum == signum:  # asked again: the old way, now
            signal.signal(signum, previous[signum])
            os.kill(os.getpid(), signum)
            return
        stop.set(f"{signal.Signals(signum).name} received", signum)

    for s in signals:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
