"""experiment.json: what an experiment directory holds and how each run went.

Written atomically by the one process that drives the experiment, at the start,
after every run and at the end. Runs from earlier invocations that this one
does not touch keep their entries, so extending an experiment with more seeds
or methods keeps one manifest for the directory.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import MANIFEST
from nasbench_sd.io import atomic_write_json
from nasbench_sd.presets import config_diff

#: Per-run states: pending (queued), running (sent to a worker), finished, skipped
#: (finished by an earlier invocation), failed, interrupted.
RUN_STATES = ("pending", "running", "finished", "skipped", "failed", "interrupted")


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

    def set_run(self, key: str, **fields: Any) -> None:
        """Update one run's entry (created if new)."""
        self.data["runs"].setdefault(key, {}).update(fields)

    def finish(self, status: str) -> None:
        """Mark the invocation finished with ``status`` (finished, failed, interrupted)."""
        for entry in self.data["runs"].values():
            if status == "interrupted" and entry.get("status") in ("pending", "running"):
                entry["status"] = "interrupted"
        self.data.update(finished=now(), status=status)
        self.write()

    def write(self) -> None:
        atomic_write_json(self.path, self.data)
