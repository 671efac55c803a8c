r"""Render a :class:`~nasbench_sd.report.table.Table` as CSV, Markdown and LaTeX.

The CSV is tidy (one row per table row; ``<column>_mean``, ``<column>_std``,
``<column>_p`` (Welch, uncorrected), ``<column>_p_adj`` (after the table's
correction), ``<column>_diff`` (mean minus the baseline's) plus n, seeds and
the settings behind the numbers, and the convergence of the row's runs); the
per-seed CSV has one line per row, seed and column (with that run's
convergence). Both are pandas DataFrames (:func:`frame`, :func:`seeds_frame`:
what the Python API returns) written by ``DataFrame.to_csv``. Markdown and
LaTeX show ``mean ± std`` with n beside it, how many runs converged
(:mod:`nasbench_sd.report.convergence`), mark significant differences with
their direction (↑ better, ↓ worse than the baseline) and set the best
measured mean per column in bold; they stay hand-written: pandas' Markdown
needs ``tabulate`` (not a dependency) and its LaTeX (``Styler.to_latex``) has
no ``\cmidrule`` under grouped headers and no ``\midrule`` between row groups
(it writes ``\cline``), so neither gives these tables.
"""

from __future__ import annotations

from typing import Any

from nasbench_sd.benchmark import COLUMN_LABELS
from nasbench_sd.report import convergence as conv

INFO_KEYS = ("preset", "search_epochs", "dataset", "split", "train_limit", "benchmark", "overrides", "shared_diff",
             "devices", "reference")
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16-120": "ImageNet16-120"}
#: What each (search data set, split protocol) trains the weights and alpha on (nasbench_sd/data/splits.py).
SPLIT_NOTES = {
    ("cifar10", "official"): "NB201 cifar-split.txt: weights on its 25k train half, alpha on its 25k valid half "
                             "of the CIFAR-10 training set",
    ("cifar100", "official"): "weights on all 50k CIFAR-100 training images, alpha on the 5k xvalid half of the "
                              "test set (NB201 cifar100-test-split.txt)",
    ("imagenet16-120", "official"): "weights on all 151,700 ImageNet16-120 training images, alpha on the 3k xvalid "
                                    "half of val_data (NB201 imagenet-16-120-test-split.txt)",
    ("cifar10", "darts-half"): "weights on the first, alpha on the last 25k of the CIFAR-10 training set",
    ("cifar100", "darts-half"): "weights on the first, alpha on the last 25k of the CIFAR-100 training set",
}
#: Data sets whose benchmark 'valid' column is measured on the images the official split trains alpha on.
SAME_IMAGES = {"cifar10": "c10_valid", "cifar100": "c100_valid", "imagenet16-120": "in16_valid"}


def stars(p: float | None) -> str:
    """'**' for p < 0.01, '*' for p < 0.05, '' otherwise."""
    if p is None:
        return ""
    return "**" if p < 0.01 else "*" if p < 0.05 else ""


def split_note(dataset: str, split: str, limit: int | None = None) -> str:
    """'Searched on cifar100, split official (weights on ...)' for one data set and split."""
    note = SPLIT_NOTES.get((dataset, split), f"split protocol {split}")
    return (f"Searched on {dataset}, split {split} ({note}{f'; first {limit} samples of each half' if limit else ''})."
            + (f" Its {COLUMN_LABELS[SAME_IMAGES[dataset]]} column is measured on the images alpha was trained on."
               if split == "official" and dataset in SAME_IMAGES else ""))


def _benchmark_sentence(info: dict[str, Any]) -> str:
    text = (f"Accuracy (%) of the searched cell on {info['benchmark']}, mean over the benchmark's trials; "
            "CIFAR-10 valid/test = cifar10-valid x-valid / cifar10 ori-test, CIFAR-100 and ImageNet16-120 = "
            "x-valid / x-test.")
    if info.get("benchmark", "").endswith("(table)"):
        from nasbench_sd.benchmark.table import TABLE_PROVENANCE

        text += f" Source: the {TABLE_PROVENANCE}."
    return text


