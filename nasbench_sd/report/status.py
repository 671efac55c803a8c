"""Where an experiment stands: which runs finished, which are running now, which
stopped part-way (and resume), which failed and which have not started.

The state of each run is read from its directory, not from what
``experiment.json`` last said: a run is *running* only while a live process
holds its lock, so an experiment whose process was killed (a job scheduler's
SIGTERM, a lost session) shows its runs as *stopped*, with the epoch they
resume from, even though its manifest still says "running". Runs that have no
directory yet are known from the manifest (*not started*, or *failed* with its
error). Reads only; writes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import MANIFEST, SEED_DIR, is_locked

#: Files any of which makes a seed-<n> directory a run (started, finished or stopped).
RUN_FILES = ("config.json", "result.json", "metrics.jsonl", "checkpoint.pt", "checkpoint.prev.pt")

#: Run states, in the order a table lists them.
STATES = ("finished", "running", "stopped", "failed", "not started")


@dataclass(frozen=True)
class RunState:
    label: str  # group (method or ablation setting)
    seed: int
    state: str  # one of STATES
    epoch: int  # epochs completed (records in metrics.jsonl)
    epochs: int | None  # configured search epochs (None: unknown)
    c10_test: float | None = None  # CIFAR-10 test of the final cell (finished runs)
    resumes: bool = False  # a stopped run continues from a checkpoint (else it starts afresh)
    error: str | None = None  # why a failed run failed (from the manifest)
    seconds_left: float | None = None  # running/stopped: epochs left x its mean epoch time so far
    #: every attempt at the run the manifest records (attempt, outcome, reason): more than
    #: one when a worker died (or a device failed) and the run was started again
    attempts: tuple[dict[str, Any], ...] = ()


def _seconds_left(records: list[dict[str, Any]], epochs: int | None) -> float | None:
    """Epochs left times the mean ``epoch_seconds`` of the epochs done (None: no timing yet)."""
    times = [float(r["epoch_seconds"]) for r in records if isinstance(r.get("epoch_seconds"), (int, float))]
    if not times or not epochs:
        return None
    return max(0, epochs - len(records)) * sum(times) / len(times)


@dataclass(frozen=True)
class ExperimentStatus:
    root: Path
    manifest_status: str | None  # what experiment.json says (None: no manifest)
    live: bool  # a process holds the experiment's lock, or one of its runs', now
    runs: list[RunState]

    def count(self, state: str) -> int:
        return sum(r.state == state for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "manifest_status": self.manifest_status, "live": self.live,
                "counts": {s: self.count(s) for s in STATES}, "runs": [asdict(r) for r in self.runs]}


#: The outcome shown for an attempt that has none recorded although it is over: the process
#: driving the experiment ended (killed, or its machine stopped) before it wrote how the attempt ended.
LOST = "lost"
LOST_REASON = "no outcome recorded: the experiment's process ended first"


def _attempts(entry: dict[str, Any], state: str = "running") -> tuple[dict[str, Any], ...]:
    """The attempts of a manifest entry (attempt number, outcome, reason), as recorded; an attempt
    without an outcome that is over (a later attempt followed it, or the run is no longer running)
    is :data:`LOST`, or finished when it is the last one and the run's result is on disk."""
    raw = [a for a in entry.get("attempts") or [] if isinstance(a, dict)]
    out = []
    for k, a in enumerate(raw):
        outcome, reason = a.get("outcome"), a.get("reason")
        last = k == len(raw) - 1
        if outcome is None and (not last or state != "running"):
            outcome, reason = ("finished", None) if last and state == "finished" else (LOST, LOST_REASON)
        out.append({"attempt": a.get("attempt"), "outcome": outcome, "reason": reason})
    return tuple(out)


def _on_disk(path: Path, label: str, seed: int, manifest_entry: dict[str, Any]) -> RunState:
    from nasbench_sd.search.rundir import RunDir

    run = RunDir(path)
    cfg = run.saved_config() or {}
    epochs = cfg.get("search", {}).get("epochs")
    records = run.metrics()
    done, left = len(records), _seconds_left(records, epochs)
    if run.is_finished():
        try:
            c10 = float(run.result()["benchmark"]["c10_test"])
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"{path}/result.json is not a readable result; move that run aside") from None
        return RunState(label, seed, "finished", done, epochs, c10_test=c10,
                        attempts=_attempts(manifest_entry, "finished"))
    if is_locked(path):
        return RunState(label, seed, "running", done, epochs, seconds_left=left, attempts=_attempts(manifest_entry))
    tried = _attempts(manifest_entry, "stopped")
    if manifest_entry.get("status") == "failed":
        return RunState(label, seed, "failed", done, epochs, resumes=run.has_checkpoint(),
                        error=manifest_entry.get("error"), attempts=tried)
    return RunState(label, seed, "stopped", done, epochs, resumes=run.has_checkpoint(), seconds_left=left,
                    attempts=tried)


