"""The ``final`` figure: where each group's searches ended, seed by seed.

Table 4 as a picture. One row per group (method or ablation setting) and four
panels: the NB201 accuracy of each run's final derived cell on CIFAR-10,
CIFAR-100 and ImageNet16-120 (test, or valid with ``split="valid"``), and the
number of parameter-free ops (none, skip, pooling) in that cell, the count the
paper's collapse is about. Each seed is a dot, the group's mean ± sample std a
black bar; the published mean ± std of the group's method (SD-DARTS Table 4,
or the method's own source) is a hollow diamond just above the row, and the
best cell of the benchmark a dashed line. Published rows were measured at the
paper's scale: under a scaled preset they show where the method ends at that
scale, not what this preset should give, and the title says so.

Only finished runs (a ``result.json``) are drawn; the per-epoch curves are
the other figures of :mod:`nasbench_sd.report.plot`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench_sd.experiments.layout import FoundRun

#: Vertical offset of a published marker above its row, and the spread of a row's seed dots.
PUBLISHED_OFFSET = 0.32
JITTER = 0.18


@dataclass(frozen=True)
class FinalGroup:
    """The final cells of one group's finished runs."""

    label: str
    method: str
    preset: str
    seeds: tuple[int, ...]
    figures: dict[str, tuple[float, ...]]  # benchmark column -> one value per seed
    param_free: tuple[int, ...]  # parameter-free ops of each seed's final cell

    @property
    def n(self) -> int:
        return len(self.seeds)


def final_groups(found: list[FoundRun], chosen: set[str] | None = None) -> list[FinalGroup]:
    """One :class:`FinalGroup` per group of ``found`` (in the order first seen), seeds ascending;
    only the groups in ``chosen`` when it is given."""
    from nasbench_sd.benchmark import COLUMNS

    by_group: dict[str, list[FoundRun]] = {}
    for r in found:
        if chosen is None or r.group in chosen:
            by_group.setdefault(r.group, []).append(r)
    out = []
    for label, runs in by_group.items():
        runs = sorted(runs, key=lambda r: r.seed)
        first = runs[0].result
        out.append(FinalGroup(
            label=label, method=str(first.get("method", label)),
            preset=str(first.get("preset", first.get("config", {}).get("preset", "?"))),
            seeds=tuple(r.seed for r in runs),
            figures={c: tuple(float(r.result["benchmark"][c]) for r in runs) for c in COLUMNS},
            param_free=tuple(_cell(r).num_parameter_free for r in runs)))
    return out


def _cell(run: FoundRun):
    """The final cell of a run; a result.json without a valid arch string is one clear error."""
    from nasbench_sd.cells import Cell
    from nasbench_sd.errors import UserError

    try:
        return Cell.from_string(str(run.result.get("cell", "")))
    except UserError as e:
        raise UserError(f"{run.path}/result.json has no valid final cell ({e}); move that run aside") from None


def published_of(method: str) -> list[tuple[str, dict[str, tuple[float, float]]]]:
    """(source label, column -> (mean, std)) of every published row of ``method``."""
    from nasbench_sd.benchmark import COLUMNS
    from nasbench_sd.report.published import SOURCE, all_published

    return [("SD-DARTS Table 4" if source == SOURCE else source, dict(zip(COLUMNS, pairs)))
            for _, m, source, pairs in all_published() if m == method]


def _jitter(n: int) -> list[float]:
    """Evenly spread vertical offsets of n seed dots around their row (0 for one)."""
    if n < 2:
        return [0.0] * n
    return [-JITTER + 2 * JITTER * k / (n - 1) for k in range(n)]


def _row(ax: Any, y: int, values: tuple[float, ...], color: Any) -> None:
    from nasbench_sd.report.table import mean_std

    ax.scatter(values, [y + d for d in _jitter(len(values))], s=16, color=color, alpha=0.8, zorder=3,
               label="one seed's final cell", gid="seed")
    m, s = mean_std(list(values))
    ax.errorbar([m], [y], xerr=[s], fmt="|", color="black", markersize=12, capsize=3, linewidth=1.2,
                zorder=4, label="mean ± std over seeds", gid="mean")


def _published(ax: Any, y: int, rows: list[tuple[str, dict[str, tuple[float, float]]]], column: str) -> None:
    for k, (_, figures) in enumerate(rows):
        m, s = figures[column]
        ax.errorbar([m], [y + PUBLISHED_OFFSET + 0.12 * k], xerr=[s], fmt="D", markersize=5, mfc="none",
                    color="tab:red", capsize=2, linewidth=1, zorder=4, gid="published",
                    label="published mean ± std (paper's protocol)")


def plot_final(groups: list[FinalGroup], folder: Path, split: str = "test") -> list[Path]:
    """Write final.png/.pdf (or final-valid with ``split="valid"``); [] when no group finished."""
    from nasbench_sd.report.figure import BENCH, DATASETS, best_accuracy, group_color, pyplot, save, spread_note

    if not groups:
        return []
    plt = pyplot()
    height = 1.2 + 0.42 * len(groups)
    fig, axes = plt.subplots(1, 4, figsize=(15, height), sharey=True, constrained_layout=True,
                             gridspec_kw={"width_ratios": [3, 3, 3, 2]})
    best = best_accuracy(split)
    ys = list(range(len(groups)))[::-1]  # first group on top
    for ax, (prefix, name) in zip(axes, DATASETS):
        column = f"{prefix}_{split}"
        for i, (y, g) in enumerate(zip(ys, groups)):
            _row(ax, y, g.figures[column], group_color(i))
            _published(ax, y, published_of(g.method), column)
        ax.axvline(best[prefix], color="0.4", linestyle="--", linewidth=1, label="best cell in NB201")
        ax.set_title(f"{name} {split} (best cell {best[prefix]:.2f})", fontsize=10)
        ax.set_xlabel(f"{split} accuracy of the final cell (%)")
    ax = axes[3]
    for i, (y, g) in enumerate(zip(ys, groups)):
        _row(ax, y, tuple(float(v) for v in g.param_free), group_color(i))
    ax.set_xlim(-0.4, 6.4)
    ax.set_xticks(range(7))
    ax.set_title("parameter-free ops (6: all-skip or none)", fontsize=10)
    ax.set_xlabel("none, skip, pooling edges of 6")
    axes[0].set_yticks(ys, [f"{g.label} (n={g.n})" for g in groups])
    axes[0].set_ylim(-0.6, len(groups) - 0.4 + PUBLISHED_OFFSET)
    for a in axes:
        a.grid(alpha=0.3, axis="x")
    handles = {}
    for a in axes[:3]:
        for h, lab in zip(*a.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    labels = list(handles)
    fig.legend([handles[k] for k in labels], labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    presets = sorted({g.preset for g in groups})
    scale = ("" if presets == ["paper"] else
             "; published rows are at the paper's scale, not this preset's")
    fig.suptitle(f"Final derived cell of every run ({BENCH}; preset {', '.join(presets)}; dots: one seed each, "
                 f"bars: {spread_note([g.n for g in groups])}{scale})", fontsize=10)
    return save(fig, folder, "final" if split == "test" else f"final-{split}")
