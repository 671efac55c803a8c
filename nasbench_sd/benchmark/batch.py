"""Batch queries: many cells (arch strings or NB201 indices, one per line) at once.

Blank lines and lines starting with ``#`` are skipped. A bad line is refused
with its line number before anything is printed. On the bundled table, arch
strings are matched by their op names (a fast path; anything that does not
match is parsed in full for a precise error), so all 15,625 cells take well
under a second after the table is loaded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from nasbench_sd.benchmark.base import Benchmark
from nasbench_sd.cells import NUM_CELLS, Cell
from nasbench_sd.errors import UserError


def _index(text: str, bench: Benchmark, fast: dict | None) -> int:
    if text.isdigit():
        index = int(text)
        if not 0 <= index < NUM_CELLS:
            raise UserError(f"index {index} out of range 0..{NUM_CELLS - 1}")
        return index
    if fast is not None and text.startswith("|") and text.endswith("|"):
        from nasbench_sd.benchmark.table import _ops_of

        index = fast.get(_ops_of(text))
        if index is not None and text == bench._t.arch[index]:  # type: ignore[attr-defined]
            return index
    return bench.index(Cell.from_string(text))


def read_indices(lines: Iterable[str], bench: Benchmark, source: str) -> list[int]:
    """NB201 indices of the cells named one per line; a bad line raises :class:`UserError`."""
    fast = getattr(getattr(bench, "_t", None), "index_of", None)
    out = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            out.append(_index(text, bench, fast))
        except UserError as e:
            raise UserError(f"{source}, line {number}: {e}") from None
    if not out:
        raise UserError(f"{source} names no cell (one arch string or NB201 index per line)")
    return out


def _arch(bench: Benchmark, index: int) -> str:
    table = getattr(bench, "_t", None)
    return table.arch[index] if table is not None else str(bench.cell(index))


def batch_rows(indices: list[int], bench: Benchmark, figure=None, hp: str = "200") -> tuple[list[str], list[list]]:
    """(header, rows): index, cell, then one figure or the six Table-4 figures at ``hp``."""
    if figure is not None:
        name = f"{figure.dataset}_{figure.split}"
        return ["index", "cell", name], [[i, _arch(bench, i), bench.figure(i, figure)] for i in indices]
    rows, head = [], None
    for i in indices:
        figs = bench.figures_at(i, hp)
        head = head or list(figs)
        rows.append([i, _arch(bench, i), *figs.values()])
    return ["index", "cell", *(head or [])], rows


def render(header: list[str], rows: list[list], as_json: bool) -> str:
    """CSV (default) or a JSON list of objects."""
    if as_json:
        return json.dumps([dict(zip(header, r)) for r in rows], indent=1)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().rstrip("\n")
