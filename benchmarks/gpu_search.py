"""End-to-end wall time of a paper-protocol search on one CUDA GPU (issue:
"a 50-epoch paper-protocol SD-DARTS search ... at most 10 minutes on one
H100-class GPU"). Writes benchmarks/results/gpu_search.md with the device named.

    python benchmarks/gpu_search.py --data-root DIR [--method sd-darts] [--epochs 50]

Needs CUDA; prints one line and exits 1 without it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from report import write_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", required=True)
    p.add_argument("--method", default="sd-darts")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("gpu_search.py: CUDA is not available on this machine")
    from nasbench_sd.config import build_run_config
    from nasbench_sd.provenance import device_name
    from nasbench_sd.search import run_search

    cfg = build_run_config(a.method, "paper", a.seed, {"epochs": str(a.epochs)}, device="cuda")
    out = Path(tempfile.mkdtemp(prefix="gpu-search-")) / "run"
    t = time.perf_counter()
    result = run_search(cfg, out, data_root=a.data_root, quiet=True)
    wall = time.perf_counter() - t
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    per_epoch = [r["epoch_seconds"] for r in records]
    lines = [
        "# Paper-protocol search on one GPU",
        "",
        f"`python benchmarks/gpu_search.py --method {a.method} --epochs {a.epochs}` on "
        f"**{device_name('cuda')}**, torch {torch.__version__}.",
        "",
        f"- wall time end to end: **{wall / 60:.1f} min** ({wall:.0f} s; target 10 min)",
        f"- per epoch: median {sorted(per_epoch)[len(per_epoch) // 2]:.1f} s, first {per_epoch[0]:.1f} s",
        f"- peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB",
        f"- final cell: {result['cell']} (C10 test {result['benchmark']['c10_test']:.2f})",
        "",
    ]
    write_report("gpu_search.md", lines)


if __name__ == "__main__":
    main()
