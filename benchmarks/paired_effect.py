"""The paired effect of one setting, experiment by experiment: in each experiment, group
``--treatment`` minus group ``--control`` per seed (runs paired by seed; the seeds on one side only
are named), with the mean difference, a percentile-bootstrap 95% interval, the paired t-test
and Holm's adjustment over the family of every test the table prints, and the exact Wilcoxon
signed-rank p (the statistics of ``nasbench-sd table``'s method-against-control effects,
:mod:`nasbench_sd.report.effects`). Prints Markdown.

    python benchmarks/paired_effect.py results/arena-sd/default results/arena-sd/warmup-frozen \\
        --treatment sd-darts-lam=1 --control sd-darts-lam=0 --columns pfo,skip,c10_test,in16_test

``--controls`` pairs instead, in each experiment, every group ``G`` that has a group
``G-control`` (what ``nasbench-sd run --controls`` makes): one row per method, its idea against
its control, Holm over every printed test (``nasbench-sd table`` adjusts per column instead):

    python benchmarks/paired_effect.py results/arena --controls --columns pfo,skip,c10_test

Columns: ``pfo`` (parameter-free ops of the final cell: none, skip_connect, avg_pool_3x3),
``skip`` (skip connections), ``maxp`` (mean over edges of the largest op probability at the end)
and the NB201 accuracies (``c10_valid`` ... ``in16_test``). A second table lists, per experiment
and group, the per-seed values of the counts and how many runs converged. ``--plot DIR`` also
draws paired-effect.png/.pdf there: one panel per column and experiment, one line per seed from
its control run to its treated run (a slope graph), n in each title, full y range.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from nasbench_sd.cells import Cell
from nasbench_sd.convergence import is_converged
from nasbench_sd.errors import UserError
from nasbench_sd.experiments.manifest import load_manifest
from nasbench_sd.report.compare import holm
from nasbench_sd.report.effects import SUFFIX, Effect, effect

ACCURACY = {"c10_valid": "CIFAR-10 valid", "c10_test": "CIFAR-10 test", "c100_valid": "CIFAR-100 valid",
            "c100_test": "CIFAR-100 test", "in16_valid": "ImageNet16-120 valid", "in16_test": "ImageNet16-120 test"}
COUNTS = {"pfo": "parameter-free ops", "skip": "skip connections", "maxp": "mean largest op probability"}
NAMES = {**COUNTS, **ACCURACY}


@dataclass(frozen=True)
class Row:
    """One printed pair: a treatment group against its control group in one experiment."""

    experiment: Path
    key: str  # names the row in the Holm family
    treatment: str
    control_group: str
    seeds: list[int]
    unpaired: list[int]
    treated: dict[int, dict]
    control: dict[int, dict]
    effects: dict[str, Effect]


def value(result: dict, column: str) -> float:
    """One run's figure for a column."""
    if column == "pfo":
        return float(result["num_parameter_free"])
    if column == "skip":
        return float(Cell.from_string(result["cell"]).num_skip_connections)
    if column == "maxp":
        return float(result["convergence"]["mean_max_op_prob"])
    return float(result["benchmark"][column])


def runs(experiment: Path, group: str) -> dict[int, dict]:
    """seed -> result.json of one group's finished runs."""
    out = {}
    for p in sorted((experiment / group).glob("seed-*/result.json")):
        r = json.loads(p.read_text())
        out[int(r["seed"])] = r
    return out


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _fmt(v: float, column: str) -> str:
    return f"{v:g}" if column in ("pfo", "skip") else f"{v:.2f}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiments", type=Path, nargs="+")
    p.add_argument("--treatment", help="the group whose setting is measured (e.g. sd-darts-lam=1)")
    p.add_argument("--control", help="the group without it, same seeds (e.g. sd-darts-lam=0)")
    p.add_argument("--controls", action="store_true",
                   help="pair every group G with its group G-control instead of --treatment/--control")
    p.add_argument("--columns", default="pfo,skip,c10_test", help=f"comma-separated ({', '.join(NAMES)})")
    p.add_argument("--plot", type=Path, default=None, help="a folder: write paired-effect.png/.pdf there")
    a = p.parse_args(argv)
    a.columns = [c.strip() for c in a.columns.split(",")]
    if a.controls == (a.treatment is not None or a.control is not None) or (
            not a.controls and (a.treatment is None or a.control is None)):
        print("paired_effect: give either --treatment and --control, or --controls", file=sys.stderr)
        raise SystemExit(2)
    bad = [c for c in a.columns if c not in NAMES]
    if bad:
        print(f"paired_effect: unknown column(s) {', '.join(bad)} (known: {', '.join(NAMES)})", file=sys.stderr)
        raise SystemExit(2)
    return a


