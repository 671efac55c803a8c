"""experiment.json: what an experiment directory holds and how each run went.

Written atomically by the one process that drives the experiment: at the start,
at the end, and as runs start and end, at most once per :data:`WRITE_EVERY_S`
(an experiment of a thousand short runs would otherwise spend its time
rewriting this file; a process killed without warning leaves it that much
behind, and ``status`` reads each run's own directory anyway). Runs from earlier
invocations that this one does not touch keep their entries, so extending an
experiment with more seeds or methods keeps one manifest for the directory.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import MANIFEST
from nasbench_sd.io import atomic_write_json
from nasbench_sd.presets import config_diff

#: Per-run states: pending (queued, or waiting for another attempt; or not started
#: before a time budget was spent), running (sent to a worker), finished, skipped
#: (finished by an earlier invocation), failed (on every attempt), stopped (by the
#: time budget, with a checkpoint to resume from), interrupted.
RUN_STATES = ("pending", "running", "finished", "skipped", "failed", "stopped", "interrupted")
#: Seconds between two writes of the manifest while runs go on (see the module docstring).
WRITE_EVERY_S = 1.0

#: How an attempt ended (``outcome`` of an entry of a run's ``attempts``): finished,
#: failed, interrupted (this invocation was stopped), or a kind of
#: :data:`nasbench_sd.experiments.worker.KINDS` (died, stopped, out-of-memory, ...).


def now() -> str:
    """UTC time stamp, second resolution."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_manifest(root: Path) -> dict[str, Any] | None:
    """The existing manifest of ``root``, or ``None``; a corrupt one is an error."""
    p = Path(root) / MANIFEST
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text())
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except (OSError, ValueError):
        raise UserError(f"{p} is corrupt; move it aside (the run directories are intact)") from None


def check_compatible(existing: dict[str, Any] | None, preset: str, group_configs: dict[str, dict]) -> None:
    """Refuse to add runs whose group label already names another configuration."""
    if existing is None:
        return
    root_note = "choose another --out"
    if existing.get("preset") not in (None, preset):
        raise UserError(f"the experiment directory holds preset {existing['preset']!r} runs, not {preset!r}; "
                        f"{root_note}")
    for label, cfg in group_configs.items():
        old = existing.get("groups", {}).get(label, {}).get("config")
        diff = [] if old is None else sorted(config_diff(old, cfg, ignore=()))  # diagnostics may differ
        if diff:
            raise UserError(f"group {label!r} of this experiment was run with another configuration "
                            f"(differs in: {', '.join(diff[:6])}); {root_note}")


class Manifest:
    """The manifest being written by this invocation."""

    def __init__(self, root: Path, existing: dict[str, Any] | None, header: dict[str, Any]):
        self.path = Path(root) / MANIFEST
        old = existing or {}
        groups = {**old.get("groups", {}), **header.pop("groups")}
        seeds = sorted(set(old.get("seeds", [])) | set(header.pop("seeds")))
        self.data: dict[str, Any] = {
            "experiment": Path(root).name,
            **header,
            "methods": sorted({g["method"] for g in groups.values()}),
            "groups": groups,
            "seeds": seeds,
            "created": old.get("created", now()),
            "started": now(),
            "finished": None,
            "status": "running",
            "command": " ".join(sys.argv),
            "runs": dict(old.get("runs", {})),
        }
        self._written_at: float | None = None
        self._dirty = False

    def set_run(self, key: str, **fields: Any) -> None:
        """Update one run's entry (created if new)."""
        self.data["runs"].setdefault(key, {}).update(fields)

    def start_attempt(self, key: str, resumed: bool) -> None:
        """A run was sent to a worker: status running, and a new entry in its
        ``attempts`` (kept across invocations; ``invocation`` = this one's start)."""
        entry = self.data["runs"].setdefault(key, {})
        attempts = entry.setdefault("attempts", [])
        attempts.append({"attempt": len(attempts) + 1, "invocation": self.data["started"], "started": now(),
                         "ended": None, "resumed": bool(resumed), "outcome": None, "reason": None})
        entry["status"] = "running"

    def end_attempt(self, key: str, outcome: dict[str, Any], retried: bool) -> None:
        """Close the run's open attempt with how it ended and why (``retried``: another follows)."""
        attempt = self.data["runs"][key]["attempts"][-1]
        ended = "finished" if outcome.get("status") == "finished" else outcome.get("kind") or "failed"
        attempt.update(ended=now(), outcome=ended, reason=outcome.get("error"), retried=retried,
                       **({"gpu": outcome["gpu"]} if outcome.get("gpu") is not None else {}))

    def finish(self, status: str) -> None:
        """Mark the invocation finished with ``status`` (finished, failed, interrupted)."""
        for entry in self.data["runs"].values():
            if status == "interrupted" and entry.get("status") in ("pending", "running"):
                entry["status"] = "interrupted"
            for attempt in entry.get("attempts", []):
                if attempt.get("ended") is None:
                    attempt.update(ended=now(), outcome="interrupted")
        self.data.update(finished=now(), status=status)
        self.write(force=True)

    def write(self, force: bool = False) -> None:
        """Write the manifest now if ``force`` or :data:`WRITE_EVERY_S` have passed since
        the last write; else at the next call that may (the changes are kept)."""
        self._dirty = True
        if not force and self._written_at is not None and time.monotonic() - self._written_at < WRITE_EVERY_S:
            return
        atomic_write_json(self.path, self.data)
        self._written_at, self._dirty = time.monotonic(), False

    def flush(self) -> None:
        """Write pending changes if the interval has passed (called as the runner waits)."""
        if self._dirty:
            self.write()
