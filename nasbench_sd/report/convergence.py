"""Convergence of runs as tables and ``show`` print it (definitions: :mod:`nasbench_sd.convergence`).

A run's block is the one its result.json recorded; a run made before the block existed gets
it from its metrics.jsonl (the per-epoch ``cell`` and ``op_probs`` are there), marked
``"source": "metrics.jsonl"`` (a method's own end-of-search figures, RSPS's rank agreement,
cannot be recomputed without the network and are absent then). A group (table row)
summarises its runs: how many converged of those that can be judged, the distinct cells
per seed, and the means of the other figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasbench_sd.convergence import MAX_DISTINCT_CELLS, convergence_from_records, is_converged

#: Marks a row (or a seed) with a run that did not converge.
MARK = "†"
#: Table columns of the summary (Markdown/LaTeX headers).
HEADERS = ("converged", "max p")


def run_convergence(run_dir: str | Path, result: dict[str, Any]) -> dict[str, Any]:
    """The run's convergence block: recorded in result.json, else computed from its metrics.jsonl."""
    recorded = result.get("convergence")
    if isinstance(recorded, dict):
        return {**recorded, "source": "result.json"}
    from nasbench_sd.search.rundir import RunDir

    try:
        records = RunDir(run_dir).metrics()
    except (OSError, ValueError):
        records = []
    return {**convergence_from_records(records), "source": "metrics.jsonl"}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A group's summary of its runs' blocks (in seed order)."""
    verdicts = [is_converged(b) for b in blocks]
    judged = [v for v in verdicts if v is not None]
    probs = [float(b["mean_max_op_prob"]) for b in blocks if b.get("mean_max_op_prob") is not None]
    taus = [float(b["rank_agreement_kendall_tau"]) for b in blocks if b.get("rank_agreement_kendall_tau") is not None]
    return {"n": len(blocks), "judged": len(judged), "converged": sum(judged),
            "distinct": [b.get("distinct_cells_last_quarter") for b in blocks],
            "mean_max_op_prob": _mean(probs), "kendall_tau": _mean(taus), "kendall_tau_n": len(taus),
            "computed": sum(b.get("source") == "metrics.jsonl" for b in blocks)}


def converged_text(summary: dict[str, Any] | None) -> str:
    """'5/5', '3/5†' (a run did not converge) or '–' (no run can be judged)."""
    if not summary or not summary.get("judged"):
        return "–"
    k, m = summary["converged"], summary["judged"]
    return f"{k}/{m}" + (MARK if k < m else "")


def max_prob_text(summary: dict[str, Any] | None) -> str:
    value = (summary or {}).get("mean_max_op_prob")
    return "–" if value is None else f"{value:.2f}"


def cells(summary: dict[str, Any] | None) -> list[str]:
    """The row's cells under :data:`HEADERS`."""
    return [converged_text(summary), max_prob_text(summary)]


def caption_sentence(summaries: list[dict[str, Any]]) -> str:
    """What the convergence columns mean, and which rows a non-converged run is in."""
    text = (f"Converged: runs with at most {MAX_DISTINCT_CELLS} distinct derived cells over the last quarter of "
            "their epochs (the last ceil(E/4) of E), of the runs with per-epoch cells; "
            f"{MARK} marks a row averaging a run that did not converge (its seeds are in table-seeds.csv). "
            "max p: mean over seeds of the mean over the six edges of the largest op probability after the last "
            "epoch (0.20 uniform, 1 one op per edge; – without probabilities).")
    computed = sum(s.get("computed", 0) for s in summaries)
    if computed:
        text += (f" {computed} run(s) predate the recorded convergence block: theirs is computed from their "
                 "metrics.jsonl.")
    taus = [s for s in summaries if s.get("kendall_tau") is not None]
    if taus:
        text += (" RSPS's rank agreement (Kendall tau-b of its candidates' scores on two disjoint valid samples) "
                 "is in table.csv.")
    return text


def show_lines(block: dict[str, Any]) -> list[str]:
    """``nasbench-sd show``'s convergence lines for one run."""
    verdict = is_converged(block)
    state = {True: "converged", False: f"NOT converged ({MARK})", None: "not judged (no per-epoch cells)"}[verdict]
    lines = [f"convergence ({'from metrics.jsonl' if block.get('source') == 'metrics.jsonl' else 'result.json'}): "
             f"{state}; distinct cells over the last {block.get('last_quarter_epochs')} epochs (last quarter): "
             f"{block.get('distinct_cells_last_quarter', '-')} (converged: <= {MAX_DISTINCT_CELLS}); "
             f"mean over edges of the largest op probability: {_fmt(block.get('mean_max_op_prob'))}"]
    if block.get("rank_agreement_kendall_tau", "absent") != "absent" or "rank_agreement_candidates" in block:
        lines.append(f"rank agreement of {block.get('rank_agreement_candidates')} candidates' scores on two "
                     f"disjoint samples of {block.get('rank_agreement_images')} valid images: Kendall tau-b "
                     f"{_fmt(block.get('rank_agreement_kendall_tau'))}; same best cell on both: "
                     f"{block.get('rank_agreement_same_best')}")
    return lines


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
