"""Load and worker-death benchmark of `nasbench-sd run`: an experiment of many short
runs (the `random` method, which trains no supernet) through the local process
pool and then through a local Ray instance, their worker processes SIGKILLed at
random moments from outside (as the kernel's OOM killer would). Checks that the
command still ends with exit 0, that the manifest stays consistent (every run
finished, exactly one finished attempt each, every other attempt a recorded
worker death, no attempt left open) and that each result is the one its seed
gives; then times `status` and `table` over the experiment's result files.
Writes benchmarks/results/retry_load.md with the machine named.

    python benchmarks/retry_load.py [--runs 500] [--kill-every 2,6] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from report import write_report

NASBENCH_SD = [sys.executable, "-c", "from nasbench_sd.cli import main; main()"]


def machine() -> str:
    """CPU model (from /proc/cpuinfo), cores, OS, Python and torch versions."""
    import torch

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, torch {torch.__version__}")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_pool_worker(cmd: str) -> bool:
    return "spawn_main" in cmd  # not the resource tracker, not the driver


def is_ray_worker(cmd: str) -> bool:
    """A Ray worker process, idle or running one of our tasks (not Ray's own agents)."""
    return cmd.startswith(("ray::IDLE", "ray::execute_task"))


def in_a_run(pid: int) -> bool:
    """The process holds a run directory's lock (``<run>/.lock``): it is inside a run."""
    try:
        targets = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(t.endswith("/.lock") and "/seed-" in t for t in targets)


class Killer(threading.Thread):
    """Every ``every`` (min, max) seconds, SIGKILL a random matching descendant of
    ``pid``; one inside a run if one is within ``aim_s`` seconds of looking (a run of
    the `random` method lasts milliseconds), else any."""

    def __init__(self, pid: int, match, every: tuple[float, float], seed: int, aim_s: float = 5.0):
        super().__init__(daemon=True)
        self.pid, self.match, self.every, self.aim_s = pid, match, every, aim_s
        self.rng, self.stop, self.kills, self.in_run = random.Random(seed), threading.Event(), [], 0

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(*self.every)):
            deadline, victims, busy = time.monotonic() + self.aim_s, [], []
            while not busy and time.monotonic() < deadline and not self.stop.is_set():
                victims = [p for p in descendants(self.pid) if self.match(cmdline(p))]
                busy = [p for p in victims if in_a_run(p)]
                time.sleep(0.002)
            victim = self.rng.choice(busy or victims) if (busy or victims) else None
            if victim is None:
                continue
            try:
                os.kill(victim, signal.SIGKILL)
                self.kills.append(victim)
                self.in_run += bool(busy)
            except ProcessLookupError:
                pass


