"""How far each method of an experiment collapsed: per group, the final cell's
parameter-free ops (none, skip, pooling) and skip connections per seed, how
many seeds ended with at least 4 of each, the CIFAR-10 test accuracy of the
cell, and Welch's t-test of each against a baseline group. Prints Markdown.

    python benchmarks/collapse_stats.py results/proxy [--baseline darts-v1]
    python benchmarks/collapse_stats.py results/proxy-warmup --baseline darts-v1 --baseline-from results/proxy

(The six accuracy columns with their tests are in the experiment's table.md;
this adds the counts the paper's collapse is about: its DARTS rows are the
all-skip cell, 54.30 CIFAR-10 test.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

from scipy.stats import ttest_ind

from nasbench_sd.cells import Cell


def skips(cell: str) -> int:
    """Edges of an NB201 arch string that are skip_connect."""
    return Cell.from_string(cell).num_skip_connections


def groups(root: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in sorted(root.glob("*/seed-*/result.json")):
        out.setdefault(p.parent.parent.name, []).append(json.loads(p.read_text()))
    for runs in out.values():
        runs.sort(key=lambda r: r["seed"])
    return out


def mean_std(v: list[float]) -> str:
    return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"


def welch(a: list[float], b: list[float]) -> str:
    if len(a) < 2 or len(b) < 2 or (statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0):
        return "-"
    with warnings.catch_warnings():  # scipy warns when one group's values are all equal; the test still holds
        warnings.simplefilter("ignore", RuntimeWarning)
        return f"{ttest_ind(a, b, equal_var=False).pvalue:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", type=Path)
    p.add_argument("--baseline", default="darts-v1", help="the group every other group is tested against")
    p.add_argument("--baseline-from", type=Path, default=None,
                   help="the experiment holding the baseline group, when it is not EXPERIMENT itself "
                        "(an ablation against results/proxy's darts-v1); it is then listed as a first row")
    a = p.parse_args()
    g = groups(a.experiment)
    if a.baseline_from is not None:
        g = {f"{a.baseline} ({a.baseline_from})": groups(a.baseline_from).get(a.baseline, []), **g}
        a.baseline = next(iter(g))
    base = g.get(a.baseline, [])
    if not base:
        print(f"collapse_stats: no finished runs of the baseline group {a.baseline!r}", file=sys.stderr)
        raise SystemExit(2)
    col = {
        "pfo": lambda r: float(r["num_parameter_free"]),
        "skip": lambda r: float(skips(r["cell"])),
        "c10": lambda r: float(r["benchmark"]["c10_test"]),
    }
    print(f"| group | n | seeds | parameter-free ops per seed | >= 4 | skip per seed | >= 4 skip | all-skip cell | "
          f"parameter-free ops mean ± std (p vs {a.baseline}) | C10 test mean ± std (p vs {a.baseline}) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, runs in g.items():
        v = {k: [f(r) for r in runs] for k, f in col.items()}
        b = {k: [f(r) for r in base] for k, f in col.items()}
        own = name == a.baseline
        print(f"| {name} | {len(runs)} | {' '.join(str(r['seed']) for r in runs)} | "
              f"{' '.join(str(int(x)) for x in v['pfo'])} | {sum(x >= 4 for x in v['pfo'])}/{len(runs)} | "
              f"{' '.join(str(int(x)) for x in v['skip'])} | {sum(x >= 4 for x in v['skip'])}/{len(runs)} | "
              f"{sum(x == 6 for x in v['skip'])}/{len(runs)} | "
              f"{mean_std(v['pfo'])} ({'-' if own else welch(v['pfo'], b['pfo'])}) | "
              f"{mean_std(v['c10'])} ({'-' if own else welch(v['c10'], b['c10'])}) |")


if __name__ == "__main__":
    main()