def budget_note(preset: str) -> list[str]:
    """What a scaled preset does to each method's budget ([] for ``paper`` or an unknown preset)."""
    from fractions import Fraction

    from nasbench_sd.config import SCALED, budget_fraction

    if preset not in SCALED:
        return []
    f = Fraction(budget_fraction(preset)).limit_denominator(100)
    return [f"Under the scaled preset {preset} every method runs the same fraction ({f}) of its own paper's "
            f"search epochs (a 50-epoch paper {SCALED[preset].epochs}, a 250-epoch one {round(250 * float(f))}), "
            "with its epoch-based settings scaled alike."]


def _settings(measured: list, varying: list[str], diffs: dict) -> list[str]:
    info, parts = measured[0].info, []
    settings = []
    if "preset" not in varying:
        settings.append(f"preset {info['preset']}")
    if "search_epochs" not in varying:
        settings.append(f"{info['search_epochs']} search epochs")
    if settings:
        parts.append("Settings: " + ", ".join(settings) + ".")
    if "preset" not in varying:
        parts += budget_note(str(info["preset"]))
    overrides = {r.name: str(r.info.get("overrides") or "").split() for r in measured}
    common = [t for t in next(iter(overrides.values())) if all(t in o for o in overrides.values())]
    own = {k: [t for t in o if t not in common] for k, o in overrides.items()}
    if not any(own.values()):
        parts.append(f"Changed from the preset: {' '.join(common) or 'none'}.")
    else:
        parts.append(("Changed from the preset for every row: " + " ".join(common) + "; " if common else "")
                     + "changed per row: " + "; ".join(f"{k}: {' '.join(v) or 'none'}" for k, v in own.items())
                     + ".")
    if len(measured) > 1:
        from nasbench_sd.report.compare import describe_differences

        names = {r.label: r.name for r in measured}
        named = {k: {names[label]: v for label, v in vals.items()} for k, vals in diffs.items()}
        parts.append(f"Beyond each method's own settings, rows differ in: {describe_differences(named)}."
                     if diffs else "Beyond each method's own settings, the rows share every search setting "
                                   "(diagnostics aside).")
    return parts


def caption(measured: list, varying: list[str], baseline: str | None, published: bool, best: bool,
            diffs: dict | None = None, correction: str = "none", columns: tuple[str, ...] | None = None,
            bold: bool = False) -> str:
    """What the numbers mean: benchmark and its provenance, search data and split
    per data set, preset, epochs, changed and differing settings, std, test."""
    info = measured[0].info
    parts = [_benchmark_sentence(info)]
    if not {"dataset", "split", "train_limit"} & set(varying):
        parts.append(split_note(str(info["dataset"]), str(info["split"]), info.get("train_limit")))
    else:
        notes = [f"[{r.name}] {split_note(str(r.info['dataset']), str(r.info['split']), r.info.get('train_limit'))}"
                 for r in measured]
        parts.append("Search data set and split differ between rows: " + " ".join(notes))
    if columns is not None and len(columns) < 6:
        name = DATASET_NAMES.get(str(info["dataset"]), str(info["dataset"]))
        parts.append(f"Searched on {name}, reported on {name} (only its columns are shown).")
    parts += _settings(measured, varying, diffs or {})
    if varying:
        parts.append(f"Settings that differ between rows are given per row ({', '.join(varying)}).")
    parts.append("Mean ± sample std (ddof=1) over n seeds (std 0 where n=1).")
    if bold:
        parts.append("Bold: the best measured mean per column.")
    parts.append(conv.caption_sentence([r.convergence for r in measured]))
    if published:
        parts.append("Rows marked (published) are copied, not measured here: from the SD-DARTS paper's Table 4 "
                     "unless the label names another source; each follows the measured row of its method.")
    if best:
        parts.append("The best-cell row is the maximum of each column over all 15,625 cells of the bundled "
                     "NB201 v1_1 table.")
    if baseline:
        corr = (", Holm-corrected over all tests of this table" if correction == "holm"
                else ", not corrected for multiple comparisons")
        parts.append(f"p: Welch's t-test (unequal variances) of each row against {baseline} per column{corr}; "
                     "* p < 0.05, ** p < 0.01, with ↑ (higher, better) or ↓ (lower, worse) than the baseline's mean.")
    return " ".join(parts)


