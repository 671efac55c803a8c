"""How settled a search ended: result.json's ``convergence`` block, from the per-epoch records.

Definitions (the same for every method; a run's records are one per finished epoch):

* **last quarter** of a run of ``E`` epochs: its last ``ceil(E / 4)`` epochs (at least one),
  i.e. epochs ``E - ceil(E/4) + 1 .. E`` (1-based): 10 of 40, 13 of 49, 3 of 10, 1 of 2.
* ``distinct_cells_last_quarter``: how many different derived cells (the ``cell`` of each
  epoch's record) those epochs hold; 1 = the cell did not change. ``last_quarter_epochs``
  says how many epochs that is.
* ``mean_max_op_prob``: the mean over the six edges of the largest op probability in the last
  epoch's ``op_probs`` (1/5 = uniform, 1 = one op per edge); ``None`` for methods without
  probabilities (RSPS, random search).
* A run has **converged** when ``distinct_cells_last_quarter <= MAX_DISTINCT_CELLS`` (2): the
  threshold of issue 26 ("at most 2 distinct cells in the last quarter"); tables mark the
  others instead of averaging them silently. Runs without per-epoch records (random search)
  are neither (``None``).

Methods add their own figures through ``SearchMethod.convergence_diagnostics`` (RSPS: the rank
agreement of its candidates' scores on two disjoint valid samples), merged into the same block.
Runs made before the block existed get it from their metrics.jsonl (:func:`convergence_from_records`
on its lines), without the method's own figures. Imports nothing heavy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: At most this many distinct derived cells in the last quarter of the epochs: converged.
MAX_DISTINCT_CELLS = 2

#: The keys :func:`convergence_from_records` writes (a method's diagnostics add others).
KEYS = ("distinct_cells_last_quarter", "last_quarter_epochs", "mean_max_op_prob")


def last_quarter(epochs: int) -> int:
    """Epochs in the last quarter of a run of ``epochs`` epochs: ``ceil(epochs / 4)``, at least 1
    (0 for a run without epochs)."""
    return 0 if epochs <= 0 else max(1, math.ceil(epochs / 4))


def mean_max_prob(op_probs: Sequence[Sequence[float]] | None) -> float | None:
    """Mean over edges (rows) of the largest op probability; ``None`` without probabilities."""
    if not op_probs:
        return None
    return sum(max(float(p) for p in row) for row in op_probs) / len(op_probs)


def convergence_from_records(records: Sequence[dict[str, Any]],
                             diagnostics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``convergence`` block of a run whose per-epoch records are ``records`` (in epoch
    order), with the method's ``diagnostics`` added (they may not replace the loop's keys)."""
    n = last_quarter(len(records))
    tail = list(records)[len(records) - n:] if n else []
    cells = {str(r.get("cell")) for r in tail if r.get("cell") is not None}
    out: dict[str, Any] = {
        "distinct_cells_last_quarter": len(cells) if cells else None,
        "last_quarter_epochs": n,
        "mean_max_op_prob": None if not records else _rounded(mean_max_prob(records[-1].get("op_probs"))),
    }
    clash = set(diagnostics or {}) & set(out)
    if clash:
        raise ValueError(f"a method's convergence diagnostics may not replace {sorted(clash)}")
    return {**out, **(diagnostics or {})}


def is_converged(convergence: dict[str, Any] | None) -> bool | None:
    """Whether a ``convergence`` block says the run converged (``None``: no per-epoch cells)."""
    distinct = (convergence or {}).get("distinct_cells_last_quarter")
    return None if distinct is None else int(distinct) <= MAX_DISTINCT_CELLS


def _rounded(v: float | None) -> float | None:
    return None if v is None else round(v, 6)
