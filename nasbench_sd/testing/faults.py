"""Fault injection for whole processes.

Two ways to kill a ``nasbench-sd search`` and check that it resumes:

* **By injection** (the tests): set ``NASBENCH_SD_FAULT=<place>[:<n>]`` and the
  process SIGKILLs itself the ``n``-th time (default 1) it passes ``place``
  (:func:`nasbench_sd.io.fault_point`). With ``NASBENCH_SD_FAULT_MARKER=<file>``
  it first writes ``<place> <n>`` to that file, so a test can assert that the
  fault landed where it says. Places (see :data:`PLACES`): ``step`` (after a
  search step), ``metrics-appended`` (an epoch's record written, its checkpoint
  not yet), ``checkpoint-rotated`` (the old checkpoint renamed to
  checkpoint.prev.pt, the new one not yet written), ``written/<file name>``
  (an atomic write's temp file complete, not yet renamed; e.g.
  ``written/checkpoint.pt``, ``written/result.json``).
* **By timing** (benchmarks/kill_stress.py): :func:`run_with_kills` SIGKILLs the
  process from outside at chosen moments, as a user's Ctrl-C or an OOM killer
  would.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

FAULT_VAR, MARKER_VAR = "NASBENCH_SD_FAULT", "NASBENCH_SD_FAULT_MARKER"
PLACES = ("step", "metrics-appended", "checkpoint-rotated", "written/")
_hits: dict[str, int] = {}


def parse_fault(spec: str) -> tuple[str, int]:
    """``"step:5"`` -> ``("step", 5)``; ``"checkpoint-rotated"`` -> ``("checkpoint-rotated", 1)``."""
    place, _, count = spec.rpartition(":")
    if not place or not count.isdigit():
        place, count = spec, "1"
    if not any(place == p or (p.endswith("/") and place.startswith(p)) for p in PLACES):
        raise ValueError(f"{FAULT_VAR}: unknown place {place!r} (places: {', '.join(PLACES)}<file name>)")
    if int(count) < 1:
        raise ValueError(f"{FAULT_VAR}: the count must be >= 1, got {count}")
    return place, int(count)


def inject(place: str) -> None:
    """Called at ``place`` when NASBENCH_SD_FAULT is set: count the visit and, on
    the chosen one, write the marker file and SIGKILL this process."""
    target, count = parse_fault(os.environ[FAULT_VAR])
    if place != target:
        return
    _hits[place] = _hits.get(place, 0) + 1
    if _hits[place] != count:
        return
    marker = os.environ.get(MARKER_VAR)
    if marker:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, f"{place} {count}\n".encode())
        os.fsync(fd)
        os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def fault_env(spec: str, marker: Path) -> dict[str, str]:
    """This process's environment plus the variables that inject ``spec``."""
    parse_fault(spec)
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_VAR, MARKER_VAR)}
    return {**env, FAULT_VAR: spec, MARKER_VAR: str(marker)}


@dataclass(frozen=True)
class Kill:
    """One kill: once the run has ``epoch`` finished epochs, wait ``after_s``
    seconds (mid-epoch) and kill; with ``during_checkpoint``, kill instead as
    soon as the next checkpoint's temp file appears (mid-write)."""

    epoch: int
    after_s: float = 0.0
    during_checkpoint: bool = False


@dataclass(frozen=True)
class KillReport:
    kill: Kill
    killed: bool  # False when the process finished first
    epochs_done: int  # finished epochs in metrics.jsonl after the kill
    seconds: float
    caught_write: bool | None = None  # during_checkpoint kills: was a write in progress?


def search_command(args: list[str], out: Path, resume: bool) -> list[str]:
    return [sys.executable, "-m", "nasbench_sd", "search", *args, "--out", str(out), *(["--resume"] if resume else [])]


def _epochs_done(out: Path) -> int:
    metrics = out / "metrics.jsonl"
    return len(metrics.read_text().splitlines()) if metrics.is_file() else 0


def _wait_for_checkpoint_write(proc: subprocess.Popen, out: Path, grace_s: float = 1.0) -> bool:
    """Wait until a checkpoint temp file exists (True). A small checkpoint can be
    written between two polls: once the next epoch's metrics line is out (it is
    appended just before its checkpoint), wait at most ``grace_s`` more, then
    give up (False) so the kill still lands right after that write."""
    start, seen_epoch_at = _epochs_done(out), None
    while proc.poll() is None:
        if any(p.name.startswith(".checkpoint.pt.") for p in out.glob(".*")):
            return True
        if seen_epoch_at is None and _epochs_done(out) > start:
            seen_epoch_at = time.perf_counter()
        if seen_epoch_at is not None and time.perf_counter() - seen_epoch_at > grace_s:
            return False
        time.sleep(0.0005)
    return False


def run_with_kills(args: list[str], out: Path, kills: list[Kill], timeout_s: float = 1800) -> list[KillReport]:
    """Run ``nasbench-sd search ARGS --out OUT``, killing it at each of ``kills``
    in turn and resuming; finally let it finish. Raises if any start fails."""
    reports = []
    for i, kill in enumerate(kills):
        t0 = time.perf_counter()
        proc = subprocess.Popen(search_command(args, out, resume=i > 0 or (out / "config.json").exists()),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and _epochs_done(out) < kill.epoch:
            time.sleep(0.005)
        t1 = time.perf_counter()
        while proc.poll() is None and time.perf_counter() - t1 < kill.after_s:
            time.sleep(0.005)
        caught = _wait_for_checkpoint_write(proc, out) if kill.during_checkpoint else None
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if not killed and proc.returncode != 0:
            raise RuntimeError(f"search failed (exit {proc.returncode}): {proc.stderr.read()[-2000:]}")
        reports.append(KillReport(kill, killed, _epochs_done(out), time.perf_counter() - t0, caught))
        if (out / "result.json").exists():
            return reports
    proc = subprocess.run(search_command(args, out, resume=True), capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"final resume failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return reports


def random_kills(n: int, epochs: int, epoch_s: float, seed: int = 0, checkpoint_every: int = 4) -> list[Kill]:
    """``n`` kills spread over a run of ``epochs`` epochs: at sorted random epochs,
    a random time into the epoch (up to ``epoch_s`` seconds); every
    ``checkpoint_every``-th one kills during a checkpoint write instead."""
    rng = random.Random(seed)
    at = sorted(rng.randrange(epochs) for _ in range(n))
    return [Kill(e, rng.uniform(0.0, epoch_s), during_checkpoint=(k % checkpoint_every == checkpoint_every - 1))
            for k, e in enumerate(at)]


__all__ = ["FAULT_VAR", "MARKER_VAR", "PLACES", "Kill", "KillReport", "fault_env", "inject", "parse_fault",
           "random_kills", "run_with_kills", "search_command"]
