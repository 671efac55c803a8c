"""Table 4 from result files: mean ± std over seeds of the six benchmark figures.

Rows are the groups found below a results directory (``<group>/seed-<n>/
result.json``, recursively), optionally followed by the paper's published rows
and the best cell per column of the bundled NB201 v1_1 table. A group whose
runs differ in configuration (other than seed and device) is refused: a
number must mean exactly what its label says. Rendering lives in
:mod:`nasbench_sd.report.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import FoundRun, find_results
from nasbench_sd.presets import config_diff

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
    p: dict[str, float | None] = field(default_factory=dict)  # Welch p against the baseline, uncorrected
    p_adj: dict[str, float | None] = field(default_factory=dict)  # after the table's correction (= p if none)
    diff: dict[str, float | None] = field(default_factory=dict)  # mean - baseline mean (accuracy points)
    info: dict[str, Any] = field(default_factory=dict)  # preset, epochs, split, overrides, ...
    display: str | None = None  # display name (--name); the label otherwise
    convergence: dict[str, Any] = field(default_factory=dict)  # report.convergence.summarize of its runs

    @property
    def name(self) -> str:
        return self.display or self.label


@dataclass
class Table:
    rows: list[Row]
    baseline: str | None
    caption: str
    varying: list[str]  # info keys that differ between measured rows (shown as columns)
    columns: tuple[str, ...] = COLUMNS  # the benchmark columns shown
    correction: str = "none"  # none | holm
    label: str = "tab:nb201"  # LaTeX \\label
    per_seed: list[dict[str, Any]] = field(default_factory=list)  # one record per (row, seed, column)
    best: dict[str, set[str]] = field(default_factory=dict)  # column -> labels of the best measured row(s)
    effects: Any = None  # report.effects.Effects: each method against its control (None: no pairs)

    def markdown(self) -> str:
        """The table, then (with controls) each method's paired effect against its control."""
        from nasbench_sd.report.render import to_markdown

        return to_markdown(self) + ("" if self.effects is None else "\n\n" + self.effects.markdown())

    def latex(self) -> str:
        from nasbench_sd.report.render import to_latex

        return to_latex(self) + ("" if self.effects is None else "\n" + self.effects.latex())

    def csv(self) -> str:
        from nasbench_sd.report.render import to_csv

        return to_csv(self)

    def seeds_csv(self) -> str:
        from nasbench_sd.report.render import to_seeds_csv

        return to_seeds_csv(self)

    def frame(self) -> Any:
        """A pandas DataFrame with the rows and columns of table.csv (the caption in ``attrs``)."""
        from nasbench_sd.report.render import frame

        return frame(self)

    def seeds_frame(self) -> Any:
        """A pandas DataFrame with the lines of table-seeds.csv."""
        from nasbench_sd.report.render import seeds_frame

        return seeds_frame(self)


@dataclass(frozen=True)
class TableOptions:
    """How ``nasbench-sd table`` builds a table (CLI flags; defaults in brackets there)."""

    baseline: str | None = None
    published: bool = True
    best: bool = True
    correction: str = "none"  # none | holm (over every test of the table)
    order: tuple[str, ...] = ()  # row labels shown first, in this order
    names: tuple[tuple[str, str], ...] = ()  # (row label, display name)
    label: str = "tab:nb201"
    columns: str = "all"  # all | searched (only the search data set's two columns)
    backend: str = "table"  # re-score each run's cell with this benchmark backend
    benchmark_path: str | None = None


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
        diff = config_diff(_comparable(first.result), _comparable(r.result))  # diagnostics may differ
        if diff:
            raise UserError(f"{group} mixes configurations: seed-{r.seed} differs from seed-{first.seed} in "
                            f"{', '.join(diff[:6])}; give each configuration its own directory")


