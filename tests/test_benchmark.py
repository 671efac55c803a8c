"""The benchmark layer: table lookups equal the table, official backends
map Table-4 columns to the right (dataset, metric) pairs and agree with it."""

import csv
import gzip
import random

import pytest

from nasbench_sd.benchmark import COLUMNS, get_benchmark, parse_cell_or_index
from nasbench_sd.benchmark.base import OFFICIAL_QUERIES
from nasbench_sd.cells import NUM_CELLS, Cell, all_cells
from nasbench_sd.errors import UserError

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
# ../shared/data/nb201/README.md: column maxima (value, index).
MAXIMA = {
    "c10_valid": (91.6067, 6111), "c10_test": (94.3733, 6111),
    "c100_valid": (73.4933, 9930), "c100_test": (73.5133, 9930),
    "in16_valid": (46.7333, 10676), "in16_test": (47.3111, 857),
}


@pytest.fixture(scope="module")
def table():
    return get_benchmark("table")


def _raw_rows(path):
    with gzip.open(path, "rt") as f:
        return list(csv.DictReader(f))


def test_darts_row_of_table4(table):
    r = table.record(Cell.from_string(ALL_SKIP))
    assert r.index == 1835
    got = [round(v, 2) for v in r.figures().values()]
    assert got == [39.77, 54.30, 15.03, 15.61, 16.43, 16.32]


def test_bundled_table_equals_shared_table(table, shared_data):
    rows = _raw_rows(shared_data / "nb201" / "nb201_v1_1.csv.gz")
    sample = random.Random(0).sample(range(NUM_CELLS), 500)
    for i in sample:
        row = rows[i]
        cell = Cell.from_string(row["arch"])
        rec = table.record(cell)
        assert rec.index == int(row["index"]) == i
        for c in COLUMNS:
            assert getattr(rec, c) == float(row[c])
        assert rec.params_mb_cifar10 == float(row["params_mb_cifar10"])


def test_index_is_a_bijection(table):
    indices = {table.index(c) for c in all_cells()}
    assert indices == set(range(NUM_CELLS))
    for i in (0, 1, 1835, 15624):
        assert table.index(table.cell(i)) == i


def test_best_matches_published_maxima(table):
    best = table.best()
    for c, (value, index) in MAXIMA.items():
        assert best[c].index == index
        assert round(getattr(best[c], c), 4) == value


def test_query_validates_dataset_and_split(table):
    cell = Cell.from_string(ALL_SKIP)
    assert table.query(cell, "cifar100", "test") == table.record(cell).c100_test
    assert table.query(cell, "ImageNet16-120", "valid") == table.record(cell).in16_valid
    with pytest.raises(UserError, match="unknown data set 'svhn'"):
        table.query(cell, "svhn", "test")
    with pytest.raises(UserError, match="unknown split 'train'"):
        table.query(cell, "cifar10", "train")


def test_parse_cell_or_index(table):
    assert str(parse_cell_or_index("1835", table)) == ALL_SKIP
    with pytest.raises(UserError, match="out of range"):
        parse_cell_or_index("15625", table)


# -- the official backends, on a fake object with the official API's shape ------------


class _FakeMetaInfo:
    def __init__(self, row):
        self.row = row

    def get_metrics(self, dataset, setname, iepoch=None, is_random=False):
        assert iepoch is None and is_random is False
        columns = {
            ("cifar10-valid", "x-valid"): "c10_valid",
            ("cifar10-valid", "ori-test"): "c10valid_oritest",  # the tempting wrong "test"
            ("cifar10", "ori-test"): "c10_test",
            ("cifar100", "x-valid"): "c100_valid",
            ("cifar100", "x-test"): "c100_test",
            ("ImageNet16-120", "x-valid"): "in16_valid",
            ("ImageNet16-120", "x-test"): "in16_test",
        }
        return {"accuracy": float(self.row[columns[(dataset, setname)]]), "loss": 0.0}


class FakeOfficialAPI:
    """Mimics nas_201_api / nats_bench: index by arch, meta info by index."""

    def __init__(self, rows):
        self.rows = rows
        self.by_arch = {r["arch"]: int(r["index"]) for r in rows}
        self.hps = set()

    def query_index_by_arch(self, arch):
        return self.by_arch.get(arch, -1)

    def arch(self, index):
        return self.rows[index]["arch"]

    def query_meta_info_by_index(self, index, hp="12"):
        self.hps.add(hp)
        return _FakeMetaInfo(self.rows[index])


@pytest.mark.parametrize("backend", ["nb201", "nats"])
def test_official_backends_agree_with_table(backend, table, nb201_csv):
    """The fake official API serves the bundled file's raw rows (equal to ../shared's
    copy, see above): the backends must map every query to the right column."""
    rows = _raw_rows(nb201_csv)
    fake = FakeOfficialAPI(rows)
    official = get_benchmark(backend, "unused", api=fake)
    for i in random.Random(1).sample(range(NUM_CELLS), 200):
        cell = table.cell(i)
        assert official.record(cell).figures() == table.record(cell).figures()
        assert official.cell(i) == cell
    assert fake.hps == {"200"}
    assert set(OFFICIAL_QUERIES) == set(COLUMNS)


@pytest.mark.parametrize("backend", ["nb201", "nats"])
def test_official_backend_errors(backend, tmp_path):
    cell = Cell.from_string(ALL_SKIP)
    with pytest.raises(UserError, match="--benchmark-path"):
        get_benchmark(backend).record(cell)
    with pytest.raises(UserError, match="not found"):
        get_benchmark(backend, tmp_path / "missing.pth").record(cell)
    existing = tmp_path / "bench.pth"
    existing.write_bytes(b"")
    with pytest.raises(UserError, match=r"pip install 'nasbench-sd\[(nb201|nats)\]'"):
        get_benchmark(backend, existing).record(cell)


def test_unknown_backend():
    with pytest.raises(UserError, match="unknown benchmark"):
        get_benchmark("hpobench")


def test_corrupt_table_is_reported(tmp_path):
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(UserError, match="corrupt"):
        get_benchmark("table", bad).record(Cell.from_string(ALL_SKIP))
