"""Each method against its own control: the paired effect of its idea (``nasbench-sd run --controls``).

**Pairs.** A measured row ``<label>-control`` is the control of the row ``<label>`` when both
run one method and their configurations differ only in that method's control settings
(``SearchMethod.control_overrides``: its idea off, its protocol kept); a ``-control`` row that
differs in anything else is refused, since it would not measure the idea.

**Per pair and benchmark column** (accuracy points), runs paired by seed (seeds present on
both sides; the others are named), ``d_i = method_i - control_i``:

* the mean of ``d`` and its n;
* the **paired t-test** (two-sided, n - 1 degrees of freedom, ``scipy.stats.ttest_rel``): the
  primary test;
* **Holm's** step-down adjustment of those p-values over the family = every method's effect on
  that column (one family per column, m = the pairs with a p there);
* the **Wilcoxon signed-rank** test (two-sided, exact null distribution, zero differences
  dropped; ``scipy.stats.wilcoxon``), uncorrected, as a check that does not assume normal
  differences (with n seeds its smallest p is ``2 / 2^n``: 0.0625 for n = 5);
* a **bootstrap 95% interval** of the mean difference: the 2.5th and 97.5th percentiles of the
  means of :data:`RESAMPLES` resamples of the n seeds with replacement (NumPy ``default_rng``
  seeded :data:`BOOTSTRAP_SEED` for every pair and column, so a table is reproducible).

No test where n < 2 or all differences are equal (the interval is then the point).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from nasbench_sd.benchmark import COLUMN_LABELS
from nasbench_sd.errors import UserError

SUFFIX = "-control"
RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
LEVEL = 0.95


@dataclass
class Effect:
    """The paired effect of one method's idea on one column."""

    n: int
    mean: float | None
    low: float | None  # bootstrap interval
    high: float | None
    p_t: float | None  # paired t-test, uncorrected
    p_holm: float | None  # Holm over the column's family
    p_wilcoxon: float | None
    diffs: list[float] = field(default_factory=list)


@dataclass
class Pair:
    label: str
    control: str
    method: str
    seeds: list[int]
    unpaired: dict[str, list[int]]  # row label -> seeds without a partner
    settings: dict[str, Any]  # the control's settings
    effects: dict[str, Effect] = field(default_factory=dict)
    converged: tuple[str, str] = ("", "")  # the two rows' convergence texts


@dataclass
class Effects:
    pairs: list[Pair]
    columns: tuple[str, ...]
    unmatched: list[str]  # measured rows of a method with a control, without a -control row

    def caption(self) -> str:
        n = sorted({p.effects[c].n for p in self.pairs for c in self.columns})
        return (f"Each method against its own control (its idea switched off, all else equal: same preset, seeds "
                f"and protocol; the control's settings are named per row). Cells: mean over seeds of the paired "
                f"difference method − control (accuracy points), n = {'/'.join(map(str, n))} seed pairs; "
                f"[bootstrap {LEVEL:.0%} interval: percentiles of the mean over {RESAMPLES:,} resamples of the seeds, "
                f"seed {BOOTSTRAP_SEED}]; p: paired t-test (two-sided), Holm: Holm-adjusted over the family of all "
                f"{len(self.pairs)} methods' effects on that column. The percentile bootstrap tends to be too narrow "
                "with few seeds; read it with the test. The Wilcoxon signed-rank p (exact, uncorrected; with n pairs "
                "it cannot go below 2/2^n) is in effects.csv. Converged: as in the table above (method / control).")

    def markdown(self) -> str:
        head = ["method", "control settings", "n", "converged", *(COLUMN_LABELS[c] for c in self.columns)]
        lines = [f"**Paired effects.** {self.caption()}", "", "| " + " | ".join(head) + " |",
                 "|" + "|".join([":---", ":---", "---:", ":---:"] + [":---:"] * len(self.columns)) + "|"]
        for p in self.pairs:
            lines.append("| " + " | ".join([p.label, _settings(p.settings), str(len(p.seeds)),
                                            f"{p.converged[0]} / {p.converged[1]}",
                                            *(_cell(p.effects[c]) for c in self.columns)]) + " |")
        lines += [f"\n{note}" for note in self.notes()]
        return "\n".join(lines)

    def notes(self) -> list[str]:
        out = [f"{p.label}: seeds without a partner left out ({'; '.join(f'{k} {v}' for k, v in p.unpaired.items())})."
               for p in self.pairs if p.unpaired]
        if self.unmatched:
            out.append(f"Without a control row (run them with --controls): {', '.join(self.unmatched)}.")
        return out

    def latex(self) -> str:
        from nasbench_sd.report.render import _tex

        cols = "".join(" & " + _tex(COLUMN_LABELS[c]) for c in self.columns)
        lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\caption{" + _tex(self.caption()) + "}",
                 r"\begin{tabular}{llrc" + "c" * len(self.columns) + "}", r"\toprule",
                 r"Method & Control & $n$ & Converged" + cols + r" \\", r"\midrule"]
        for p in self.pairs:
            lines.append(" & ".join([_tex(p.label), _tex(_settings(p.settings)), str(len(p.seeds)),
                                     _tex(f"{p.converged[0]} / {p.converged[1]}"),
                                     *(_tex(_cell(p.effects[c])) for c in self.columns)]) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["method_row", "control_row", "method", "control_settings", "column", "n", "seeds", "mean_diff",
                    "ci_low", "ci_high", "ci_level", "resamples", "p_paired_t", "p_holm", "holm_family_size",
                    "p_wilcoxon", "diffs"])
        family = {c: sum(p.effects[c].p_t is not None for p in self.pairs) for c in self.columns}
        for p in self.pairs:
            for c in self.columns:
                e = p.effects[c]
                w.writerow([p.label, p.control, p.method, _settings(p.settings), c, e.n,
                            " ".join(map(str, p.seeds)), *(_num(v) for v in (e.mean, e.low, e.high)), LEVEL,
                            RESAMPLES, _num(e.p_t), _num(e.p_holm), family[c], _num(e.p_wilcoxon),
                            " ".join(repr(d) for d in e.diffs)])
        return buf.getvalue()


