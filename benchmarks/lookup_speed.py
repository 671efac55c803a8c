"""Benchmark lookup speed: a cold `nasbench-sd query` process, an in-process
lookup of all 15,625 cells, and a cold batch query of all 15,625 cells, against
the targets of the foundation issue and issue 15 (< 2 s, < 1 s, < 2 s). Writes benchmarks/results/lookup_speed.md.

    python benchmarks/lookup_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from report import write_report

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def cold_query_seconds() -> float:
    exe = shutil.which("nasbench-sd", path=str(Path(sys.executable).parent)) or shutil.which("nasbench-sd")
    cmd = [exe, "query", ALL_SKIP] if exe else [sys.executable, "-m", "nasbench_sd", "query", ALL_SKIP]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def batch_query_seconds(cells_file: Path) -> float:
    """A cold `nasbench-sd query --batch FILE` process over all 15,625 arch strings (CSV out)."""
    exe = shutil.which("nasbench-sd", path=str(Path(sys.executable).parent)) or shutil.which("nasbench-sd")
    cmd = [exe] if exe else [sys.executable, "-m", "nasbench_sd"]
    t = time.perf_counter()
    subprocess.run([*cmd, "query", "--batch", str(cells_file)], check=True, capture_output=True)
    return time.perf_counter() - t


def _all_cells_file() -> Path:
    import tempfile

    from nasbench_sd.benchmark import get_benchmark

    b = get_benchmark()
    path = Path(tempfile.mkdtemp()) / "all-cells.txt"
    path.write_text("\n".join(str(b.cell(i)) for i in range(15625)) + "\n")
    return path


def bulk_lookup_seconds() -> tuple[float, float]:
    """(first pass incl. loading the table, second pass) over all cells, in a fresh process."""
    code = (
        "import time\n"
        "from nasbench_sd.benchmark import get_benchmark\n"
        "from nasbench_sd.cells import all_cells\n"
        "cells = list(all_cells())\n"
        "b = get_benchmark()\n"
        "t = time.perf_counter(); [b.record(c) for c in cells]; t1 = time.perf_counter() - t\n"
        "t = time.perf_counter(); [b.record(c) for c in cells]; t2 = time.perf_counter() - t\n"
        "print(t1, t2)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    first, second = (float(v) for v in out.split())
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cold = [cold_query_seconds() for _ in range(args.repeats)]
    bulk = [bulk_lookup_seconds() for _ in range(args.repeats)]
    cells_file = _all_cells_file()
    batch = [batch_query_seconds(cells_file) for _ in range(args.repeats)]
    cpu = platform.processor() or platform.machine()
    machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "# Benchmark lookup speed",
        "",
        f"Machine: {machine} ({platform.platform()}). Median of {args.repeats} runs; "
        "`python benchmarks/lookup_speed.py`.",
        "",
        "| what | median s | min s | target s |",
        "|---|---|---|---|",
        f"| cold `nasbench-sd query CELL` process | {statistics.median(cold):.3f} | {min(cold):.3f} | 2.0 |",
        f"| all 15,625 cells, first pass (loads the table) | {statistics.median(b[0] for b in bulk):.3f} "
        f"| {min(b[0] for b in bulk):.3f} | 1.0 |",
        f"| all 15,625 cells, warm | {statistics.median(b[1] for b in bulk):.3f} | {min(b[1] for b in bulk):.3f} | - |",
        f"| cold `nasbench-sd query --batch FILE`, all 15,625 arch strings | {statistics.median(batch):.3f} "
        f"| {min(batch):.3f} | 2.0 |",
        "",
    ]
    write_report("lookup_speed.md", lines)


if __name__ == "__main__":
    main()
