"""Files that survive crashes: atomic writes, checksummed blobs, a per-directory lock."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nasbench_sd.errors import DiskFullError, UserError

_MAGIC = b"NBSD1\n"
_FAULT_VAR = "NASBENCH_SD_FAULT"


def fault_point(place: str, where: str | Path | None = None) -> None:
    """A named place (inside directory ``where``, e.g. a run directory) where tests
    may kill the process or raise an error in it (no effect unless the environment
    variable NASBENCH_SD_FAULT is set; see :mod:`nasbench_sd.testing.faults`)."""
    if _FAULT_VAR in os.environ:
        from nasbench_sd.testing.faults import inject

        inject(place, where)

#: errno values meaning "no room left": the disk is full, or the user's quota is spent.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: How every disk-full message begins (a failed run's recorded error is recognised by it).
DISK_FULL_PREFIX = "disk full:"


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def disk_full_error(path: str | Path, exc: OSError) -> DiskFullError:
    """The one-line error for a write to ``path`` that found no room."""
    why = "quota exceeded" if exc.errno == errno.EDQUOT else "no space left on device"
    return DiskFullError(
        f"{DISK_FULL_PREFIX} cannot write {path} ({why}); earlier files are intact. Free some space and rerun the same "
        "command (a search continues with --resume, `run` and `ablate` resume by themselves)"
    )


@contextlib.contextmanager
def reporting_disk_full(path: str | Path) -> Iterator[None]:
    """Turn an ENOSPC/EDQUOT ``OSError`` raised inside the block into a
    :class:`~nasbench_sd.errors.DiskFullError` naming ``path``; other errors pass."""
    try:
        yield
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(path, e) from None
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file,
    never a truncated one (temp file in the same folder, fsync, rename). A full
    disk raises :class:`~nasbench_sd.errors.DiskFullError` and leaves the old file."""
    path = Path(path)
    with reporting_disk_full(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            fault_point(f"written/{path.name}", path.parent)  # temp file complete, not yet renamed
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def checksummed(payload: bytes) -> bytes:
    """``payload`` framed with a magic line and its SHA-256 (see :func:`unframe`)."""
    return _MAGIC + hashlib.sha256(payload).digest() + payload


def unframe(blob: bytes) -> bytes:
    """The payload of a :func:`checksummed` blob; ``ValueError`` if corrupt or truncated."""
    head = len(_MAGIC) + 32
    if len(blob) < head or not blob.startswith(_MAGIC):
        raise ValueError("not a nasbench-sd checkpoint (bad header)")
    digest, payload = blob[len(_MAGIC):head], blob[head:]
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError("checksum mismatch (truncated or corrupt)")
    return payload


@contextlib.contextmanager
def directory_lock(folder: str | Path, what: str = "run directory") -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on ``folder`` (released on exit or
    when the process dies); a second holder gets a :class:`UserError`."""
    import fcntl

    folder = Path(folder)
    lock_path = folder / ".lock"
    f = open(lock_path, "a+")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{what} {folder} is in use by another nasbench-sd process") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
    finally:
        f.close()


def ensure_writable_dir(folder: str | Path) -> Path:
    """Create ``folder`` (and parents) and check that files can be written in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(folder, e) from None
        raise UserError(f"output directory {folder} is not writable ({e.strerror or e})") from None
    return folder
