"""Figures of an experiment (matplotlib, Agg backend, imported on use).

* ``accuracy`` (``accuracy-valid`` with ``split="valid"``): NB201 test (or
  valid) accuracy of the cell derived after each epoch, one panel per data set,
  mean ± std band per group; groups without per-epoch records (``random``) are
  drawn as a level: a horizontal line at their final mean with a ± std band;
  with more than :data:`MAX_OVERLAY` groups, small multiples: one row per group;
* ``hessian``: largest eigenvalue of the exact Hessian of the validation loss w.r.t. alpha
  per epoch (SD-DARTS Fig. 2), when the runs recorded it;
* ``op-probs-<group>``: op probabilities per edge over epochs (seed average);
* ``param-free``: number of parameter-free ops in the derived cell per epoch
  (none, skip_connect, avg_pool_3x3: the NB201 ops without weights); with more
  than :data:`MAX_OVERLAY` groups, small multiples: one panel per group, each
  beside the reference group (darts-v1 when present) in grey;
* ``final`` (``final-valid``): the final cell of every finished run, seed by
  seed, beside the published rows (:mod:`nasbench_sd.report.plot_final`).

Legends sit outside the axes, so they never cover a curve or band. Every
title says n; a figure of single runs draws no band and says so; a y axis
that does not start at zero carries a break mark (``figure.mark_truncated_y``). When the
groups ran different numbers of epochs (each method on the same fraction of
its own paper budget), the curves of the accuracy, hessian and param-free
figures are drawn against the fraction of each run's budget (epoch / search
epochs), so that they end together. Each figure is written as PNG (150 dpi) and PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench_sd.cells import EDGES, OPS
from nasbench_sd.errors import UserError
from nasbench_sd.report.curves import GroupCurves, band, load_curves, mean_op_probs
from nasbench_sd.report.figure import (
    BENCH,
    DATASETS,
    best_accuracy,
    group_color,
    mark_truncated_y,
    pyplot,
    save,
    spread_note,
)

OP_LABELS = {"none": "none (zero)", "skip_connect": "skip connect", "nor_conv_1x1": "conv 1x1",
             "nor_conv_3x3": "conv 3x3", "avg_pool_3x3": "avg pool 3x3"}


def _setting(groups: list[GroupCurves]) -> str:
    presets = sorted({g.preset for g in groups})
    epochs = sorted({g.epochs for g in groups})
    return f"preset {', '.join(presets)}, {'/'.join(map(str, epochs))} search epochs"


STYLES = ("-", "--", "-.", ":")
#: More groups than this on one axes are unreadable: param-free becomes small multiples.
MAX_OVERLAY = 4
MARKERS = ("o", "s", "^", "D", "v", "x")


def per_budget(groups: list[GroupCurves]) -> bool:
    """Whether the groups ran different numbers of epochs (then x is the fraction of each one's budget)."""
    return len({g.epochs for g in groups}) > 1


def _line(ax: Any, curves: GroupCurves, value, i: int, clip: tuple[float, float] | None = None,
          fraction: bool = False) -> bool:
    """Mean line and ±std band of one group (style varies with ``i`` so overlaps stay visible);
    against epoch / search epochs when ``fraction``."""
    epochs, mean, std, n = band(curves, value)
    if not epochs:
        return False
    if fraction:
        epochs = [e / curves.epochs for e in epochs]
    color = group_color(i)
    ax.plot(epochs, mean, marker=MARKERS[i % len(MARKERS)], markersize=3.5, linestyle=STYLES[i % len(STYLES)],
            color=color, label=f"{curves.label} (n={curves.n})")
    if max(n) > 1:
        lo, hi = [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)]
        if clip is not None:
            lo, hi = [max(clip[0], v) for v in lo], [min(clip[1], v) for v in hi]
        ax.fill_between(epochs, lo, hi, color=color, alpha=0.15, linewidth=0)
    return True


def _int_epochs(ax: Any, label: bool = True, fraction: bool = False) -> None:
    from matplotlib.ticker import MaxNLocator

    if fraction:
        ax.set_xlim(0.0, 1.02)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if label:
        ax.set_xlabel("fraction of the search budget (epoch / search epochs)" if fraction else "search epoch")
    ax.grid(alpha=0.3)


