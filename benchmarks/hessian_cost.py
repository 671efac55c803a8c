"""Cost of the exact Hessian diagnostic (``hessian_every``) as a ratio to the cost of
a search epoch in the same run: a `cpu`-preset search on the real CIFAR-10 with an
estimate after every epoch. Writes benchmarks/results/hessian_cost.md.

    python benchmarks/hessian_cost.py --data-root ../shared/data/cifar10 [--epochs 2] [--samples 64,256]

Each estimate is 30 Hessian-vector products (double back-propagation through
one forward pass on ``hessian_samples`` fixed valid images); an epoch of the
`cpu` preset is ``train_limit / batch_size`` steps of a weight and an arch step on 64 images each.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from report import write_report

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def measure(method: str, samples: int, epochs: int, data_root: str, threads: int) -> dict:
    """Run one search with an estimate after every epoch; time each estimate."""
    import torch

    from nasbench_sd.presets import build_run_config
    from nasbench_sd.search import loop, run_search
    from nasbench_sd.search.rundir import RunDir

    torch.set_num_threads(threads)
    cfg = build_run_config(method, "cpu", 0, {"epochs": str(epochs), "hessian_every": "1",
                                              "hessian_samples": str(samples), "method.warmup": "0"}
                           if method == "sd-darts" else
                           {"epochs": str(epochs), "hessian_every": "1", "hessian_samples": str(samples)})
    timed, inner = [], loop.top_hessian_eigenvalue

    def timing(*args, **kwargs):
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            timed.append(time.perf_counter() - t)

    loop.top_hessian_eigenvalue = timing
    try:
        out = Path(tempfile.mkdtemp(prefix="hessian-cost-")) / "run"
        run_search(cfg, out, data_root=data_root, quiet=True)
    finally:
        loop.top_hessian_eigenvalue = inner
    records = RunDir(out).metrics()
    epoch_s = statistics.mean(r["epoch_seconds"] for r in records)
    hess_s = statistics.mean(timed)
    return {"method": method, "samples": samples, "epoch_s": epoch_s, "hessian_s": hess_s,
            "ratio": hess_s / epoch_s, "eigs": [r["hessian_eig"] for r in records]}


def main() -> None:
    from nasbench_sd.config import CPU

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", required=True)
    p.add_argument("--method", default="darts-v1")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--samples", default="64", help="comma-separated hessian_samples values")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--note", default="", help="a line about the machine's load, written into the report")
    a = p.parse_args()
    rows = []
    for n in (int(v) for v in a.samples.split(",")):
        r = measure(a.method, n, a.epochs, a.data_root, a.threads)
        rows.append(f"| {r['method']} | {r['samples']} | {r['epoch_s']:.2f} | {r['hessian_s']:.2f} | "
                    f"{r['ratio']:.2f} | {', '.join(f'{e:.4g}' for e in r['eigs'])} |")
        print(rows[-1], flush=True)
    lines = [
        "# Exact Hessian diagnostic: cost per estimate against an epoch",
        "",
        f"`python benchmarks/hessian_cost.py --method {a.method} --epochs {a.epochs} --samples {a.samples} "
        f"--threads {a.threads}` on {platform.machine()}, {os.cpu_count()} cores ({platform.platform()}); "
        f"load average at the end {os.getloadavg()[0]:.2f}. `cpu` preset (C={CPU.channels}, N={CPU.cells_per_stage}, "
        f"{CPU.train_limit} images per half, {CPU.train_limit // CPU.batch_size} steps per epoch); one estimate "
        "after every epoch; both times from the same run, so the ratio "
        "holds on a busy machine better than either time." + (f" {a.note}" if a.note else ""),
        "",
        "| method | hessian_samples | epoch s (mean) | Hessian s (mean) | Hessian / epoch | eigenvalues |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    write_report("hessian_cost.md", lines)


if __name__ == "__main__":
    main()
