"""The dominant Hessian eigenvalue per epoch of each run that recorded it
(``hessian_eig`` in metrics.jsonl; SD-DARTS Fig. 2), beside the derived cell's
parameter-free ops, and each run's mean over chosen epochs. Prints Markdown.

    python benchmarks/hessian_curve.py results/proxy-hessian [--from-epoch 22]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def curves(root: Path) -> dict[str, dict[int, dict]]:
    out = {}
    for p in sorted(root.glob("*/seed-*/metrics.jsonl")):
        records = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
        out[f"{p.parent.parent.name} seed {p.parent.name.removeprefix('seed-')}"] = {
            r["epoch"]: r for r in records if r.get("hessian_eig") is not None}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", type=Path)
    p.add_argument("--from-epoch", type=int, default=1, help="first epoch of the means under the table")
    a = p.parse_args(argv)
    runs = curves(a.experiment)
    epochs = sorted({e for r in runs.values() for e in r})
    print("| epoch | " + " | ".join(f"{name}: eigenvalue (parameter-free ops)" for name in runs) + " |")
    print("|---" * (1 + len(runs)) + "|")
    for e in epochs:
        cells = [f"{r[e]['hessian_eig']:.2f} ({r[e]['num_parameter_free']})" if e in r else "-" for r in runs.values()]
        print(f"| {e} | {' | '.join(cells)} |")
    means = [f"{name} {statistics.mean(r[e]['hessian_eig'] for e in r if e >= a.from_epoch):.2f} "
             f"({sum(e >= a.from_epoch for e in r)} estimates)" for name, r in runs.items()]
    print(f"\nMean eigenvalue from epoch {a.from_epoch} on: {'; '.join(means)}.")


if __name__ == "__main__":
    main()