@dataclass
class Level:
    """A group drawn as a horizontal level: final figures of runs without per-epoch records."""

    label: str
    method: str
    n: int
    values: dict[str, list[float]]  # column -> one value per seed


def _level(ax: Any, level: Level, column: str, i: int) -> None:
    from nasbench_sd.report.table import mean_std

    m, s = mean_std(level.values[column])
    color = group_color(i)
    ax.axhline(m, color=color, linestyle=STYLES[i % len(STYLES)], linewidth=1.5,
               label=f"{level.label} (final, n={level.n})")
    if level.n > 1:
        ax.axhspan(max(0.0, m - s), min(100.0, m + s), color=color, alpha=0.12, linewidth=0)


def plot_accuracy(groups: list[GroupCurves], folder: Path, split: str = "test",
                  levels: list[Level] | None = None) -> list[Path]:
    if len(groups) > MAX_OVERLAY:
        return _accuracy_multiples(groups, folder, split, levels or [])
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), constrained_layout=True)
    best, fraction = best_accuracy(split), per_budget(groups)
    for ax, (prefix, name) in zip(axes, DATASETS):
        for i, g in enumerate(groups):
            _line(ax, g, lambda r, p=prefix: r.get("benchmark", {}).get(f"{p}_{split}"), i, clip=(0.0, 100.0),
                  fraction=fraction)
        for k, level in enumerate(levels or []):
            _level(ax, level, f"{prefix}_{split}", len(groups) + k)
        ax.axhline(best[prefix], color="0.4", linestyle="--", linewidth=1, label="best cell in NB201")
        ax.set_title(f"{name} {split} (best cell {best[prefix]:.2f})")
        ax.set_ylabel(f"{split} accuracy of derived cell (%)")
        _int_epochs(ax, fraction=fraction)
        mark_truncated_y(ax)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    ns = [g.n for g in groups] + [lv.n for lv in levels or []]
    fig.suptitle(f"Benchmark {split} accuracy of the cell derived after each epoch ({BENCH}; {_setting(groups)}; "
                 f"{spread_note(ns)})", fontsize=10)
    return save(fig, folder, "accuracy" if split == "test" else f"accuracy-{split}")


def _accuracy_multiples(groups: list[GroupCurves], folder: Path, split: str, levels: list[Level]) -> list[Path]:
    """One row per group, one column per data set, each panel beside the reference group
    (grey), the levels (dotted) and the best cell (dashed); every axis from 0 to 100."""
    plt = pyplot()
    ref, fraction, best = reference_group(groups), per_budget(groups), best_accuracy(split)
    fig, axes = plt.subplots(len(groups), 3, figsize=(12, 1.9 * len(groups) + 0.8), sharex=True, sharey=True,
                             constrained_layout=True, squeeze=False)
    for i, g in enumerate(groups):
        for ax, (prefix, name) in zip(axes[i], DATASETS):
            value = lambda r, p=prefix: r.get("benchmark", {}).get(f"{p}_{split}")  # noqa: E731
            if g is not ref:
                epochs, mean, _, _ = band(ref, value)
                xs = [e / ref.epochs for e in epochs] if fraction else epochs
                ax.plot(xs, mean, color="0.6", linewidth=1.2, gid="reference")
            _line(ax, g, value, i, clip=(0.0, 100.0), fraction=fraction)
            for level in levels:
                ax.axhline(sum(level.values[f"{prefix}_{split}"]) / level.n, color="0.3", linestyle=":",
                           linewidth=1, gid="level")
            ax.axhline(best[prefix], color="0.4", linestyle="--", linewidth=1)
            ax.set_ylim(0.0, 100.0)
            ax.set_title(f"{g.label} (n={g.n}): {name} {split}", fontsize=8)
            _int_epochs(ax, label=False, fraction=fraction)
        axes[i, 0].set_ylabel("accuracy (%)", fontsize=8)
    fig.supxlabel("fraction of the search budget (epoch / search epochs)" if fraction else "search epoch",
                  fontsize=9)
    extra = "; ".join(f"dotted: {lv.label} (final mean, n={lv.n})" for lv in levels)
    fig.suptitle(f"Benchmark {split} accuracy of the cell derived after each epoch ({BENCH}; {_setting(groups)}; "
                 f"per panel: {spread_note([g.n for g in groups])}; grey: {ref.label}, mean of n={ref.n}; "
                 f"dashed: best cell{'; ' + extra if extra else ''})", fontsize=9)
    return save(fig, folder, "accuracy" if split == "test" else f"accuracy-{split}")


