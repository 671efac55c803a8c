"""Fault injection for whole processes.

Two ways to kill a ``nasbench-sd search`` and check that it resumes:

* **By injection** (the tests): set ``NASBENCH_SD_FAULT=<place>[:<n>][@<run>][=<action>]``
  and the process acts the ``n``-th time (default 1) it passes ``place``
  (:func:`nasbench_sd.io.fault_point`). With ``@<run>`` only visits inside a
  run directory whose path ends with ``<run>`` count (``@seed-1``,
  ``@darts-v1/seed-1``). The action (see :data:`ACTIONS`) is ``kill`` (default:
  SIGKILL itself, as the OOM killer or a lost machine would), ``term`` /
  ``int`` (send itself SIGTERM / SIGINT: a scheduler's stop, Ctrl-C), ``oom``
  (raise torch's out-of-memory error, as a full GPU would) or ``device``
  (raise a CUDA-style device error). With ``NASBENCH_SD_FAULT_MARKER=<file>`` it
  first writes ``<place> <n>`` to that file, so a test can assert that the fault
  landed where it says; with ``NASBENCH_SD_FAULT_ONCE=1`` as well, it acts only
  if that file does not exist yet (once over all processes: a retried run is
  then not hit again). Places (see :data:`PLACES`): ``step`` (after a search
  step), ``metrics-appended`` (an epoch's record written, its checkpoint not
  yet), ``checkpoint-rotated`` (the old checkpoint renamed to
  checkpoint.prev.pt, the new one not yet written), ``result-written``
  (result.json complete, the process has not reported it yet),
  ``written/<file name>`` (an atomic write's temp file complete, not yet
  renamed; e.g. ``written/checkpoint.pt``, ``written/result.json``).
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

FAULT_VAR, MARKER_VAR, ONCE_VAR = "NASBENCH_SD_FAULT", "NASBENCH_SD_FAULT_MARKER", "NASBENCH_SD_FAULT_ONCE"
PLACES = ("step", "metrics-appended", "checkpoint-rotated", "result-written", "written/")
ACTIONS = ("kill", "term", "int", "oom", "device")
_hits: dict[str, int] = {}


@dataclass(frozen=True)
class Fault:
    """A parsed ``NASBENCH_SD_FAULT``."""

    place: str
    count: int = 1
    run: str | None = None  # only inside a run directory whose path ends with this
    action: str = "kill"


def parse_fault(spec: str) -> Fault:
    """``"step:5"`` -> step, 5th visit, kill; ``"step:2@seed-1=term"`` -> the 2nd step of
    the run in .../seed-1, SIGTERM; ``"checkpoint-rotated"`` -> 1st visit, kill."""
    rest, _, action = spec.partition("=")
    rest, _, run = rest.partition("@")
    place, _, count = rest.rpartition(":")
    if not place or not count.isdigit():
        place, count = rest, "1"
    if not any(place == p or (p.endswith("/") and place.startswith(p)) for p in PLACES):
        raise ValueError(f"{FAULT_VAR}: unknown place {place!r} (places: {', '.join(PLACES)}<file name>)")
    if int(count) < 1:
        raise ValueError(f"{FAULT_VAR}: the count must be >= 1, got {count}")
    if action and action not in ACTIONS:
        raise ValueError(f"{FAULT_VAR}: unknown action {action!r} (actions: {', '.join(ACTIONS)})")
    return Fault(place, int(count), run.strip("/") or None, action or "kill")


def _in_run(where: str | Path | None, run: str | None) -> bool:
    if run is None:
        return True
    return where is not None and ("/" + Path(where).resolve().as_posix()).endswith("/" + run)


def inject(place: str, where: str | Path | None = None) -> None:
    """Called at ``place`` (inside directory ``where``) when NASBENCH_SD_FAULT is set:
    count the visit and, on the chosen one, write the marker file and act."""
    fault = parse_fault(os.environ[FAULT_VAR])
    if place != fault.place or not _in_run(where, fault.run):
        return
    _hits[place] = _hits.get(place, 0) + 1
    if _hits[place] != fault.count:
        return
    marker = os.environ.get(MARKER_VAR)
    if marker:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if os.environ.get(ONCE_VAR) == "1" else os.O_TRUNC)
        try:
            fd = os.open(marker, flags, 0o644)
        except FileExistsError:  # acted once already, in an earlier process
            return
        os.write(fd, f"{place} {fault.count}\n".encode())
        os.fsync(fd)
        os.close(fd)
    _act(fault.action)


def _act(action: str) -> None:
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in ("term", "int"):  # handled like one from outside, at the interpreter's next check
        os.kill(os.getpid(), signal.SIGTERM if action == "term" else signal.SIGINT)
    elif action == "oom":
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected by NASBENCH_SD_FAULT)")
    elif action == "device":
        raise RuntimeError("CUDA error: an illegal memory access was encountered (injected by NASBENCH_SD_FAULT)")


def fault_env(spec: str, marker: Path, once: bool = False) -> dict[str, str]:
    """This process's environment plus the variables that inject ``spec`` (with
    ``once``: in the first process that reaches it only)."""
    parse_fault(spec)
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_VAR, MARKER_VAR, ONCE_VAR)}
    return {**env, FAULT_VAR: spec, MARKER_VAR: str(marker), **({ONCE_VAR: "1"} if once else {})}


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


__all__ = ["ACTIONS", "FAULT_VAR", "MARKER_VAR", "ONCE_VAR", "PLACES", "Fault", "Kill", "KillReport", "fault_env",
           "inject", "parse_fault", "random_kills", "run_with_kills", "search_command"]
