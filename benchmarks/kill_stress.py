"""Kill a CPU-preset search with SIGKILL at N random points (some during a
checkpoint write), resume each time, and check that it ends with the same cell,
architecture parameters and metrics as an uninterrupted run.
Writes benchmarks/results/kill_stress.md.

    python benchmarks/kill_stress.py --data-root ../shared/data/cifar10 [--kills 20] [--method sd-darts]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from report import write_report

from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.faults import random_kills, run_with_kills, search_command


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", required=True)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--method", default="sd-darts")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    args = ["-m", a.method, "--preset", "cpu", "--seed", str(a.seed), "--quiet", "--device", "cpu",
            "--data-root", a.data_root]
    work = Path(tempfile.mkdtemp(prefix="kill-stress-"))
    t = time.perf_counter()
    subprocess.run(search_command(args, work / "full", resume=False), check=True)
    t_full = time.perf_counter() - t
    epochs = len(RunDir(work / "full").metrics())
    epoch_s = sum(r["epoch_seconds"] for r in RunDir(work / "full").metrics()) / epochs
    kills = random_kills(a.kills, epochs, epoch_s, seed=a.seed)
    t = time.perf_counter()
    reports = run_with_kills(args, work / "cut", kills)
    t_cut = time.perf_counter() - t
    full, cut = RunDir(work / "full"), RunDir(work / "cut")
    same_cell = full.result()["cell"] == cut.result()["cell"]
    arch_a, arch_b = full.load_checkpoint()["method"]["arch"], cut.load_checkpoint()["method"]["arch"]
    same_arch = all(torch.equal(x, y) for x, y in zip(arch_a, arch_b))
    strip = lambda rs: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rs]  # noqa: E731
    same_metrics = strip(full.metrics()) == strip(cut.metrics())
    lines = [
        "# Kill-and-resume stress test",
        "",
        f"`python benchmarks/kill_stress.py --kills {a.kills} --method {a.method}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}.",
        f"Uninterrupted run: {t_full:.1f} s; killed-and-resumed run: {t_cut:.1f} s in {len(reports) + 1} processes.",
        "",
        "| # | after epoch | then (s) | during checkpoint write (caught) | killed | finished epochs after kill |",
        "|---|---|---|---|---|---|",
        *(f"| {i + 1} | {r.kill.epoch} | {r.kill.after_s:.2f} | {r.kill.during_checkpoint}"
          f"{'' if r.caught_write is None else f' ({r.caught_write})'} | {r.killed} | {r.epochs_done} |"
          for i, r in enumerate(reports)),
        "",
        f"- same final cell: **{same_cell}** ({cut.result()['cell']})",
        f"- same architecture parameters (bit for bit): **{same_arch}**",
        f"- same per-epoch metrics (except wall time): **{same_metrics}**",
        "",
    ]
    write_report("kill_stress.md", lines)
    if not (same_cell and same_arch and same_metrics):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
