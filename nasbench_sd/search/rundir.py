"""A run directory: its files, its lock, and the rules that protect its results.

Layout::

    config.json          resolved RunConfig (written before the first step)
    metrics.jsonl        one JSON record per finished epoch (no header record: every
                         line is an epoch); ``op_probs`` is a 6 x 5 list whose rows are
                         the edges in arch-string order (to<-from: 1<-0, 2<-0, 2<-1,
                         3<-0, 3<-1, 3<-2 = ``cells.EDGES``) and whose columns are the
                         ops none, skip_connect, nor_conv_1x1, nor_conv_3x3,
                         avg_pool_3x3 (= ``cells.OPS``); ``nasbench-sd show`` labels them
    checkpoint.pt        state after the last finished epoch, or at the step where a
                         stop was requested (checksummed; tensors and plain containers
                         only, loaded weights-only: see :func:`load_weights_only`)
    checkpoint.prev.pt   the one before (used if the newest is corrupt)
    result.json          final cell, its six figures, provenance (last file written)

Rules: a finished run (result.json present) is never overwritten; an
unfinished one is continued only with ``resume=True``; a directory made by a
different configuration is refused. Every file is written atomically.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UnsafeCheckpointError, UserError
from nasbench_sd.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    checksummed,
    fault_point,
    reporting_disk_full,
    unframe,
)
from nasbench_sd.presets import config_diff

CONFIG, METRICS, RESULT = "config.json", "metrics.jsonl", "result.json"
CHECKPOINT, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"


class RunDir:
    """Files of one (method, seed) run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- state queries -------------------------------------------------------------
    def is_finished(self) -> bool:
        return (self.path / RESULT).is_file()

    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT).is_file() or (self.path / PREVIOUS).is_file()

    def saved_config(self) -> dict[str, Any] | None:
        p = self.path / CONFIG
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            raise UserError(f"{p} is corrupt; move the run directory aside to start afresh") from None

    def result(self) -> dict[str, Any]:
        return json.loads((self.path / RESULT).read_text())

    # -- preparation -----------------------------------------------------------------
    def prepare(self, config: dict[str, Any], resume: bool) -> bool:
        """Check the directory may hold this run; write config.json if new.

        Returns True when a checkpoint exists to resume from. The caller has
        created the directory (``ensure_writable_dir``) and holds its lock."""
        saved = self.saved_config()
        diff = [] if saved is None else config_diff(saved, config)
        if diff:
            raise UserError(
                f"{self.path} holds a run with another configuration (differs in: {', '.join(diff[:6])}); "
                "choose another --out"
            )
        if self.is_finished():
            raise UserError(f"{self.path} already holds a finished run (result.json); choose another --out")
        if self.has_checkpoint() and not resume:
            raise UserError(f"{self.path} holds an unfinished run; pass --resume to continue it")
        for stale in self.path.glob(".*.tmp"):  # left by a process killed mid-write (we hold the lock)
            stale.unlink(missing_ok=True)
        if saved is None:
            atomic_write_json(self.path / CONFIG, config)
        return self.has_checkpoint()

    # -- checkpoints -------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write the new checkpoint atomically, keeping the previous one."""
        import torch

        buf = io.BytesIO()
        torch.save(state, buf)
        new = self.path / CHECKPOINT
        if new.exists():
            os.replace(new, self.path / PREVIOUS)
            fault_point("checkpoint-rotated", self.path)  # only checkpoint.prev.pt exists now
        atomic_write_bytes(new, checksummed(buf.getvalue()))

    def load_checkpoint(self, warn: bool = True) -> dict[str, Any]:
        """The newest readable checkpoint, loaded weights-only (:func:`load_weights_only`).

        A corrupt or truncated newest file (bad checksum) falls back to the
        previous one, with a warning when ``warn``. A file whose checksum holds
        but which needs anything beyond tensors and plain containers is REFUSED
        (:class:`UnsafeCheckpointError`), never skipped: it was written that way
        on purpose, by another program or by someone else. Raises
        :class:`UserError` if no checkpoint can be read."""
        problems = []
        for name in (CHECKPOINT, PREVIOUS):
            p = self.path / name
            if not p.is_file():
                continue
            try:
                state = load_weights_only(unframe(p.read_bytes()), p)
                if not isinstance(state, dict) or "epoch" not in state:
                    raise ValueError("missing fields")
            except UnsafeCheckpointError:
                raise
            except Exception as e:  # noqa: BLE001 - any unreadable file is "corrupt"
                problems.append(f"{name}: {e}")
                if warn:
                    print(f"nasbench-sd: warning: checkpoint {p} is unreadable ({e}); trying the previous one",
                          file=sys.stderr)
                continue
            return state
        raise UserError(
            f"no readable checkpoint in {self.path} ({'; '.join(problems) or 'none found'}); "
            "move the directory aside to start afresh"
        )

    def load_previous_checkpoint(self) -> dict[str, Any] | None:
        """checkpoint.prev.pt (the state one checkpoint before the newest), loaded
        weights-only as :meth:`load_checkpoint` loads it (an unsafe file is refused),
        or None if it is missing or unreadable. A seed-batched run uses it to line up
        seeds that a kill left one checkpoint apart (:mod:`nasbench_sd.search.batched`)."""
        p = self.path / PREVIOUS
        try:
            state = load_weights_only(unframe(p.read_bytes()), p)
        except UnsafeCheckpointError:
            raise
        except Exception:  # noqa: BLE001 - missing or corrupt: no previous checkpoint to use
            return None
        return state if isinstance(state, dict) and "epoch" in state else None

    # -- metrics and result -------------------------------------------------------------
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one record (a torn last line from a crash or a full disk is dropped on reading and resume)."""
        with reporting_disk_full(self.path / METRICS), open(self.path / METRICS, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        fault_point("metrics-appended", self.path)  # the record is out, its checkpoint not yet

    def rewrite_metrics(self, records: list[dict[str, Any]]) -> None:
        atomic_write_text(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in records))

    def metrics(self) -> list[dict[str, Any]]:
        p = self.path / METRICS
        if not p.is_file():
            return []
        out = []
        for line in p.read_text().splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    break  # a torn last line from a crash
        return out

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_json(self.path / RESULT, result)
        fault_point("result-written", self.path)  # finished, but the process has not reported it yet



def load_weights_only(payload: bytes, path: str | Path) -> Any:
    """Unpickle a checkpoint's ``payload`` with torch's weights-only unpickler:
    tensors, ``torch.Generator`` states (ByteTensors), dicts, lists, tuples,
    strings, numbers, booleans and None load; anything else (a class, a function,
    a numpy scalar) is refused before it is created, so nothing in the file runs.

    Raises:
        UnsafeCheckpointError: the payload needs more; one line naming ``path``.
    """
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(
            f"checkpoint {path} refused: it needs {_needs(str(e))} to load, and a checkpoint may hold only tensors "
            "and plain containers (nothing in it was run); if you do not know who wrote it, delete it, else move "
            "the run directory aside and start the run afresh"
        ) from None


def _needs(message: str) -> str:
    """What torch's weights-only unpickler refused, in a few words."""
    import re

    m = re.search(r"GLOBAL ([\w.]+)", message)
    if m:
        return f"the Python object {m.group(1)}"
    m = re.search(r"Unsupported operand (\d+)", message)
    if m:
        return f"pickle instruction {m.group(1)}"
    return "Python objects other than tensors and plain containers"