def _cell(row, c: str, table, tex: bool = False) -> str:
    m, s = row.mean[c], row.std[c]
    pm = r"$\pm$" if tex else "±"
    number = f"{m:.2f}"
    if c in table.best and row.label in table.best[c]:
        number = rf"\textbf{{{number}}}" if tex else f"**{number}**"
    text = number if s is None else f"{number} {pm} {s:.2f}"
    p = row.p_adj.get(c, row.p.get(c)) if row.p_adj else row.p.get(c)
    mark = stars(p)
    if mark:
        arrow = "" if row.diff.get(c) is None else ("↑" if row.diff[c] > 0 else "↓" if row.diff[c] < 0 else "=")
        if tex:
            arrow = {"↑": r"\uparrow", "↓": r"\downarrow", "=": "="}.get(arrow, "")
            text += f"$^{{{arrow}{mark}}}$"
        else:
            text += arrow + mark
    return text


def _label(row, table) -> str:
    return f"{row.name} (baseline)" if row.label == table.baseline else row.name


def to_markdown(table) -> str:
    """A Markdown table preceded by its caption."""
    head = ["method", "n", *(COLUMN_LABELS[c] for c in table.columns), *conv.HEADERS, *table.varying]
    lines = [f"**NAS-Bench-201 results.** {table.caption}", "",
             "| " + " | ".join(head) + " |",
             "|" + "|".join([":---", "---:"] + [":---:"] * len(table.columns) + ["---:"] * len(conv.HEADERS)
                            + [":---"] * len(table.varying)) + "|"]
    for row in table.rows:
        cells = [_label(row, table), "–" if row.n is None else str(row.n),
                 *(_cell(row, c, table) for c in table.columns), *conv.cells(row.convergence),
                 *(str(row.info.get(k, "")) for k in table.varying)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _tex(text: Any) -> str:
    """Escape LaTeX specials in plain text (± becomes $\\pm$, arrows math arrows)."""
    out = str(text).replace("\\", "\x00")
    for a, b in (("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$"), ("{", r"\{"),
                 ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"), ("±", r"$\pm$"),
                 ("↑", r"$\uparrow$"), ("↓", r"$\downarrow$")):
        out = out.replace(a, b)
    return out.replace("\x00", r"\textbackslash{}")


def _tex_header(columns: tuple[str, ...], varying: list[str]) -> list[str]:
    groups: list[tuple[str, int]] = []
    for c in columns:
        name = COLUMN_LABELS[c].rsplit(" ", 1)[0]
        if groups and groups[-1][0] == name:
            groups[-1] = (name, groups[-1][1] + 1)
        else:
            groups.append((name, 1))
    top, rules, col = [], [], 3
    for name, width in groups:
        top.append(rf"\multicolumn{{{width}}}{{c}}{{{name}}}")
        rules.append(rf"\cmidrule(lr){{{col}-{col + width - 1}}}")
        col += width
    conv_heads = "".join(f" & {_tex(h)}" for h in conv.HEADERS)
    return [r"Method & $n$ & " + " & ".join(top) + conv_heads + "".join(f" & {_tex(k)}" for k in varying)
            + r" \\",
            "".join(rules),
            " & & " + " & ".join(COLUMN_LABELS[c].rsplit(" ", 1)[1] for c in columns)
            + " &" * (len(conv.HEADERS) + len(varying)) + r" \\"]


def to_latex(table) -> str:
    """A booktabs ``table`` environment (needs \\usepackage{booktabs})."""
    extra = len(table.varying)
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\caption{" + _tex(table.caption) + "}",
             r"\label{" + table.label + "}",
             r"\begin{tabular}{lr" + "c" * len(table.columns) + "r" * len(conv.HEADERS) + "l" * extra + "}",
             r"\toprule",
             *_tex_header(table.columns, table.varying), r"\midrule"]
    previous = None
    for row in table.rows:
        if previous is not None and row.source != previous:
            lines.append(r"\midrule")
        previous = row.source
        cells = [_tex(_label(row, table)), "--" if row.n is None else str(row.n),
                 *(_cell(row, c, table, tex=True) for c in table.columns),
                 *(_tex(t) for t in conv.cells(row.convergence)),
                 *(_tex(row.info.get(k, "")) for k in table.varying)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def frame(table) -> Any:
    """The table as a pandas DataFrame: one row per table row, the columns of
    table.csv (``row``, ``name``, ``method``, ``source``, ``n``, ``seeds``, the
    settings, ``baseline``, ``correction``, the convergence (:data:`CONV_KEYS`), then ``<column>_mean``, ``_std``,
    ``_p``, ``_p_adj``, ``_diff`` per benchmark column; NaN where no value or no
    test). ``attrs["caption"]`` holds the caption."""
    import pandas as pd

    records = []
    for row in table.rows:
        measured = row.source == "measured"
        rec: dict[str, Any] = {"row": row.label, "name": row.name, "method": row.method or "", "source": row.source,
                               "n": row.n, "seeds": " ".join(str(s) for s in row.seeds),
                               **{k: row.info.get(k, "") for k in INFO_KEYS},
                               "baseline": (table.baseline or "") if measured else "",
                               "correction": table.correction if measured and table.baseline else "",
                               **_conv_record(row.convergence)}
        for c in table.columns:
            rec.update({f"{c}_mean": row.mean[c], f"{c}_std": row.std[c], f"{c}_p": row.p.get(c),
                        f"{c}_p_adj": row.p_adj.get(c), f"{c}_diff": row.diff.get(c)})
        records.append(rec)
    df = pd.DataFrame.from_records(records, columns=_csv_columns(table))
    df["n"] = df["n"].astype("Int64")
    df[["converged", "converged_of"]] = df[["converged", "converged_of"]].astype("Int64")
    numbers = [f"{c}_{k}" for c in table.columns for k in ("mean", "std", "p", "p_adj", "diff")]
    df[numbers] = df[numbers].astype("float64")
    df.attrs["caption"] = table.caption
    return df


#: Convergence columns of table.csv (per row) and table-seeds.csv (per run).
CONV_KEYS = ("converged", "converged_of", "distinct_cells_last_quarter", "mean_max_op_prob_mean",
             "rank_agreement_kendall_tau_mean")
SEED_CONV_KEYS = ("converged", "distinct_cells_last_quarter", "last_quarter_epochs", "mean_max_op_prob",
                  "rank_agreement_kendall_tau", "convergence_source")


def _conv_record(summary: dict[str, Any]) -> dict[str, Any]:
    """A row's convergence in table.csv: converged runs, runs judged, distinct cells per seed, means."""
    if not summary:
        return dict.fromkeys(CONV_KEYS)
    judged = summary["judged"]
    return {"converged": summary["converged"] if judged else None, "converged_of": judged or None,
            "distinct_cells_last_quarter": " ".join("" if d is None else str(d) for d in summary["distinct"]),
            "mean_max_op_prob_mean": summary["mean_max_op_prob"],
            "rank_agreement_kendall_tau_mean": summary["kendall_tau"]}


def _csv_columns(table) -> list[str]:
    head = ["row", "name", "method", "source", "n", "seeds", *INFO_KEYS, "baseline", "correction", *CONV_KEYS]
    for c in table.columns:
        head += [f"{c}_mean", f"{c}_std", f"{c}_p", f"{c}_p_adj", f"{c}_diff"]
    return head


def to_csv(table) -> str:
    """Tidy CSV of :func:`frame`: one line per row; p-values blank where no test was made."""
    return frame(table).to_csv(index=False, lineterminator="\n")


def seeds_frame(table) -> Any:
    """The values behind every mean: one row per table row, seed and column
    (``row``, ``name``, ``method``, ``seed``, ``column``, ``value``, then the run's
    convergence: :data:`SEED_CONV_KEYS`)."""
    import pandas as pd

    records = []
    for r in table.per_seed:
        block = r.get("convergence") or {}
        rec = {"row": r["row"], "name": r["name"], "method": r["method"] or "", "seed": r["seed"],
               "column": r["column"], "value": r["value"], "converged": conv.is_converged(block)}
        rec.update({k: block.get("source" if k == "convergence_source" else k) for k in SEED_CONV_KEYS[1:]})
        records.append(rec)
    df = pd.DataFrame.from_records(records, columns=["row", "name", "method", "seed", "column", "value",
                                                     *SEED_CONV_KEYS])
    df["value"] = df["value"].astype("float64")
    counts = ["distinct_cells_last_quarter", "last_quarter_epochs"]
    df[counts] = df[counts].astype("Int64")  # whole numbers, blank where a method has none
    return df


def to_seeds_csv(table) -> str:
    """Tidy per-seed CSV of :func:`seeds_frame`."""
    return seeds_frame(table).to_csv(index=False, lineterminator="\n")
