"""The summary of an ablation (``nasbench-sd ablate``): a CSV of mean ± std over
seeds per value of the swept setting (the six benchmark figures, and how far
the final cell collapsed: its parameter-free ops, that is none, skip_connect
and avg_pool_3x3 edges, and its skip connections) and a plot of both against
the value. An accuracy axis that does not start at zero carries a break mark.

The summary of a committed ablation is redrawn from its runs, without running
anything, by :func:`summarize_ablation` with the ablation's groups
(``python benchmarks/summarize_ablation.py results/<folder>``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.cells import Cell
from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import find_results
from nasbench_sd.experiments.runner import Group
from nasbench_sd.report.table import mean_std

FIGURES = {"warmup": "cf. SD-DARTS Fig. 5", "K": "cf. SD-DARTS Fig. 6"}
UNITS = {"warmup": "epochs of plain DARTS", "K": "number of voting teachers", "lam": "distillation weight",
         "epochs": "search epochs"}


#: how far a run's final cell collapsed: CSV column -> value read from result.json
COLLAPSE = {"param_free": lambda r: float(r["num_parameter_free"]),
            "skip": lambda r: float(Cell.from_string(r["cell"]).num_skip_connections)}


def _numeric(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def summarize_ablation(out: str | Path, method: str, param: str, key: str, values: list[str],
                       groups: list[Group]) -> list[Path]:
    """Write ablation-<param>.csv and ablation-<param>.png/.pdf into ``out``."""
    from nasbench_sd.io import atomic_write_text

    name = key.removeprefix("method.")
    rows = ablation_rows(out, values, groups)
    folder = Path(out)
    atomic_write_text(folder / f"ablation-{name}.csv", ablation_csv(name, rows))
    return [folder / f"ablation-{name}.csv", *_plot(folder, method, name, rows)]


def ablation_rows(out: str | Path, values: list[str], groups: list[Group]) -> list[dict]:
    """Per value with finished runs: label, n, seeds, mean ± std of every figure, preset, epochs."""
    by_label: dict[str, list] = {}
    for r in find_results(out):
        by_label.setdefault(r.group, []).append(r)
    rows = []
    for g, v in zip(groups, values):
        runs = sorted(by_label.get(g.label, []), key=lambda r: r.seed)
        if not runs:
            continue
        stats = {c: mean_std([float(r.result["benchmark"][c]) for r in runs]) for c in COLUMNS}
        stats |= {c: mean_std([f(r.result) for r in runs]) for c, f in COLLAPSE.items()}
        rows.append({"value": v, "label": g.label, "n": len(runs), "seeds": [r.seed for r in runs], "stats": stats,
                     "preset": runs[0].result.get("preset"),
                     "epochs": runs[0].result.get("config", {}).get("search", {}).get("epochs")})
    if not rows:
        raise UserError(f"no finished runs of the ablation below {out}")
    return rows


def ablation_csv(name: str, rows: list[dict]) -> str:
    """The text of ablation-<name>.csv."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["param", "value", "group", "n", "seeds", "preset", "search_epochs",
                *[f"{c}_{s}" for c in (*COLUMNS, *COLLAPSE) for s in ("mean", "std")]])
    for r in rows:
        w.writerow([name, r["value"], r["label"], r["n"], " ".join(map(str, r["seeds"])), r["preset"], r["epochs"],
                    *[repr(x) for c in (*COLUMNS, *COLLAPSE) for x in r["stats"][c]]])
    return buf.getvalue()


def _plot(folder: Path, method: str, name: str, rows: list[dict]) -> list[Path]:
    from nasbench_sd.report.figure import BENCH, DATASETS, mark_truncated_y, pyplot, save, spread_note

    plt = pyplot()
    numeric = _numeric([r["value"] for r in rows])
    xs = numeric if numeric is not None else list(range(len(rows)))
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), constrained_layout=True)
    panels = [(f"{prefix}_test", f"{title} test", "final test accuracy of derived cell (%)")
              for prefix, title in DATASETS]
    panels.append(("param_free", "collapse", "final cell's edges (of 6)"))
    for ax, (col, title, ylabel) in zip(axes, panels):
        ax.errorbar(xs, [r["stats"][col][0] for r in rows], yerr=[r["stats"][col][1] for r in rows],
                    marker="o", capsize=3, label="parameter-free ops" if col == "param_free" else None)
        if col == "param_free":
            ax.errorbar(xs, [r["stats"]["skip"][0] for r in rows], yerr=[r["stats"]["skip"][1] for r in rows],
                        marker="s", capsize=3, label="skip connections")
            ax.set_ylim(-0.3, 6.3)
            ax.legend(fontsize=7)
        for x, r in zip(xs, rows):
            ax.annotate(f"n={r['n']}", (x, r["stats"][col][0]), textcoords="offset points", xytext=(4, 4),
                        fontsize=7, color="0.4")
        ax.set_xticks(xs, [r["value"] for r in rows])
        ax.set_xlabel(f"{name} ({UNITS[name]})" if name in UNITS else name)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        mark_truncated_y(ax)
    presets = sorted({str(r["preset"]) for r in rows})
    epochs = sorted({str(r["epochs"]) for r in rows})
    fig.suptitle(f"{method}: ablation of {name} ({FIGURES.get(name, 'ablation')}); {BENCH}; preset "
                 f"{', '.join(presets)}, {'/'.join(epochs)} search epochs; {spread_note([r['n'] for r in rows])}",
                 fontsize=10)
    return save(fig, folder, f"ablation-{name}")


def committed_ablation(folder: str | Path) -> tuple[str, str, str, list[str], list[Group]]:
    """(method, param, key, values, groups) of a finished ablation, from its experiment.json."""
    import json

    from nasbench_sd.experiments.ablate import ablation_groups

    manifest = Path(folder) / "experiment.json"
    try:
        data = json.loads(manifest.read_text())
        spec = data["ablation"]
    except (OSError, ValueError, KeyError):
        raise UserError(f"{manifest} does not describe an ablation (no 'ablation' entry)") from None
    sets: dict[str, str] = {}
    for group in data.get("groups", {}).values():  # the --set values every group shares
        sets = {k: v for k, v in group.get("sets", {}).items() if k != spec["key"]}
        break
    groups, key, values = ablation_groups(spec["method"], spec["param"], ",".join(spec["values"]), sets)
    return spec["method"], spec["param"], key, values, groups


def committed_csv(folder: str | Path) -> tuple[str, str]:
    """(file name, text) of the summary CSV a finished ablation's runs give now."""
    _, _, key, values, groups = committed_ablation(folder)
    name = key.removeprefix("method.")
    return f"ablation-{name}.csv", ablation_csv(name, ablation_rows(folder, values, groups))


def summarize_committed(folder: str | Path) -> list[Path]:
    """Redraw the summary of a finished ablation from its runs and its manifest
    (experiment.json's ``ablation``: method, param, values), running nothing."""
    method, param, key, values, groups = committed_ablation(folder)
    return summarize_ablation(folder, method, param, key, values, groups)