def _single(groups: list[GroupCurves], folder: Path, name: str, value, ylabel: str, title: str,
            clip: tuple[float, float] | None = None, from_zero: bool = False) -> list[Path]:
    """One axes, every group's curve; ``from_zero``: the y axis starts at 0 (a
    quantity whose size matters, like an eigenvalue), else it is marked when it does not."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    fraction = per_budget(groups)
    drawn = [_line(ax, g, value, i, clip, fraction) for i, g in enumerate(groups)]
    if not any(drawn):
        plt.close(fig)
        return []
    ax.set_ylabel(ylabel)
    _int_epochs(ax, fraction=fraction)
    if clip is not None:
        ax.set_ylim(clip[0] - 0.05 * (clip[1] - clip[0]), clip[1] + 0.05 * (clip[1] - clip[0]))
    if from_zero:
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    mark_truncated_y(ax)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    drawn_groups = [g for g, d in zip(groups, drawn) if d]
    ax.set_title(f"{title}\n({_setting(groups)}; {spread_note([g.n for g in drawn_groups])})", fontsize=10)
    return save(fig, folder, name)


def reference_group(groups: list[GroupCurves]) -> GroupCurves:
    """The group every small multiple is drawn against: darts-v1 (the collapse
    the others are compared with) when present, else the first."""
    return next((g for g in groups if g.method == "darts-v1"), groups[0])


def _multiples(groups: list[GroupCurves], folder: Path, name: str, value, ylabel: str, title: str,
               clip: tuple[float, float]) -> list[Path]:
    """One panel per group (its mean ± std band), each beside the reference group in grey."""
    import math

    plt = pyplot()
    ref, fraction = reference_group(groups), per_budget(groups)
    cols = 4
    rows = math.ceil(len(groups) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), sharex=True, sharey=True,
                             constrained_layout=True, squeeze=False)
    for i, (ax, g) in enumerate(zip(axes.flat, groups)):
        if g is not ref:
            epochs, mean, _, _ = band(ref, value)
            xs = [e / ref.epochs for e in epochs] if fraction else epochs
            ax.plot(xs, mean, color="0.6", linewidth=1.2, label=f"{ref.label} (n={ref.n}), mean", gid="reference")
        _line(ax, g, value, i, clip, fraction)
        ax.set_title(f"{g.label} (n={g.n})", fontsize=9)
        ax.set_ylim(clip[0] - 0.05 * (clip[1] - clip[0]), clip[1] + 0.05 * (clip[1] - clip[0]))
        _int_epochs(ax, label=False, fraction=fraction)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=8)
    fig.supxlabel("fraction of the search budget (epoch / search epochs)" if fraction else "search epoch",
                  fontsize=9)
    fig.suptitle(f"{title} ({_setting(groups)}; per panel: {spread_note([g.n for g in groups])}; "
                 f"grey: {ref.label}, mean of n={ref.n})", fontsize=10)
    return save(fig, folder, name)


def plot_op_probs(g: GroupCurves, folder: Path) -> list[Path]:
    epochs, probs = mean_op_probs(g)
    if not epochs:
        return []
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True, sharey=True, constrained_layout=True)
    for e, ax in enumerate(axes.flat):
        to, frm = EDGES[e]
        for k, op in enumerate(OPS):
            ax.plot(epochs, [p[e][k] for p in probs], marker=".", label=OP_LABELS[op])
        ax.set_title(f"edge {e}: node {frm} → node {to}", fontsize=9)
        ax.axhline(1 / len(OPS), color="0.5", linestyle=":", linewidth=1)
        ax.ticklabel_format(axis="y", useOffset=False)
        _int_epochs(ax, label=e >= 3)
    for ax in axes[:, 0]:
        ax.set_ylabel("op probability")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center", fontsize=8, title="operation")
    fig.suptitle(f"{g.label}: op probabilities per edge (mean over n={g.n} seeds; preset {g.preset}, "
                 f"{g.epochs} search epochs; dotted: uniform 1/{len(OPS)})", fontsize=10)
    safe = g.label.replace("/", "_")
    return save(fig, folder, f"op-probs-{safe}")


def _select(labels: list[str], methods_of: dict[str, str], methods: str | None) -> set[str]:
    """Group labels chosen by ``--methods`` (labels or method names); all when None."""
    if methods is None:
        return set(labels)
    wanted = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in labels and m not in methods_of.values()]
    if not wanted or unknown:
        raise UserError(f"--methods names {', '.join(unknown) or repr(methods)}, not a group of this experiment "
                        f"(groups: {', '.join(labels)})")
    return {label for label in labels if label in wanted or methods_of[label] in wanted}


def _levels(found: list, skip: set[str]) -> list[Level]:
    from nasbench_sd.benchmark import COLUMNS

    by_group: dict[str, list] = {}
    for r in found:
        if r.group not in skip:
            by_group.setdefault(r.group, []).append(r)
    return [Level(label=g, method=str(runs[0].result.get("method", g)), n=len(runs),
                  values={c: [float(r.result["benchmark"][c]) for r in runs] for c in COLUMNS})
            for g, runs in by_group.items()]


def plot_experiment(results_dir: str | Path, out: str | Path, ops_of: str | None = None, split: str = "test",
                    methods: str | None = None) -> list[Path]:
    """All figures of the groups at or below ``results_dir``; returns the files written.

    ``split``: valid or test accuracy in the accuracy figure; ``methods``:
    comma-separated group labels or method names to draw (all by default)."""
    from nasbench_sd.experiments.layout import find_results
    from nasbench_sd.io import ensure_writable_dir
    from nasbench_sd.report.plot_final import final_groups, plot_final

    if split not in ("valid", "test"):
        raise UserError(f"--split must be valid or test, got {split!r}")
    try:
        curves = load_curves(results_dir)
    except UserError:
        curves = []
    found = find_results(results_dir)
    levels = _levels(found, {g.label for g in curves})
    if not curves:
        load_curves(results_dir)  # raises the one-line "no per-epoch metrics" error
    kinds = {**{g.label: g.method for g in curves},
             **{lv.label: lv.method for lv in levels}}
    chosen = _select(list(kinds), kinds, methods)
    groups = [g for g in curves if g.label in chosen]
    levels = [lv for lv in levels if lv.label in chosen]
    if not groups:
        raise UserError(f"--methods {methods!r} selects no group with per-epoch metrics")
    if ops_of is not None and ops_of not in {g.label for g in groups}:
        raise UserError(f"--ops-of {ops_of!r} is not a group with metrics (groups: "
                        f"{', '.join(g.label for g in groups)})")
    finals = final_groups(found, chosen)  # before anything is written: a bad result.json fails here
    folder = ensure_writable_dir(out)
    paths = plot_accuracy(groups, folder, split, levels)
    paths += _single(groups, folder, "hessian", lambda r: r.get("hessian_eig"),
                     r"largest eigenvalue of $\nabla^2_\alpha \mathcal{L}_\mathrm{valid}$",
                     "Sharpness of the supernet (SD-DARTS Fig. 2)", from_zero=True)
    draw = _single if len(groups) <= MAX_OVERLAY else _multiples
    paths += draw(groups, folder, "param-free", lambda r: r.get("num_parameter_free"),
                  "parameter-free ops in derived cell (of 6)",
                  "Parameter-free ops (none, skip, pool) in the derived cell", clip=(0.0, 6.0))
    for g in groups:
        if ops_of is None or g.label == ops_of:
            paths += plot_op_probs(g, folder)
    return paths + plot_final(finals, folder, split)