def experiment_status(root: str | Path) -> ExperimentStatus:
    """The state of every run of the experiment at ``root`` (its manifest's runs and
    every ``<group>/seed-<n>`` directory below it); ``root`` may also be one group's
    directory or one ``seed-<n>`` directory."""
    from nasbench_sd.experiments.manifest import load_manifest

    root = Path(root)
    if not root.is_dir():
        raise UserError(f"results directory {root} does not exist")
    manifest = load_manifest(root)
    entries: dict[tuple[str, int], dict[str, Any]] = {}
    for entry in (manifest or {}).get("runs", {}).values():
        try:
            entries[(str(entry["label"]), int(entry["seed"]))] = entry
        except (KeyError, TypeError, ValueError):
            continue
    dirs: dict[tuple[str, int], Path] = {}
    for d in sorted([root, *root.rglob("seed-*")]):
        m = SEED_DIR.match(d.name)
        if m and d.is_dir() and any((d / f).is_file() for f in RUN_FILES):
            group = d.parent.resolve().name if d == root else d.parent.relative_to(root).as_posix()
            dirs[(d.parent.resolve().name if group == "." else group, int(m.group(1)))] = d
    runs = []
    for key in sorted(set(entries) | set(dirs)):
        label, seed = key
        entry = entries.get(key, {})
        if key in dirs:
            runs.append(_on_disk(dirs[key], label, seed, entry))
        elif entry.get("status") == "failed":
            runs.append(RunState(label, seed, "failed", 0, None, error=entry.get("error"),
                                 attempts=_attempts(entry, "failed")))
        else:
            runs.append(RunState(label, seed, "not started", 0, None, attempts=_attempts(entry)))
    if not runs:
        raise UserError(f"no runs in {root} (expected {MANIFEST} or <group>/seed-<n>/ run directories)")
    live = is_locked(root) or any(r.state == "running" for r in runs)
    return ExperimentStatus(root, None if manifest is None else manifest.get("status"), live, runs)


def _seeds(runs: list[RunState], state: str) -> str:
    parts = []
    for r in runs:
        if r.state != state:
            continue
        if state in ("running", "stopped", "failed") and r.epochs:
            left = "" if r.seconds_left is None else f", {_duration(r.seconds_left)} left"
            parts.append(f"{r.seed} ({r.epoch}/{r.epochs}{left})")
        else:
            parts.append(str(r.seed))
    return " ".join(parts) or "-"


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.4 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_status(status: ExperimentStatus) -> str:
    """A table per group and a summary line (plain text)."""
    from nasbench_sd.report.table import mean_std

    total = len(status.runs)
    if status.live:
        process = "a nasbench-sd process is working on it now"
    elif status.manifest_status == "running":
        process = ("no process is working on it: the one that ran it stopped without finishing "
                   "(experiment.json still says running); rerun its command to continue")
    else:
        process = "no process is working on it"
    lines = [f"{status.root}: {status.count('finished')} of {total} runs finished; {process}.",
             "running and stopped runs show seed (epochs done/search epochs, time left at the mean epoch time "
             "so far); stopped runs resume from their last checkpoint when the command is rerun.", ""]
    header = ("group", "finished", "running", "stopped", "failed", "not started", "CIFAR-10 test of final cells")
    rows = []
    groups: dict[str, list[RunState]] = {}
    for r in status.runs:
        groups.setdefault(r.label, []).append(r)
    for label, runs in groups.items():
        finals = [r.c10_test for r in runs if r.c10_test is not None]
        if finals:
            m, s = mean_std(finals)
            acc = f"{m:.2f} ± {s:.2f} (n={len(finals)})"
        else:
            acc = "-"
        rows.append((label, *(_seeds(runs, state) for state in STATES), acc))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    failed = [r for r in status.runs if r.state == "failed" and r.error]
    if failed:
        lines.append("")
        lines += [f"{r.label}/seed-{r.seed} failed: {r.error}" for r in failed]
    retried = [r for r in status.runs if len(r.attempts) > 1]
    if retried:
        lines += ["", "runs started more than once (a worker died, its device failed, or the experiment's process "
                  "ended; each attempt resumed from the last checkpoint):"]
        lines += [f"{r.label}/seed-{r.seed}: {len(r.attempts)} attempts: " + "; ".join(
            f"{a['attempt']} {a['outcome'] or 'running'}" + (f" ({a['reason']})" if a["reason"] else "")
            for a in r.attempts) for r in retried]
    return "\n".join(lines)