def run_with_kills(args: list[str], match, every: tuple[float, float], seed: int, env: dict) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([*NASBENCH_SD, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env)
    killer = Killer(proc.pid, match, every, seed)
    killer.start()
    _, err = proc.communicate(timeout=1800)
    killer.stop.set()
    killer.join()
    return {"rc": proc.returncode, "seconds": time.perf_counter() - t0, "kills": len(killer.kills),
            "in_run": killer.in_run, "stderr": err}


def check(root: Path, seeds: range) -> dict:
    """Manifest consistency and results of the runs of ``seeds``."""
    from nasbench_sd.methods import create_method
    from nasbench_sd.presets import build_run_config

    manifest = json.loads((root / "experiment.json").read_text())
    problems, outcomes, retried, most = [], Counter(), 0, 0
    for seed in seeds:
        key = f"random/seed-{seed}"
        entry = manifest["runs"].get(key)
        if entry is None:
            problems.append(f"{key}: not in the manifest")
            continue
        attempts = entry.get("attempts", [])
        outcomes.update(a["outcome"] for a in attempts)
        finished = [a for a in attempts if a["outcome"] == "finished"]
        retried += len(attempts) > 1
        most = max(most, len(attempts))
        if entry["status"] != "finished" or len(finished) != 1 or attempts[-1]["outcome"] != "finished":
            problems.append(f"{key}: status {entry['status']}, attempts {[a['outcome'] for a in attempts]}")
        if any(a["outcome"] not in ("finished", "died") or not a["ended"] for a in attempts):
            problems.append(f"{key}: an attempt neither finished nor died, or left open: {attempts}")
        if any(a["outcome"] == "died" and not a["reason"] for a in attempts):
            problems.append(f"{key}: a death without its reason")
        result = root / "random" / f"seed-{seed}" / "result.json"
        cfg = build_run_config("random", "cpu", seed, {})
        expected = str(create_method("random", cfg.method_config, seed).genotype())
        if not result.is_file() or json.loads(result.read_text())["cell"] != expected:
            problems.append(f"{key}: result.json missing or not the seed's cell")
    return {"problems": problems, "outcomes": dict(outcomes), "retried": retried, "most": most,
            "manifest": manifest["status"]}


def timed(args: list[str], repeat: int = 3, command: list[str] = NASBENCH_SD) -> tuple[float, str]:
    """Median wall time of a command (a fresh process each time) and its last output."""
    times, out = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run([*command, *args], capture_output=True, text=True, timeout=600)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {r.stderr[-2000:]}")
        out = r.stdout
    return sorted(times)[len(times) // 2], out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=500, help="runs per executor (the experiment holds twice this many)")
    p.add_argument("--kill-every", default="2,6", help="seconds between two kills: MIN,MAX (uniform)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-ray", action="store_true")
    a = p.parse_args()
    every = tuple(float(x) for x in a.kill_every.split(","))
    root = Path(tempfile.mkdtemp(prefix="retry-load-")) / "exp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_ADDRESS": ""}
    base = ["run", "--method", "random", "--out", str(root), "--workers", "2", "-q"]
    parts = [("local pool", ["--seeds", ",".join(map(str, range(a.runs)))], is_pool_worker, range(a.runs))]
    if not a.skip_ray:
        seeds = range(a.runs, 2 * a.runs)
        parts.append(("local Ray", ["--seeds", ",".join(map(str, seeds)), "--executor", "ray"], is_ray_worker, seeds))
    rows, ok = [], True
    for name, extra, match, seeds in parts:
        r = run_with_kills([*base, *extra], match, every, a.seed, env)
        c = check(root, seeds)
        good = r["rc"] == 0 and not c["problems"] and c["manifest"] == "finished"
        ok &= good
        rows.append(f"| {name} | {len(seeds)} | {r['seconds']:.0f} | {r['kills']} ({r['in_run']} in a run) | "
                    f"{c['outcomes'].get('died', 0)} | {c['retried']} | {c['most']} | {r['rc']} | "
                    f"{'yes' if good else 'NO'} |")
        for problem in c["problems"][:10]:
            print(f"{name}: {problem}", file=sys.stderr)
        if r["rc"] != 0:
            print(f"{name}: exit {r['rc']}: {r['stderr'][-2000:]}", file=sys.stderr)
    n_results = len(list(root.rglob("result.json")))
    t_status, _ = timed(["status", str(root)])
    t_status_json, _ = timed(["status", str(root), "--json"])
    t_table, _ = timed(["table", str(root), "--no-published", "--no-best", "--out", str(root.parent / "table")])
    t_torch, _ = timed(["-c", "import torch"], command=[sys.executable])
    lines = [
        "# Retries under load: workers killed at random",
        "",
        f"`python benchmarks/retry_load.py --runs {a.runs} --kill-every {a.kill_every} --seed {a.seed}` "
        f"on {machine()}.",
        "",
        f"One experiment of the `random` method (no supernet: each run is a benchmark lookup and three atomic "
        f"writes), {a.runs} seeds through the local process pool, then {a.runs} more seeds into the same "
        "experiment through a local Ray instance, both `--workers 2` with the default `--retries 2`. While each "
        f"command ran, a thread SIGKILLed a worker process every {every[0]:g}-{every[1]:g} s, chosen at random "
        "among those inside a run (holding a run directory's lock) if one was seen within 5 s, else among all "
        "(pool: the spawned workers; Ray: its worker processes, `ray::IDLE` and `ray::execute_task`, not its "
        "agents). A kill that lands outside a run (a worker "
        "starting, idle, or handed a run it has not begun) costs no run anything: the pool replaces the worker and "
        "gives the run to the next one. A kill inside a run costs that run an attempt (`died`), and the run is "
        "started again, resuming from its checkpoint (here: from scratch, or finding the result the dead attempt "
        "had already written).",
        "",
        "| executor | runs | wall (s) | kills sent | attempts died | runs retried | most attempts of a run | exit | "
        "consistent |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Consistent = exit 0, experiment.json says finished, every run has exactly one finished attempt and it is "
        "its last, every other attempt is a worker death with its reason, no attempt is left open, and every "
        "result.json holds the cell its seed gives.",
        "",
        f"Reading the experiment ({n_results} result files; median of 3 fresh processes, each including Python and "
        "package start-up):",
        "",
        "| command | wall (s) |",
        "|---|---|",
        f"| `nasbench-sd status DIR` | {t_status:.2f} |",
        f"| `nasbench-sd status DIR --json` | {t_status_json:.2f} |",
        f"| `nasbench-sd table DIR --no-published --no-best` | {t_table:.2f} |",
        f"| for scale: `python -c 'import torch'` | {t_torch:.2f} |",
        "",
        "`status` reads only JSON files and no longer imports torch (it did, through `nasbench_sd.search`, until "
        "this benchmark was written: each call then cost at least the last row); `table` still imports it, through "
        "the method registry it needs for each group's settings.",
        "",
    ]
    write_report("retry_load.md", lines)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
