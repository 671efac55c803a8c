"""Fault injection for whole processes: SIGKILL a ``nasbench-sd search`` at
chosen moments (mid-step, or while a checkpoint is being written) and resume it
until it finishes. Used by the reliability test and benchmarks/kill_stress.py.
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


@dataclass(frozen=True)
class Kill:
    """One kill: ``after_s`` seconds after the process starts, or (``during_checkpoint``)
    as soon as a checkpoint temp file appears after that time."""

    after_s: float
    during_checkpoint: bool = False


@dataclass(frozen=True)
class KillReport:
    kill: Kill
    killed: bool  # False when the process finished first
    epochs_done: int  # finished epochs in metrics.jsonl after the kill
    seconds: float


def search_command(args: list[str], out: Path, resume: bool) -> list[str]:
    return [sys.executable, "-m", "nasbench_sd", "search", *args, "--out", str(out), *(["--resume"] if resume else [])]


def _epochs_done(out: Path) -> int:
    metrics = out / "metrics.jsonl"
    return len(metrics.read_text().splitlines()) if metrics.is_file() else 0


def run_with_kills(args: list[str], out: Path, kills: list[Kill], timeout_s: float = 1800) -> list[KillReport]:
    """Run ``nasbench-sd search ARGS --out OUT``, killing it at each of ``kills``
    in turn and resuming; finally let it finish. Raises if any start fails."""
    reports = []
    for i, kill in enumerate(kills):
        t0 = time.perf_counter()
        proc = subprocess.Popen(search_command(args, out, resume=i > 0 or (out / "config.json").exists()),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and time.perf_counter() - t0 < kill.after_s:
            time.sleep(0.01)
        if kill.during_checkpoint:
            while proc.poll() is None and not any(p.name.startswith(".checkpoint.pt.") for p in out.glob(".*")):
                time.sleep(0.001)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if not killed and proc.returncode != 0:
            raise RuntimeError(f"search failed (exit {proc.returncode}): {proc.stderr.read()[-2000:]}")
        reports.append(KillReport(kill, killed, _epochs_done(out), time.perf_counter() - t0))
        if (out / "result.json").exists():
            return reports
    proc = subprocess.run(search_command(args, out, resume=True), capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"final resume failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return reports


def random_kills(n: int, max_after_s: float, seed: int = 0, checkpoint_every: int = 4) -> list[Kill]:
    """``n`` kills at uniform random times in [0.5, max_after_s] s after each start;
    every ``checkpoint_every``-th one waits for a checkpoint write and kills during it."""
    rng = random.Random(seed)
    return [Kill(rng.uniform(0.5, max_after_s), during_checkpoint=(k % checkpoint_every == checkpoint_every - 1))
            for k in range(n)]


__all__ = ["Kill", "KillReport", "random_kills", "run_with_kills", "search_command"]
