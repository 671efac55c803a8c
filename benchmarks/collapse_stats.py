"""How far each group of runs collapsed: per group, the final cell's
parameter-free ops (none, skip_connect, avg_pool_3x3: the NB201 ops without
weights) and skip connections per seed, how many seeds ended with at least 4 of
each and in the all-skip cell (the paper's DARTS rows, 54.30 CIFAR-10 test), the
cell's accuracies, and Welch's t-test of each against a baseline group.
Prints Markdown.

    python benchmarks/collapse_stats.py results/proxy [--baseline darts-v1]
    python benchmarks/collapse_stats.py results/proxy-warmup --baseline darts-v1 --baseline-from results/proxy
    python benchmarks/collapse_stats.py results/proxy results/proxy-xeon --pool --groups darts-v1,sd-darts
    python benchmarks/collapse_stats.py results/proxy --columns c10_test,in16_test --holm --published

Several experiments: their groups are labelled <folder>/<group>, or, with
--pool, merged by group name (one sample over the experiments). --holm adds
Holm's adjustment over the family of every test the table prints (stated under
it). (The six accuracy columns with their tests are in an experiment's table.md.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

from nasbench_sd.cells import Cell

NAMES = {"c10_valid": "CIFAR-10 valid", "c10_test": "CIFAR-10 test", "c100_valid": "CIFAR-100 valid",
         "c100_test": "CIFAR-100 test", "in16_valid": "ImageNet16-120 valid", "in16_test": "ImageNet16-120 test"}
COUNTS = {"pfo": ("parameter-free ops", lambda r: float(r["num_parameter_free"])),
          "skip": ("skip connections", lambda r: float(Cell.from_string(r["cell"]).num_skip_connections))}


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


def gather(roots: list[Path], pool: bool) -> dict[str, list[dict]]:
    """The groups of one experiment, or of several (labelled <folder>/<group>, or merged with ``pool``)."""
    if len(roots) == 1:
        return groups(roots[0])
    out: dict[str, list[dict]] = {}
    for root in roots:
        for name, runs in groups(root).items():
            out.setdefault(name if pool else f"{root.name}/{name}", []).extend(runs)
    return out


def select(g: dict[str, list[dict]], wanted: str | None) -> dict[str, list[dict]]:
    """The groups named in ``wanted`` (comma-separated; a bare group name matches <folder>/<name>), in that order."""
    if not wanted:
        return g
    out = {}
    for w in (x.strip() for x in wanted.split(",")):
        hits = [k for k in g if k == w or k.split("/", 1)[-1] == w]
        if not hits:
            print(f"collapse_stats: no group {w!r} (groups: {', '.join(g)})", file=sys.stderr)
            raise SystemExit(2)
        out.update({k: g[k] for k in hits})
    return out


def mean_std(v: list[float]) -> str:
    return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"


def welch_p(a: list[float], b: list[float]) -> float | None:
    if len(a) < 2 or len(b) < 2 or (statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0):
        return None
    from scipy.stats import ttest_ind

    with warnings.catch_warnings():  # scipy warns when one group's values are all equal; the test still holds
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(ttest_ind(a, b, equal_var=False).pvalue)


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def welch(a: list[float], b: list[float]) -> str:
    return fmt_p(welch_p(a, b))


def published(method: str, column: str) -> str:
    from nasbench_sd.report.published import all_published

    pos = list(NAMES).index(column)
    rows = [f"{pairs[pos][0]:.2f} ± {pairs[pos][1]:.2f}" for _, m, _, pairs in all_published() if m == method]
    return " / ".join(rows) or "-"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiments", type=Path, nargs="+")
    p.add_argument("--baseline", default="darts-v1", help="the group every other group is tested against")
    p.add_argument("--baseline-from", type=Path, default=None,
                   help="the experiment holding the baseline group, when it is not EXPERIMENT itself "
                        "(an ablation against results/proxy's darts-v1); it is then listed as a first row")
    p.add_argument("--groups", default=None, help="comma-separated groups to show, in this order (default: all)")
    p.add_argument("--pool", action="store_true", help="merge groups of the same name over the experiments")
    p.add_argument("--columns", default="c10_test", help=f"accuracy columns, comma-separated ({', '.join(NAMES)})")
    p.add_argument("--holm", action="store_true", help="add Holm-adjusted p over every test of the table")
    p.add_argument("--published", action="store_true", help="add each method's published figures per column")
    a = p.parse_args(argv)
    a.columns = [c.strip() for c in a.columns.split(",")]
    if any(c not in NAMES for c in a.columns):
        p.error(f"--columns must name some of {', '.join(NAMES)}")
    return a


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    g = gather(a.experiments, a.pool)
    if a.baseline_from is not None:
        g = {f"{a.baseline} ({a.baseline_from})": groups(a.baseline_from).get(a.baseline, []),
             **select(g, a.groups)}
        a.baseline = next(iter(g))
    else:
        g = select(g, a.groups)
        hits = [k for k in g if k == a.baseline] or [k for k in g if k.split("/", 1)[-1] == a.baseline][:1]
        a.baseline = hits[0] if hits else a.baseline
        if hits and not a.groups:  # the baseline first, the others in folder order
            g = {a.baseline: g[a.baseline], **{k: v for k, v in g.items() if k != a.baseline}}
    base = g.get(a.baseline, [])
    if not base:
        print(f"collapse_stats: no finished runs of the baseline group {a.baseline!r}", file=sys.stderr)
        raise SystemExit(2)
    values = {name: {**{k: [f(r) for r in runs] for k, (_, f) in COUNTS.items()},
                     **{c: [float(r["benchmark"][c]) for r in runs] for c in a.columns}}
              for name, runs in g.items()}
    tested = ["pfo", *a.columns]
    p = {(name, k): welch_p(values[name][k], values[a.baseline][k]) for name in g if name != a.baseline
         for k in tested}
    family = {key: v for key, v in p.items() if v is not None}
    if a.holm:
        from nasbench_sd.report.compare import holm

        adjusted = holm(family)

    def cell(name: str, k: str) -> str:
        if name == a.baseline:
            return mean_std(values[name][k])
        shown = f"p = {fmt_p(p[name, k])}"
        if a.holm and (name, k) in family:
            shown += f", Holm {fmt_p(adjusted[name, k])}"
        return f"{mean_std(values[name][k])} ({shown})"

    extra = [f"{NAMES[c]} mean ± std (p vs {a.baseline})" for c in a.columns]
    extra += [f"published {NAMES[c]}" for c in a.columns] if a.published else []
    print(f"| group | n | seeds | parameter-free ops per seed | >= 4 | skip per seed | >= 4 skip | all-skip cell | "
          f"parameter-free ops mean ± std (p vs {a.baseline}) | {' | '.join(extra)} |")
    print("|---" * (9 + len(extra)) + "|")
    for name, runs in g.items():
        v = values[name]
        pub = [published(runs[0]["method"], c) for c in a.columns] if a.published else []
        print(f"| {name} | {len(runs)} | {' '.join(str(r['seed']) for r in runs)} | "
              f"{' '.join(str(int(x)) for x in v['pfo'])} | {sum(x >= 4 for x in v['pfo'])}/{len(runs)} | "
              f"{' '.join(str(int(x)) for x in v['skip'])} | {sum(x >= 4 for x in v['skip'])}/{len(runs)} | "
              f"{sum(x == 6 for x in v['skip'])}/{len(runs)} | "
              f"{' | '.join(cell(name, k) for k in tested)} |{''.join(f' {x} |' for x in pub)}")
    if a.holm:
        print(f"\nHolm over the family of the {len(family)} Welch tests above (each group against "
              f"{a.baseline}, on parameter-free ops and {', '.join(NAMES[c] for c in a.columns)}); "
              f"{sum(v < 0.05 for v in adjusted.values())} of them below 0.05 after adjustment.")


if __name__ == "__main__":
    main()
