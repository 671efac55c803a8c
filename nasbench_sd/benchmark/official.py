"""Backends on the benchmark authors' own APIs (optional extras).

* ``nb201``: ``nas_201_api`` on a NAS-Bench-201 ``.pth`` file
  (``pip install 'nasbench-sd[nb201]'``; the v1_1 file needs ~28 GB of RAM).
* ``nats``: ``nats_bench`` topology space (``tss``) on a NATS-tss directory
  (``pip install 'nasbench-sd[nats]'``). NATS-tss and NB201 v1_1 differ for
  about 2.4k cells, so the two backends do not always agree.

Both call the structured API only: ``query_index_by_arch`` and
``query_meta_info_by_index(index, hp='200').get_metrics(dataset, metric,
iepoch=None, is_random=False)['accuracy']`` with the (dataset, metric) pairs of
:data:`~nasbench_sd.benchmark.base.OFFICIAL_QUERIES`. They never parse printed
output and never download. The API object is created on first use, not in the
constructor; tests inject a fake object with the same shape via ``api=``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from nasbench_sd.benchmark.base import OFFICIAL_QUERIES, Benchmark
from nasbench_sd.cells import NUM_CELLS, Cell
from nasbench_sd.errors import UserError

HP = "200"


class OfficialBenchmark(Benchmark):
    """Shared logic of the two official-API backends."""

    module: str = ""
    extra: str = ""
    env_var: str = ""

    def __init__(self, path: str | Path | None = None, api: Any = None):
        self._path = None if path is None else Path(path)
        self._api = api

    def _create(self, path: Path) -> Any:  # pragma: no cover - needs the real package
        raise NotImplementedError

    @property
    def api(self) -> Any:
        if self._api is None:
            if self._path is None:
                raise UserError(f"the {self.name} backend needs --benchmark-path pointing at {self._what()}")
            if not self._path.exists():
                raise UserError(f"benchmark file not found: {self._path} ({self._what()})")
            try:
                importlib.import_module(self.module)
            except ImportError:
                raise UserError(
                    f"the {self.name} backend needs the package '{self.module}': "
                    f"pip install 'nasbench-sd[{self.extra}]'"
                ) from None
            try:
                self._api = self._create(self._path)
            except (OSError, RuntimeError, EOFError, ValueError) as e:
                raise UserError(f"cannot load benchmark file {self._path}: {e}") from None
        return self._api

    def _what(self) -> str:
        return ""

    def index(self, cell: Cell) -> int:
        index = int(self.api.query_index_by_arch(str(cell)))
        if not 0 <= index < NUM_CELLS:
            raise UserError(f"cell {cell} is not in the {self.name} benchmark")
        return index

    def cell(self, index: int) -> Cell:
        if not 0 <= index < NUM_CELLS:
            raise UserError(f"index {index} out of range 0..{NUM_CELLS - 1}")
        return Cell.from_string(self.api.arch(index))

    def _column(self, index: int, column: str) -> float:
        dataset, metric = OFFICIAL_QUERIES[column]
        info = self.api.query_meta_info_by_index(index, hp=HP)
        return float(info.get_metrics(dataset, metric, iepoch=None, is_random=False)["accuracy"])

    def figure(self, index: int, fig) -> float:
        info = self.api.query_meta_info_by_index(index, hp=fig.hp)
        return float(info.get_metrics(fig.official_dataset, fig.metric, iepoch=None, is_random=False)["accuracy"])

    def figures_at(self, index: int, hp: str) -> dict[str, float]:
        info = self.api.query_meta_info_by_index(index, hp=hp)
        return {c: float(info.get_metrics(ds, metric, iepoch=None, is_random=False)["accuracy"])
                for c, (ds, metric) in OFFICIAL_QUERIES.items()}

    def provenance(self) -> dict:
        return {
            "benchmark": "NAS-Bench-201" if self.name == "nb201" else "NATS-Bench tss",
            "version": "?" if self._path is None else self._path.name,
            "backend": self.name,
            "source": str(self._path),
            "api": self.module,
            "hp": HP,
            "averaging": "mean over the benchmark's trials (is_random=False)",
        }


class NB201Benchmark(OfficialBenchmark):
    """NAS-Bench-201 through ``nas_201_api`` on a user's ``.pth`` file."""

    name = "nb201"
    module = "nas_201_api"
    extra = "nb201"

    def _what(self) -> str:
        return "a NAS-Bench-201 file such as NAS-Bench-201-v1_1-096897.pth"

    def _create(self, path: Path) -> Any:  # pragma: no cover - needs the real package
        from nas_201_api import NASBench201API

        return NASBench201API(str(path), verbose=False)


class NATSBenchmark(OfficialBenchmark):
    """NATS-Bench topology space through ``nats_bench`` on a user's directory."""

    name = "nats"
    module = "nats_bench"
    extra = "nats"

    def _what(self) -> str:
        return "a NATS-tss directory such as NATS-tss-v1_0-3ffb9-simple"

    def _create(self, path: Path) -> Any:  # pragma: no cover - needs the real package
        from nats_bench import create

        return create(str(path), "tss", fast_mode=True, verbose=False)