def _overrides(cfg: dict[str, Any]) -> str:
    """Settings of a run that differ from its preset's defaults ("" if none, "?" if unknown)."""
    from nasbench_sd.report.show import changed_settings

    changed = changed_settings(cfg)
    if changed is None:
        return "?"
    return " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                    for k, v in changed.items())


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
    from nasbench_sd.report.convergence import summarize

    return Row(label=group, source="measured", mean=mean, std=std, method=first.get("method"), n=len(runs),
               seeds=[r.seed for r in runs], info=info,
               convergence=summarize([_convergence(r) for r in runs]))


def _convergence(run: FoundRun) -> dict[str, Any]:
    from nasbench_sd.report.convergence import run_convergence

    return run_convergence(run.path, run.result)


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
    from nasbench_sd.report.published import SOURCE, all_published

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


def _rescore(found: list[FoundRun], opts: TableOptions) -> list[FoundRun]:
    """The runs with their six figures looked up again in ``opts.backend``."""
    from dataclasses import replace

    from nasbench_sd.benchmark import get_benchmark
    from nasbench_sd.cells import Cell

    bench = get_benchmark(opts.backend, opts.benchmark_path)
    getattr(bench, "api", None)  # an official backend: a missing file or package fails here, first
    prov = bench.provenance()
    out = []
    for r in found:
        try:
            cell = Cell.from_string(str(r.result.get("cell", "")))
        except UserError as e:
            raise UserError(f"{r.path}/result.json cannot be re-scored: {e}") from None
        figures = bench.record(cell).figures()
        provenance = {**r.result.get("provenance", {}), "benchmark": prov}
        out.append(replace(r, result={**r.result, "benchmark": figures, "provenance": provenance}))
    return out


def _order(rows: list[Row], order: tuple[str, ...]) -> list[Row]:
    labels = [r.label for r in rows]
    unknown = [o for o in order if o not in labels]
    if unknown:
        raise UserError(f"--order names {', '.join(unknown)}, not a row of this table (rows: {', '.join(labels)})")
    first = [next(r for r in rows if r.label == o) for o in order]
    return first + [r for r in rows if r.label not in order]


def _columns(rows: list[Row], mode: str) -> tuple[str, ...]:
    """All six columns, or (``searched``) the two of the data set every row searched on."""
    from nasbench_sd.benchmark.base import DATASETS

    if mode == "all":
        return COLUMNS
    if mode != "searched":
        raise UserError(f"--columns must be all or searched, got {mode!r}")
    sets = {str(r.info.get("dataset")) for r in rows}
    if len(sets) != 1 or next(iter(sets)) not in DATASETS:
        raise UserError(f"--columns searched needs rows searched on one data set (found {', '.join(sorted(sets))})")
    prefix = DATASETS[next(iter(sets))]
    return (f"{prefix}_valid", f"{prefix}_test")


