"""Table 4 from result files: mean ± std over seeds of the six benchmark figures.

Rows are the groups found below a results directory (``<group>/seed-<n>/
result.json``, recursively), optionally followed by the paper's published rows
and the best cell per column of the bundled NB201 v1_1 table. A group whose
runs differ in configuration (other than seed and device) is refused: a
number must mean exactly what its label says. Rendering lives in
:mod:`nasbench_sd.experiments.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.config import config_diff
from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import FoundRun, find_results

STD_NOTE = "sample std (ddof=1) over seeds; 0 where n=1"


@dataclass
class Row:
    """One table row: measured (over seeds), published, or the benchmark's best."""

    label: str
    source: str  # measured | published | benchmark
    mean: dict[str, float]
    std: dict[str, float | None]
    method: str | None = None
    n: int | None = None
    seeds: list[int] = field(default_factory=list)
    p: dict[str, float | None] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # preset, epochs, split, overrides, ...


@dataclass
class Table:
    rows: list[Row]
    baseline: str | None
    caption: str
    varying: list[str]  # info keys that differ between measured rows (shown as columns)

    def markdown(self) -> str:
        from nasbench_sd.experiments.render import to_markdown

        return to_markdown(self)

    def latex(self) -> str:
        from nasbench_sd.experiments.render import to_latex

        return to_latex(self)

    def csv(self) -> str:
        from nasbench_sd.experiments.render import to_csv

        return to_csv(self)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1); std 0.0 for one value."""
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p of Welch's t-test (unequal variances); None when undefined
    (fewer than two values on a side, or both sides constant)."""
    if len(a) < 2 or len(b) < 2:
        return None
    import warnings

    from scipy.stats import ttest_ind

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(ttest_ind(a, b, equal_var=False).pvalue)
    return p if math.isfinite(p) else None


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    cfg = dict(result.get("config") or {})
    cfg.pop("seed", None)
    cfg.pop("device", None)
    return cfg


def _check_group(group: str, runs: list[FoundRun]) -> None:
    first = runs[0]
    for r in runs[1:]:
        if _comparable(r.result) != _comparable(first.result):
            diff = config_diff(_comparable(first.result), _comparable(r.result))
            raise UserError(f"{group} mixes configurations: seed-{r.seed} differs from seed-{first.seed} in "
                            f"{', '.join(diff[:6])}; give each configuration its own directory")


def _overrides(cfg: dict[str, Any]) -> str:
    """Settings of a run that differ from its preset's defaults ("" if none or unknown)."""
    from nasbench_sd.config import build_run_config

    try:
        preset = build_run_config(cfg["method"], cfg["preset"], 0).to_dict()["search"]
        search = {k: v for k, v in cfg["search"].items() if preset.get(k) != v}
        # method defaults scaled to the run's epochs (e.g. sd-darts warm-up) are not overrides
        scaled = build_run_config(cfg["method"], cfg["preset"], 0, {k: str(v) for k, v in search.items()
                                                                   if not isinstance(v, (tuple, list))})
        method_defaults = scaled.to_dict()["method_config"]
    except (UserError, KeyError, TypeError, ValueError):
        return "?"
    out = [f"{k}={v}" for k, v in search.items()]
    out += [f"method.{k}={v}" for k, v in cfg.get("method_config", {}).items()
            if method_defaults.get(k) != v and not (isinstance(v, list) and tuple(v) == method_defaults.get(k))]
    return " ".join(out)


def measured_row(group: str, runs: list[FoundRun]) -> Row:
    """Mean ± std over the runs (seeds) of one group."""
    _check_group(group, runs)
    runs = sorted(runs, key=lambda r: r.seed)
    first = runs[0].result
    mean, std = {}, {}
    for c in COLUMNS:
        mean[c], std[c] = mean_std([float(r.result["benchmark"][c]) for r in runs])
    cfg = first.get("config", {})
    search = cfg.get("search", {})
    bench = first.get("provenance", {}).get("benchmark", {})
    info = {
        "preset": first.get("preset", cfg.get("preset")),
        "search_epochs": search.get("epochs"),
        "dataset": search.get("dataset"),
        "split": search.get("split"),
        "train_limit": search.get("train_limit"),
        "benchmark": f"{bench.get('benchmark', 'NAS-Bench-201')} {bench.get('version', '?')}, "
                     f"hp={bench.get('hp', '?')} ({bench.get('backend', search.get('benchmark', '?'))})",
        "overrides": _overrides(cfg) if cfg else "?",
        "devices": ",".join(sorted({str(r.result.get("config", {}).get("device", "?")) for r in runs})),
    }
    return Row(label=group, source="measured", mean=mean, std=std, method=first.get("method"), n=len(runs),
               seeds=[r.seed for r in runs], info=info)