def pairs(a: argparse.Namespace) -> list[tuple[Path, str, str]]:
    """(experiment, treatment group, control group) of every row, in order."""
    if not a.controls:
        return [(exp, a.treatment, a.control) for exp in a.experiments]
    out = []
    for exp in a.experiments:
        groups = {d.name for d in exp.iterdir() if d.is_dir()} if exp.is_dir() else set()
        try:
            manifest = load_manifest(exp) or {}  # the groups an experiment declares, run or not
        except UserError as e:
            print(f"paired_effect: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        groups |= set(manifest.get("groups", {}))
        found = [(exp, g[: -len(SUFFIX)], g) for g in sorted(groups)
                 if g.endswith(SUFFIX) and g[: -len(SUFFIX)] in groups]
        if not found:
            print(f"paired_effect: {exp} has no group G beside a group G{SUFFIX}", file=sys.stderr)
            raise SystemExit(2)
        out += found
    return out


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    rows, tests, waiting = [], {}, []
    for exp, treatment, control_group in pairs(a):
        treated, control = runs(exp, treatment), runs(exp, control_group)
        if a.controls and not set(treated) & set(control):  # an experiment still running
            waiting.append(treatment)
            continue
        if not treated or not control:
            missing = treatment if not treated else control_group
            print(f"paired_effect: {exp} has no finished run of {missing}", file=sys.stderr)
            raise SystemExit(2)
        seeds = sorted(set(treated) & set(control))
        unpaired = sorted(set(treated) ^ set(control))
        effects = {c: effect([value(treated[s], c) - value(control[s], c) for s in seeds]) for c in a.columns}
        key = f"{exp} {treatment}" if a.controls else str(exp)
        for c, e in effects.items():
            if e.p_t is not None:
                tests[(key, c)] = e.p_t
        rows.append(Row(exp, key, treatment, control_group, seeds, unpaired, treated, control, effects))
    if not rows:
        print(f"paired_effect: no method has a seed finished both by itself and by its control "
              f"({', '.join(waiting)})", file=sys.stderr)
        raise SystemExit(2)
    adjusted = holm(tests)

    if a.controls:
        heads = [f"{NAMES[c]}: method - control" for c in a.columns]
        print(f"| experiment | method | n | seeds | {' | '.join(heads)} |")
        print("|---|---|---|---|" + "---|" * len(a.columns))
    else:
        heads = [f"{NAMES[c]}: {a.treatment} - {a.control}" for c in a.columns]
        print(f"| experiment | n | seeds | {' | '.join(heads)} |")
        print("|---|---|---|" + "---|" * len(a.columns))
    for row in rows:
        exp, seeds, unpaired, effects = row.experiment, row.seeds, row.unpaired, row.effects
        cells = []
        for c in a.columns:
            e = effects[c]
            interval = "" if e.low is None else f" [{e.low:+.2f}, {e.high:+.2f}]"
            cells.append(f"{e.mean:+.2f}{interval} (p {_p(e.p_t)}, Holm {_p(adjusted.get((row.key, c)))}, "
                         f"Wilcoxon {_p(e.p_wilcoxon)})")
        seed_text = " ".join(map(str, seeds)) + (f" (unpaired: {' '.join(map(str, unpaired))})" if unpaired else "")
        method = f" {row.treatment} |" if a.controls else ""
        print(f"| {exp} |{method} {len(seeds)} | {seed_text} | {' | '.join(cells)} |")
    print()
    what = f"G - G{SUFFIX} (a method's run minus its control's)" if a.controls else f"{a.treatment} - {a.control}"
    shape = (f"{len(rows)} methods" if a.controls else f"{len(a.experiments)} experiments")
    print(f"Per seed: the difference {what} of the two runs of that seed; its mean, a "
          "percentile-bootstrap 95% interval (10,000 resamples, seed 0), the paired t-test p, Holm over the family "
          f"of the {len(tests)} paired t-tests above ({shape} x {len(a.columns)} columns, "
          f"a test is left out where all differences are equal); "
          f"{sum(p < 0.05 for p in adjusted.values())} of them below 0.05 after adjustment. Wilcoxon: exact "
          "signed-rank p, uncorrected.")
    if waiting:
        print(f"Not paired yet (no seed finished both by the method and by its control): {', '.join(waiting)}.")
    print()
    counts = [c for c in a.columns if c in ("pfo", "skip")]
    print(f"| experiment | group | {' | '.join(NAMES[c] + ' per seed' for c in counts)} | converged |")
    print("|---|---|" + "---|" * (len(counts) + 1))
    for row in rows:
        for label, group in ((row.treatment, row.treated), (row.control_group, row.control)):
            per = [" ".join(_fmt(value(group[s], c), c) for s in sorted(group)) for c in counts]
            conv = sum(bool(is_converged(r.get("convergence") or {})) for r in group.values())
            print(f"| {row.experiment} | {label} | {' | '.join(per)} | {conv}/{len(group)} |")
    if a.plot is not None:
        plot(a, rows, adjusted)


def plot(a: argparse.Namespace, rows: list, adjusted: dict) -> None:
    """Small multiples: rows = columns, panels = experiments; per seed a line control -> treatment."""
    from nasbench_sd.report.figure import BENCH, pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(len(a.columns), len(rows), figsize=(2.6 * len(rows), 2.4 * len(a.columns)),
                             squeeze=False, sharey="row")
    for i, c in enumerate(a.columns):
        for j, row in enumerate(rows):
            seeds, treated, control, effects = row.seeds, row.treated, row.control, row.effects
            ax = axes[i][j]
            for k, s in enumerate(seeds):  # counts are integers: seeds spread apart by a small offset
                off = (k - (len(seeds) - 1) / 2) * 0.05 if c in ("pfo", "skip") else 0.0
                ax.plot([0, 1], [value(control[s], c) + off, value(treated[s], c) + off], color="0.45", lw=0.9,
                        marker="o", ms=3)
            e = effects[c]
            ax.plot([0, 1], [sum(value(control[s], c) for s in seeds) / len(seeds),
                             sum(value(treated[s], c) for s in seeds) / len(seeds)], color="C3", lw=2.2, label="mean")
            ax.set_xticks([0, 1], ["control" if a.controls else a.control,
                                   row.treatment if a.controls else a.treatment], fontsize=7)
            ax.set_xlim(-0.25, 1.25)
            if c in ("pfo", "skip"):
                ax.set_ylim(-0.3, 6.3)
            elif c == "maxp":
                ax.set_ylim(0, 1)
            holm_p = adjusted.get((row.key, c))
            name = row.treatment if a.controls else row.experiment.name
            ax.set_title(f"{name}, n={len(seeds)}\n{e.mean:+.2f}, Holm p "
                         f"{'-' if holm_p is None else format(holm_p, '.3f')}", fontsize=8)
            if j == 0:
                ax.set_ylabel(NAMES[c] + (" (%, axis not from 0)" if c in ACCURACY else ""), fontsize=8)
    title = "each method against its own control" if a.controls else f"{a.treatment} against {a.control}"
    fig.suptitle(f"{title}, paired by seed\n(grey: one seed, counts offset by up to "
                 f"±0.2 to tell seeds apart; red: mean). {BENCH}", fontsize=8)
    fig.tight_layout()
    a.plot.mkdir(parents=True, exist_ok=True)
    save(fig, a.plot, "paired-effect")


if __name__ == "__main__":
    main()