def _num(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def _settings(settings: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items())


def _p(v: float | None) -> str:
    return "–" if v is None else f"{v:.3g}"


def _cell(e: Effect) -> str:
    if e.mean is None:
        return "–"
    interval = "" if e.low is None else f" [{e.low:+.2f}, {e.high:+.2f}]"
    return f"{e.mean:+.2f}{interval} p {_p(e.p_t)}, Holm {_p(e.p_holm)}"


def bootstrap_interval(diffs: list[float], resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED,
                       level: float = LEVEL) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of ``diffs`` (None for fewer than two values)."""
    import numpy as np

    if len(diffs) < 2:
        return None
    d = np.asarray(diffs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_tests(diffs: list[float]) -> tuple[float | None, float | None]:
    """(paired t-test p, Wilcoxon signed-rank p) of differences ``diffs`` (None where undefined)."""
    import warnings

    from scipy.stats import ttest_1samp, wilcoxon

    if len(diffs) < 2 or len(set(diffs)) == 1:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_t = float(ttest_1samp(diffs, 0.0).pvalue)  # = ttest_rel(method, control)
        nonzero = [d for d in diffs if d != 0]
        p_w = float(wilcoxon(nonzero, method="exact").pvalue) if len(nonzero) >= 1 else None
    return (p_t if math.isfinite(p_t) else None), (p_w if p_w is not None and math.isfinite(p_w) else None)


def effect(diffs: list[float]) -> Effect:
    """The effect of one pair on one column, before Holm."""
    if not diffs:
        return Effect(0, None, None, None, None, None, None)
    interval = bootstrap_interval(diffs)
    p_t, p_w = paired_tests(diffs)
    return Effect(len(diffs), sum(diffs) / len(diffs), *(interval or (None, None)), p_t, None, p_w, list(diffs))


def _control_of(row, control_row, config) -> dict[str, Any] | None:
    """The control's settings if ``control_row`` is ``row``'s control (configs differ only in them)."""
    from nasbench_sd.methods import get_method
    from nasbench_sd.presets import config_diff

    try:
        settings = get_method(str(row.method)).control_overrides()
    except UserError:
        return None
    if not settings or control_row.method != row.method:
        return None
    diff = config_diff(config[row.label], config[control_row.label])
    allowed = {f"method_config.{k}" for k in settings}
    if not diff or not set(diff) <= allowed:
        raise UserError(f"{control_row.label} is not {row.label}'s control: they differ in "
                        f"{', '.join(diff) or 'nothing'} (a control differs only in {', '.join(sorted(allowed))}); "
                        "give it another label")
    return settings


def paired_effects(rows: list, runs_of: dict[str, list], columns: tuple[str, ...]) -> Effects | None:
    """The effects of every (row, ``row-control``) pair among the measured ``rows``; None without pairs.
    ``runs_of``: row label -> its runs (FoundRun, seed order)."""
    from nasbench_sd.report.compare import holm
    from nasbench_sd.report.convergence import converged_text

    by_label = {r.label: r for r in rows}
    config = {label: _comparable(runs[0].result) for label, runs in runs_of.items()}
    pairs, unmatched = [], []
    for row in rows:
        twin = by_label.get(row.label + SUFFIX)
        if twin is None:
            if not row.label.endswith(SUFFIX) and _declares_control(row.method):
                unmatched.append(row.label)
            continue
        settings = _control_of(row, twin, config)
        if settings is None:
            continue
        mine = {r.seed: r for r in runs_of[row.label]}
        theirs = {r.seed: r for r in runs_of[twin.label]}
        seeds = sorted(set(mine) & set(theirs))
        unpaired = {k: sorted(set(a) - set(seeds)) for k, a in ((row.label, mine), (twin.label, theirs))}
        pair = Pair(row.label, twin.label, str(row.method), seeds, {k: v for k, v in unpaired.items() if v}, settings,
                    converged=(converged_text(row.convergence), converged_text(twin.convergence)))
        for c in columns:
            pair.effects[c] = effect([float(mine[s].result["benchmark"][c]) - float(theirs[s].result["benchmark"][c])
                                      for s in seeds])
        pairs.append(pair)
    if not pairs:
        return None
    for c in columns:  # Holm: the family is every method's effect on this column
        adjusted = holm({p.label: p.effects[c].p_t for p in pairs if p.effects[c].p_t is not None})
        for p in pairs:
            p.effects[c].p_holm = adjusted.get(p.label)
    return Effects(pairs=pairs, columns=columns, unmatched=unmatched)


def _declares_control(method: str | None) -> bool:
    from nasbench_sd.methods import get_method

    try:
        return get_method(str(method)).control_overrides() is not None
    except UserError:
        return False


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    cfg = dict(result.get("config") or {})
    cfg.pop("seed", None)
    return cfg