def _compare(rows: list[Row], base: Row, values: dict, columns: tuple[str, ...], correction: str) -> None:
    """Welch p, (Holm-)adjusted p and mean difference of every row against ``base``."""
    from nasbench_sd.report.compare import CORRECTIONS, holm

    if correction not in CORRECTIONS:
        raise UserError(f"--correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    family = {}
    for r in rows:
        if r is base:
            continue
        r.p = {c: welch_p(values[r.label][c], values[base.label][c]) for c in columns}
        r.diff = {c: r.mean[c] - base.mean[c] for c in columns}
        family.update({(r.label, c): p for c, p in r.p.items() if p is not None})
    adjusted = holm(family) if correction == "holm" else family
    for r in rows:
        if r is not base:
            r.p_adj = {c: adjusted.get((r.label, c)) for c in columns}


def build_table(results_dir: str | Path, baseline: str | None = None, published: bool = True,
                best: bool = True, options: TableOptions | None = None) -> Table:
    """Read every result at or below ``results_dir`` and build the table (writes nothing)."""
    from dataclasses import replace

    from nasbench_sd.report.compare import shared_differences
    from nasbench_sd.report.render import caption

    opts = options or TableOptions()
    if options is None:
        opts = replace(opts, baseline=baseline, published=published, best=best)
    found = find_results(results_dir)
    if not found:
        raise UserError(f"no results below {results_dir} (expected <method>/seed-<n>/result.json)")
    if opts.backend != "table" or opts.benchmark_path is not None:
        found = _rescore(found, opts)
    groups: dict[str, list[FoundRun]] = {}
    for r in found:
        groups.setdefault(r.group, []).append(r)
    rows = _order([measured_row(g, runs) for g, runs in groups.items()], opts.order)
    names = dict(opts.names)
    unknown = [k for k in names if k not in groups]
    if unknown:
        raise UserError(f"--name names {', '.join(unknown)}, not a row of this table (rows: {', '.join(groups)})")
    for r in rows:
        r.display = names.get(r.label)
    columns = _columns(rows, opts.columns)
    runs_of = {g: sorted(runs, key=lambda x: x.seed) for g, runs in groups.items()}
    values = {g: {c: [float(x.result["benchmark"][c]) for x in runs] for c in COLUMNS} for g, runs in runs_of.items()}
    blocks = {(g, x.seed): _convergence(x) for g, runs in runs_of.items() for x in runs}
    per_seed = [{"row": r.label, "name": r.name, "method": r.method, "seed": x.seed, "column": c,
                 "value": float(x.result["benchmark"][c]), "convergence": blocks[(r.label, x.seed)]}
                for r in rows for x in runs_of[r.label] for c in columns]
    base = _resolve_baseline(rows, opts.baseline) if opts.baseline else None
    if base is not None:
        _compare(rows, base, values, columns, opts.correction)
    diffs = shared_differences({r.label: runs_of[r.label][0].result.get("config") or {} for r in rows})
    for r in rows:
        r.info["shared_diff"] = " ".join(f"{k}={v[r.label]}" for k, v in diffs.items())
    varying = [k for k in ("preset", "search_epochs", "dataset", "split", "train_limit", "benchmark", "overrides")
               if len({str(r.info.get(k)) for r in rows}) > 1]
    top = {c: max(r.mean[c] for r in rows) for c in columns}
    best_rows = {c: {r.label for r in rows if r.mean[c] == top[c]} for c in columns} if len(rows) > 1 else {}
    measured = list(rows)
    if opts.published:
        rows = _with_published(rows)
    if opts.best:
        from nasbench_sd.benchmark import get_benchmark

        top_cells = get_benchmark("table").best()
        rows.append(Row(label="best cell in NB201 v1_1 (per column)", source="benchmark",
                        mean={c: top_cells[c].figures()[c] for c in COLUMNS}, std={c: None for c in COLUMNS}))
    label = base.label if base else None
    from nasbench_sd.report.effects import paired_effects

    effects = paired_effects(measured, runs_of, columns)
    return Table(rows=rows, baseline=label, varying=varying, columns=columns, correction=opts.correction,
                 label=opts.label, per_seed=per_seed, best=best_rows, effects=effects,
                 caption=caption(measured, varying, label, opts.published, opts.best, diffs=diffs,
                                 correction=opts.correction, columns=columns, bold=bool(best_rows)))


def write_table(table: Table, out: str | Path) -> list[Path]:
    """Write table.csv, table-seeds.csv (one line per row, seed and column: the
    values behind the means), table.md and table.tex into ``out`` (each
    atomically; all are rendered before the first is written)."""
    from nasbench_sd.io import atomic_write_text, ensure_writable_dir

    texts = {"table.csv": table.csv(), "table-seeds.csv": table.seeds_csv(), "table.md": table.markdown() + "\n",
             "table.tex": table.latex()}
    if table.effects is not None:  # each method against its control (run --controls): also in .md/.tex
        texts["effects.csv"] = table.effects.csv()
    folder = ensure_writable_dir(out)
    paths = []
    for name, text in texts.items():
        atomic_write_text(folder / name, text)
        paths.append(folder / name)
    return paths
