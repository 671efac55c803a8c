"""A run directory: its files, its lock, and the rules that protect its results.

Layout::

    config.json          resolved RunConfig (written before the first step)
    metrics.jsonl        one JSON record per finished epoch (no header record: every
                         line is an epoch); ``op_probs`` is a 6 x 5 list whose rows are
                         the edges in arch-string order (to<-from: 1<-0, 2<-0, 2<-1,
                         3<-0, 3<-1, 3<-2 = ``cells.EDGES``) and whose columns are the
                         ops none, skip_connect, nor_conv_1x1, nor_conv_3x3,
                         avg_pool_3x3 (= ``cells.OPS``); ``nasbench-sd show`` labels them
    checkpoint.pt        state after the last finished epoch (checksummed)
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

from nasbench_sd.config import config_diff
from nasbench_sd.errors import UserError
from nasbench_sd.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    checksummed,
    fault_point,
    reporting_disk_full,
    unframe,
)

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
            fault_point("checkpoint-rotated")  # only checkpoint.prev.pt exists now
        atomic_write_bytes(new, checksummed(buf.getvalue()))

    def load_checkpoint(self) -> dict[str, Any]:
        """The newest readable checkpoint; falls back to the previous one with a
        message when the newest is corrupt. Raises if neither can be read."""
        import torch

        problems = []
        for name in (CHECKPOINT, PREVIOUS):
            p = self.path / name
            if not p.is_file():
                continue
            try:
                state = torch.load(io.BytesIO(unframe(p.read_bytes())), map_location="cpu", weights_only=False)
                if not isinstance(state, dict) or "epoch" not in state:
                    raise ValueError("missing fields")
            except Exception as e:  # noqa: BLE001 - any unreadable file is "corrupt"
                problems.append(f"{name}: {e}")
                print(f"nasbench-sd: warning: checkpoint {p} is unreadable ({e}); trying the previous one",
                      file=sys.stderr)
                continue
            return state
        raise UserError(
            f"no readable checkpoint in {self.path} ({'; '.join(problems) or 'none found'}); "
            "move the directory aside to start afresh"
        )

    def load_previous_checkpoint(self) -> dict[str, Any] | None:
        """checkpoint.prev.pt (the state one checkpoint before the newest), or None if it is
        missing or unreadable. A seed-batched run uses it to line up seeds that a kill left
        one checkpoint apart (:mod:`nasbench_sd.search.batched`)."""
        import torch

        p = self.path / PREVIOUS
        try:
            state = torch.load(io.BytesIO(unframe(p.read_bytes())), map_location="cpu", weights_only=True)
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
        fault_point("metrics-appended")  # the record is out, its checkpoint not yet

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