def _resolve_baseline(rows: list[Row], baseline: str) -> Row:
    exact = [r for r in rows if r.label == baseline]
    if exact:
        return exact[0]
    by_method = [r for r in rows if r.method == baseline]
    if len(by_method) == 1:
        return by_method[0]
    if len(by_method) > 1:
        raise UserError(f"--baseline {baseline!r} matches several rows ({', '.join(r.label for r in by_method)}); "
                        "name one of them")
    raise UserError(f"--baseline {baseline!r} is not a row of this table (rows: {', '.join(r.label for r in rows)})")


def _with_published(measured: list[Row]) -> list[Row]:
    """``measured`` with every published row added: each directly below the last
    measured row of its method, the others after all measured rows. Rows from
    SD-DARTS Table 4 are labelled "(published)", others "(published, <source>)";
    ``info["reference"]`` names the source of each."""
    from nasbench_sd.experiments.published import SOURCE, all_published

    below: dict[str, list[Row]] = {}
    rest: list[Row] = []
    measured_methods = {r.method for r in measured}
    for name, method, source, pairs in all_published():
        label = f"{name} (published)" if source == SOURCE else f"{name} (published, {source})"
        row = Row(label=label, source="published", mean={c: m for c, (m, _) in zip(COLUMNS, pairs)},
                  std={c: s for c, (_, s) in zip(COLUMNS, pairs)}, info={"reference": source})
        (below.setdefault(method, []) if method in measured_methods else rest).append(row)
    last = {r.method: i for i, r in enumerate(measured)}
    out: list[Row] = []
    for i, r in enumerate(measured):
        out.append(r)
        if last[r.method] == i:
            out += below.get(r.method, [])
    return out + rest


def build_table(results_dir: str | Path, baseline: str | None = None, published: bool = True,
                best: bool = True) -> Table:
    """Read every result below ``results_dir`` and build the table (writes nothing)."""
    from nasbench_sd.experiments.render import caption

    found = find_results(results_dir)
    if not found:
        raise UserError(f"no results below {results_dir} (expected <method>/seed-<n>/result.json)")
    groups: dict[str, list[FoundRun]] = {}
    for r in found:
        groups.setdefault(r.group, []).append(r)
    rows = [measured_row(g, runs) for g, runs in groups.items()]
    values = {r.label: {c: [float(x.result["benchmark"][c]) for x in sorted(groups[r.label], key=lambda x: x.seed)]
                        for c in COLUMNS} for r in rows}
    base = _resolve_baseline(rows, baseline) if baseline else None
    if base is not None:
        for r in rows:
            if r is not base:
                r.p = {c: welch_p(values[r.label][c], values[base.label][c]) for c in COLUMNS}
    varying = [k for k in ("preset", "search_epochs", "dataset", "split", "train_limit", "benchmark", "overrides")
               if len({str(r.info.get(k)) for r in rows}) > 1]
    measured = list(rows)
    if published:
        rows = _with_published(rows)
    if best:
        from nasbench_sd.benchmark import get_benchmark

        top = get_benchmark("table").best()
        rows.append(Row(label="best cell in NB201 v1_1 (per column)", source="benchmark",
                        mean={c: top[c].figures()[c] for c in COLUMNS}, std={c: None for c in COLUMNS}))
    return Table(rows=rows, baseline=None if base is None else base.label,
                 caption=caption(measured, varying, base.label if base else None, published, best), varying=varying)


def write_table(table: Table, out: str | Path) -> list[Path]:
    """Write table.csv, table.md and table.tex into ``out`` (each atomically;
    all three are rendered before the first is written)."""
    from nasbench_sd.io import atomic_write_text, ensure_writable_dir

    folder = ensure_writable_dir(out)
    texts = {"table.csv": table.csv(), "table.md": table.markdown() + "\n", "table.tex": table.latex()}
    paths = []
    for name, text in texts.items():
        atomic_write_text(folder / name, text)
        paths.append(folder / name)
    return paths
