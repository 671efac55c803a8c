"""The one exception type that means "the user asked for something invalid".

The CLI turns a :class:`UserError` into one line on stderr and exit code 2,
without a traceback. Library code raises it for bad input (malformed cells,
unknown names, missing files); programming errors stay ordinary exceptions.
"""


class UserError(Exception):
    """Invalid input from the user; the message is one actionable line."""


class RunError(Exception):
    """A run stopped for a reason other than bad input (e.g. it diverged).

    The CLI prints the message as one line and exits 1; finished work (the last
    good checkpoint, the metrics so far) is kept.
    """


class DiskFullError(UserError):
    """A write failed because the disk (or the user's quota) is full.

    A user-fixable condition like bad input: one line naming the path, exit
    code 2; what was written before stays intact and the run is resumable.
    """


class UnsafeCheckpointError(UserError):
    """A checkpoint whose loading would need more than tensors and plain
    containers (the weights-only unpickler refused it): it is not loaded, and
    nothing in it runs. One line naming the file, exit code 2."""


class OutOfMemoryRunError(RunError):
    """A run ran out of (GPU) memory. The message names what to lower; the run
    is not retried with the same settings, and its last checkpoint is kept."""


class Stopped(Exception):
    """A search stopped on request (a signal, a time budget) at a step boundary,
    after its checkpoint was written: ``--resume`` continues it exactly.
    ``signum``: the signal that asked for the stop, when the caller knows it."""

    def __init__(self, message: str, signum: int | None = None):
        super().__init__(message)
        self.signum = signum


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C (every ``finally`` runs, work is kept)."""
