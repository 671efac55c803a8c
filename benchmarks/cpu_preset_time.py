"""Wall time of one `nasbench-sd search --preset cpu` per built-in method on the
real CIFAR-10 (target: under 2 minutes each on a 2-core machine, 4 for idarts),
each in a fresh process as a user runs it. The methods are the registry's
built-ins, so a new one is measured without editing this script. Writes
benchmarks/results/cpu_preset_time.md with the machine named.

    python benchmarks/cpu_preset_time.py --data-root ../shared/data/cifar10 [--threads 1] [--methods a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import write_report

from nasbench_sd.config import CPU
from nasbench_sd.methods.registry import BUILTINS
from nasbench_sd.report.render import budget_note

#: Every built-in method, in registration order (plugins are not timed).
METHODS = tuple(BUILTINS)
#: Target wall time per search in seconds (issue 10: < 2 min each, < 4 min for iDARTS).
TARGET_S = {"idarts": 240.0}
DEFAULT_TARGET_S = 120.0


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--methods", default=",".join(METHODS))
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpu-preset-"))
    load_start = os.getloadavg()[0]
    rows = []
    for m in a.methods.split(","):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nasbench_sd", "search", "-m", m, "--preset", "cpu", "--seed", "0",
                        "--quiet", "--device", "cpu", "--threads", str(a.threads), "--data-root", a.data_root,
                        "--out", str(work / m)], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        result = json.loads((work / m / "result.json").read_text())
        target = TARGET_S.get(m, DEFAULT_TARGET_S)
        per10 = f"{wall * 10 / result['epochs']:.1f}" if result["epochs"] else "-"
        rows.append(f"| {m} | {wall:.1f} | {target:.0f} ({'ok' if wall < target else 'OVER'}) | {result['epochs']} | "
                    f"{per10} | {result['benchmark']['c10_test']:.2f} | {result['num_parameter_free']} |")
        print(rows[-1], flush=True)
    lines = [
        "# CPU preset: one search per method",
        "",
        f"`python benchmarks/cpu_preset_time.py --threads {a.threads}` on {cpu_model()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.platform()}); load average at the end "
        f"{os.getloadavg()[0]:.2f} (at the start {load_start:.2f}). Wall time of the whole process (start, data "
        "loading, search, result).",
        "",
        f"The cpu preset: C={CPU.channels}, N={CPU.cells_per_stage}, the first {CPU.train_limit} samples of each "
        f"search half, batch {CPU.batch_size}. {' '.join(budget_note('cpu'))} So the per-10-epoch time beside the "
        "wall time compares the methods' cost per epoch.",
        "",
        "| method | wall s | target s | epochs | wall s per 10 epochs | C10 test of the cell (%) "
        "| parameter-free ops |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    write_report("cpu_preset_time.md", lines)


if __name__ == "__main__":
    main()
