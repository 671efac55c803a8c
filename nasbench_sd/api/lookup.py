"""Benchmark figures of cells from Python: :func:`query` (what ``nasbench-sd query`` prints)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError


def _one(cell: Any, bench: Any) -> Any:
    from nasbench_sd.benchmark import parse_cell_or_index
    from nasbench_sd.cells import Cell

    if isinstance(cell, Cell):
        return cell
    if isinstance(cell, int) and not isinstance(cell, bool):
        cell = str(cell)
    if not isinstance(cell, str):
        raise UserError(f"a cell is an arch string or an NB201 index, got {cell!r}")
    return parse_cell_or_index(cell, bench)


def figure_of(dataset: str | None, split: str | None, hp: str | int = "200", nats: bool = False) -> Any:
    """The one figure asked for (None when neither ``dataset`` nor ``split`` is given)."""
    from nasbench_sd.benchmark.figures import figure, nats_figure

    if (dataset is None) != (split is None):
        raise UserError("--dataset and --split go together")
    if nats and dataset is None:
        raise UserError("--nats needs --dataset cifar10|cifar100|ImageNet16-120 --split test")
    if dataset is None:
        return None
    return nats_figure(dataset, split, hp) if nats else figure(dataset, split, hp)


def cell_figures(cell: Any, bench: Any, hp: str = "200") -> dict[str, Any]:
    """``cell``, ``index``, the six Table-4 figures at ``hp``, ``params_mb_cifar10`` and the
    benchmark's ``provenance`` of one cell in an open benchmark (what ``query CELL --json`` prints)."""
    from dataclasses import replace

    record = bench.record(_one(cell, bench))
    if hp != "200":
        record = replace(record, **bench.figures_at(record.index, hp))
    return {**record.to_dict(), "provenance": {**bench.provenance(), "hp": hp}}


def query(cell: Any, dataset: str | None = None, split: str | None = None, hp: str | int = "200", *,
          benchmark: str = "table", benchmark_path: str | Path | None = None, nats: bool = False) -> Any:
    """The benchmark figures (accuracy in %) of a cell (arch string, NB201 index or
    :class:`~nasbench_sd.cells.Cell`).

    Without ``dataset``/``split``: a dict with ``cell``, ``index``, the six Table-4
    figures ``c10_valid`` ... ``in16_test`` (at ``hp`` 200 or 12), ``params_mb_cifar10``
    and ``provenance``. With them: that one figure as a float (``nats=True``: the
    bundled NATS-Bench tss test figure). A list of cells gives a pandas DataFrame,
    one row per cell (without ``provenance``). ``benchmark``: table (bundled) | nb201
    | nats with ``benchmark_path``, the official file or folder."""
    from nasbench_sd.benchmark import get_benchmark
    from nasbench_sd.benchmark.figures import check_hp

    hp = check_hp(hp)
    fig = figure_of(dataset, split, hp, nats)
    if nats and benchmark != "table":
        raise UserError("--nats reads the bundled table; with an official backend use --benchmark nats")
    bench = get_benchmark(benchmark, None if benchmark_path is None else str(benchmark_path))
    many = not isinstance(cell, (str, int)) and isinstance(cell, Iterable)
    if fig is not None:
        values = [(str(c), bench.index(c), bench.figure(bench.index(c), fig))
                  for c in (_one(x, bench) for x in (cell if many else [cell]))]
        if not many:
            return values[0][2]
        import pandas as pd

        df = pd.DataFrame(values, columns=["cell", "index", "accuracy"])
        df.attrs["figure"] = fig.name
        return df
    if not many:
        return cell_figures(cell, bench, hp)
    import pandas as pd

    return pd.DataFrame([{k: v for k, v in cell_figures(c, bench, hp).items() if k != "provenance"} for c in cell])
