"""Render a :class:`~nasbench_sd.experiments.table.Table` as CSV, Markdown and LaTeX.

The CSV is tidy (one row per table row; ``<column>_mean``, ``<column>_std``,
``<column>_p`` plus n, seeds and the settings behind the numbers); Markdown and
LaTeX show ``mean ± std`` with n beside it, and mark Welch-test p-values.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from nasbench_sd.benchmark import COLUMN_LABELS, COLUMNS

INFO_KEYS = ("preset", "search_epochs", "dataset", "split", "train_limit", "benchmark", "overrides", "devices",
             "reference")
SPLIT_NOTES = {"official": "NB201 cifar-split.txt halves of the 50k train set",
               "darts-half": "first/last 25k of the train set"}


def stars(p: float | None) -> str:
    """'**' for p < 0.01, '*' for p < 0.05, '' otherwise."""
    if p is None:
        return ""
    return "**" if p < 0.01 else "*" if p < 0.05 else ""


def caption(measured: list, varying: list[str], baseline: str | None, published: bool, best: bool) -> str:
    """What the numbers mean: benchmark, search data and split, preset, epochs, std, test."""
    info = measured[0].info
    parts = [f"Accuracy (%) of the searched cell on {info['benchmark']}, mean over the benchmark's trials; "
             "CIFAR-10 valid/test = cifar10-valid x-valid / cifar10 ori-test, CIFAR-100 and ImageNet16-120 = "
             "x-valid / x-test."]
    if not {"dataset", "split", "train_limit"} & set(varying):
        limit = info.get("train_limit")
        parts.append(f"Searched on {info['dataset']}, split {info['split']} "
                     f"({SPLIT_NOTES.get(info['split'], info['split'])}"
                     f"{f'; first {limit} samples of each half' if limit else ''}).")
    settings = []
    if "preset" not in varying:
        settings.append(f"preset {info['preset']}")
    if "search_epochs" not in varying:
        settings.append(f"{info['search_epochs']} search epochs")
    if "overrides" not in varying:
        settings.append(f"preset overrides: {info['overrides'] or 'none'}")
    if settings:
        parts.append("Settings: " + ", ".join(settings) + ".")
    if varying:
        parts.append(f"Settings that differ between rows are given per row ({', '.join(varying)}).")
    parts.append("Mean ± sample std (ddof=1) over n seeds (std 0 where n=1).")
    if published:
        parts.append("Rows marked (published) are copied, not measured here: from the SD-DARTS paper's Table 4 "
                     "unless the label names another source; each follows the measured row of its method.")
    if best:
        parts.append("The best-cell row is the maximum of each column over all 15,625 cells of the bundled "
                     "NB201 v1_1 table.")
    if baseline:
        parts.append(f"p: Welch's t-test (unequal variances) of each row against {baseline} per column; "
                     "* p < 0.05, ** p < 0.01.")
    return " ".join(parts)


def _cell(row, c: str, tex: bool = False) -> str:
    m, s = row.mean[c], row.std[c]
    pm = r"$\pm$" if tex else "±"
    text = f"{m:.2f}" if s is None else f"{m:.2f} {pm} {s:.2f}"
    mark = stars(row.p.get(c))
    if mark:
        text += f"$^{{{mark}}}$" if tex else mark
    return text


def _label(row, table) -> str:
    return f"{row.label} (baseline)" if row.label == table.baseline else row.label


def to_markdown(table) -> str:
    """A Markdown table preceded by its caption."""
    head = ["method", "n", *(COLUMN_LABELS[c] for c in COLUMNS), *table.varying]
    lines = [f"**NAS-Bench-201 results.** {table.caption}", "",
             "| " + " | ".join(head) + " |",
             "|" + "|".join([":---", "---:"] + [":---:"] * len(COLUMNS) + [":---"] * len(table.varying)) + "|"]
    for row in table.rows:
        cells = [_label(row, table), "–" if row.n is None else str(row.n), *(_cell(row, c) for c in COLUMNS),
                 *(str(row.info.get(k, "")) for k in table.varying)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _tex(text: Any) -> str:
    """Escape LaTeX specials in plain text (± becomes $\\pm$)."""
    out = str(text).replace("\\", "\x00")
    for a, b in (("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$"), ("{", r"\{"),
                 ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"), ("±", r"$\pm$")):
        out = out.replace(a, b)
    return out.replace("\x00", r"\textbackslash{}")


def to_latex(table) -> str:
    """A booktabs ``table`` environment (needs \\usepackage{booktabs})."""
    extra = len(table.varying)
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\caption{" + _tex(table.caption) + "}",
             r"\label{tab:nb201}",
             r"\begin{tabular}{lr" + "c" * len(COLUMNS) + "l" * extra + "}", r"\toprule",
             r"Method & $n$ & \multicolumn{2}{c}{CIFAR-10} & \multicolumn{2}{c}{CIFAR-100} & "
             r"\multicolumn{2}{c}{ImageNet16-120}" + "".join(f" & {_tex(k)}" for k in table.varying) + r" \\",
             r"\cmidrule(lr){3-4}\cmidrule(lr){5-6}\cmidrule(lr){7-8}",
             " & & " + " & ".join(["valid", "test"] * 3) + " &" * extra + r" \\", r"\midrule"]
    previous = None
    for row in table.rows:
        if previous is not None and row.source != previous:
            lines.append(r"\midrule")
        previous = row.source
        cells = [_tex(_label(row, table)), "--" if row.n is None else str(row.n),
                 *(_cell(row, c, tex=True) for c in COLUMNS), *(_tex(row.info.get(k, "")) for k in table.varying)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_csv(table) -> str:
    """Tidy CSV: one line per row; p-values blank where no test was made."""
    head = ["row", "method", "source", "n", "seeds", *INFO_KEYS, "baseline"]
    for c in COLUMNS:
        head += [f"{c}_mean", f"{c}_std", f"{c}_p"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for row in table.rows:
        line = [row.label, row.method or "", row.source, "" if row.n is None else row.n,
                " ".join(str(s) for s in row.seeds), *(row.info.get(k, "") for k in INFO_KEYS),
                (table.baseline or "") if row.source == "measured" else ""]
        for c in COLUMNS:
            p = row.p.get(c)
            line += [repr(float(row.mean[c])), "" if row.std[c] is None else repr(float(row.std[c])),
                     "" if p is None else repr(p)]
        w.writerow(line)
    return buf.getvalue()
