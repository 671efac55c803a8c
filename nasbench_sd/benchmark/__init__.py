"""Benchmark lookup: ``get_benchmark(name).record(cell)`` -> the six Table-4 figures.

Backends: ``table`` (default; bundled NB201 v1_1 table, offline and instant),
``nb201`` (official ``nas_201_api`` on a .pth file), ``nats`` (``nats_bench`` tss).
"""

from __future__ import annotations

from nasbench_sd.benchmark.base import (
    COLUMN_LABELS,
    COLUMNS,
    DATASETS,
    SPLITS,
    Benchmark,
    Record,
    column_for,
    parse_cell_or_index,
)
from nasbench_sd.errors import UserError

BACKENDS = ("table", "nb201", "nats")

__all__ = [
    "BACKENDS", "COLUMNS", "COLUMN_LABELS", "DATASETS", "SPLITS",
    "Benchmark", "Record", "column_for", "get_benchmark", "parse_cell_or_index",
]


def get_benchmark(name: str = "table", path=None, api=None) -> Benchmark:
    """A benchmark backend by name; ``path`` is the official file/directory
    (``nb201``/``nats``) or an alternative table (``table``)."""
    if name == "table":
        from nasbench_sd.benchmark.table import TableBenchmark

        return TableBenchmark(path)
    if name == "nb201":
        from nasbench_sd.benchmark.official import NB201Benchmark

        return NB201Benchmark(path, api=api)
    if name == "nats":
        from nasbench_sd.benchmark.official import NATSBenchmark

        return NATSBenchmark(path, api=api)
    raise UserError(f"unknown benchmark {name!r} (choose from {', '.join(BACKENDS)})")
