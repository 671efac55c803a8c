"""Rank agreement of two scorings of the same items: Kendall's tau-b (ties allowed).

Pure Python (O(n^2) pairs: meant for tens to hundreds of candidates), so that methods
can report it without SciPy; tests compare it with ``scipy.stats.kendalltau``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of paired scores ``x`` and ``y``: (concordant - discordant pairs) /
    sqrt(pairs untied in x * pairs untied in y). ``None`` when undefined (fewer than two
    items, or every pair tied on one side)."""
    if len(x) != len(y):
        raise ValueError(f"kendall_tau_b needs paired scores, got {len(x)} and {len(y)}")
    total = untied_x = untied_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            sx, sy = _sign(x[i] - x[j]), _sign(y[i] - y[j])
            total += sx * sy
            untied_x += sx != 0
            untied_y += sy != 0
    if untied_x == 0 or untied_y == 0:
        return None
    return total / math.sqrt(untied_x * untied_y)
