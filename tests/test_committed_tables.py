"""The committed tables are what the code makes of the committed runs, byte for byte.

Every ``results/<experiment>/table.*`` is rebuilt from that folder's runs with
the options it was made with (the baseline and correction its CSV names) and
must equal the committed file: a change of rendering (pandas for the CSVs,
hand-written Markdown and LaTeX) that altered a published table fails here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.report.table import TableOptions, build_table, write_table

REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted(p.parent for p in REPO.glob("results/*/table.csv"))
FILES = ("table.csv", "table-seeds.csv", "table.md", "table.tex")


def options_of(folder: Path) -> TableOptions:
    rows = list(csv.DictReader((folder / "table.csv").open()))
    baseline = next((r["baseline"] for r in rows if r["baseline"]), None)
    correction = next((r["correction"] for r in rows if r["correction"]), "none")
    return TableOptions(baseline=baseline, correction=correction)


def test_there_are_committed_tables():
    assert len(COMMITTED) >= 5


@pytest.mark.parametrize("folder", COMMITTED, ids=[p.name for p in COMMITTED])
def test_regenerating_a_committed_table_changes_no_byte(folder, tmp_path):
    write_table(build_table(folder, options=options_of(folder)), tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), f"{folder.name}/{name}"


def test_the_frame_holds_the_csv_numbers(tmp_path):
    import pandas as pd

    folder = REPO / "results" / "cpu"
    table = build_table(folder, options=options_of(folder))
    df = table.frame()
    read = pd.read_csv(folder / "table.csv", keep_default_na=False, na_values=[""])
    assert list(df.columns) == list(read.columns)
    numbers = [f"{c}_{k}" for c in COLUMNS for k in ("mean", "std", "p", "p_adj", "diff")]
    pd.testing.assert_frame_equal(df[numbers], read[numbers].astype("float64"))
    assert df["row"].tolist() == read["row"].tolist()
    measured = df[df["source"] == "measured"]
    assert measured["n"].tolist() == [5] * len(measured) and df["n"][df["source"] != "measured"].isna().all()
    assert df.attrs["caption"] == table.caption
