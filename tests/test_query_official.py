"""``query`` like the official API: official data-set names, --hp 12, train
accuracy, figures the bundled table lacks refused with one line (and answered by
an official backend), and a batch of all 15,625 cells equal to the table."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys

import pytest
from test_benchmark import FakeOfficialAPI, _FakeMetaInfo

from nasbench_sd.benchmark import COLUMNS, get_benchmark
from nasbench_sd.cli import main

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(scope="module")
def raw(nb201_csv):
    with gzip.open(nb201_csv, "rt") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("dataset, split, hp, column", [
    ("cifar10-valid", "valid", "200", "c10_valid"),
    ("cifar10-valid", "x-valid", "200", "c10_valid"),
    ("cifar10-valid", "test", "200", "c10valid_oritest"),
    ("cifar10-valid", "train", "200", "c10valid_train"),
    ("cifar10", "test", "200", "c10_test"),
    ("cifar10", "ori-test", "12", "hp12_c10_test"),
    ("cifar100", "train", "200", "c100_train"),
    ("cifar100", "x-test", "12", "hp12_c100_test"),
    ("ImageNet16-120", "valid", "200", "in16_valid"),
    ("ImageNet16-120", "train", "200", "in16_train"),
    ("imagenet16-120", "test", "12", "hp12_in16_test"),
])
def test_official_names_hp_and_train(capsys, raw, dataset, split, hp, column):
    code, out, _ = run_cli(capsys, "query", "1835", "--dataset", dataset, "--split", split, "--hp", hp, "--json")
    assert code == 0
    assert json.loads(out)["accuracy"] == float(raw[1835][column])


def test_hp12_record(capsys, raw):
    code, out, _ = run_cli(capsys, "query", "6111", "--hp", "12", "--json")
    data = json.loads(out)
    assert code == 0 and data["provenance"]["hp"] == "12"
    assert {c: data[c] for c in COLUMNS} == {c: float(raw[6111][f"hp12_{c}"]) for c in COLUMNS}


@pytest.mark.parametrize("args", [
    ["--dataset", "cifar10", "--split", "train"],  # the 50k-trained model's train accuracy
    ["--dataset", "cifar10-valid", "--split", "train", "--hp", "12"],
    ["--dataset", "cifar10-valid", "--split", "test", "--hp", "12"],
])
def test_figures_not_in_the_bundled_table(capsys, args):
    code, out, err = run_cli(capsys, "query", ALL_SKIP, *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "is not in the bundled table" in err and "--benchmark nb201" in err


class TrainFake(FakeOfficialAPI):
    """The fake official API, answering train accuracy too (from the table's column)."""

    def query_meta_info_by_index(self, index, hp="12"):
        self.hps.add(hp)
        row = self.rows[index]

        class Info(_FakeMetaInfo):
            def get_metrics(self, dataset, setname, iepoch=None, is_random=False):
                if setname == "train":
                    return {"accuracy": float(row[{"cifar10-valid": "c10valid_train", "cifar100": "c100_train",
                                                   "ImageNet16-120": "in16_train"}[dataset]])}
                return super().get_metrics(dataset, setname, iepoch, is_random)

        return Info(row)


def test_official_backend_answers_with_hp(raw, capsys, monkeypatch, tmp_path):
    import nasbench_sd.benchmark as benchmark

    fake = TrainFake(raw)
    real = benchmark.get_benchmark

    def patched(name="table", path=None, api=None):
        return real(name, path, api=fake if name != "table" else None)

    monkeypatch.setattr(benchmark, "get_benchmark", patched)
    code, out, _ = run_cli(capsys, "query", "1835", "--benchmark", "nb201", "--benchmark-path", tmp_path / "x.pth",
                           "--dataset", "cifar100", "--split", "train", "--hp", "12", "--json")
    assert code == 0 and json.loads(out)["accuracy"] == float(raw[1835]["c100_train"])
    assert fake.hps == {"12"}


def test_batch_all_cells_equals_the_table(raw, capsys, monkeypatch, tmp_path):
    lines = [r["arch"] if i % 2 else str(i) for i, r in enumerate(raw)]
    path = tmp_path / "cells.txt"
    path.write_text("# every cell, indices and arch strings\n" + "\n".join(lines) + "\n\n")
    code, out, _ = run_cli(capsys, "query", "--batch", path)
    assert code == 0
    got = list(csv.DictReader(io.StringIO(out)))
    assert len(got) == 15625
    for row, ref in zip(got, raw):
        assert row["index"] == ref["index"] and row["cell"] == ref["arch"]
        assert all(float(row[c]) == float(ref[c]) for c in COLUMNS)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ALL_SKIP}\n6111\n"))
    code, out, _ = run_cli(capsys, "query", "--batch", "-", "--dataset", "ImageNet16-120", "--split", "test",
                           "--json")
    data = json.loads(out)
    assert code == 0 and [d["index"] for d in data] == [1835, 6111]
    assert data[1]["ImageNet16-120_test"] == get_benchmark().record(get_benchmark().cell(6111)).in16_test


@pytest.mark.parametrize("stdin, args, needle", [
    ("1835\nfoo\n", ["--batch", "-"], "stdin, line 2: malformed"),
    ("1835\n99999\n", ["--batch", "-"], "stdin, line 2: index 99999 out of range"),
    ("\n# nothing\n", ["--batch", "-"], "names no cell"),
    ("", ["--batch", "{tmp}/missing.txt"], "cannot read --batch file"),
    ("", [ALL_SKIP, "--batch", "-"], "give one CELL_OR_INDEX or --batch"),
    ("", [], "give one CELL_OR_INDEX or --batch"),
    ("", [ALL_SKIP, "--hp", "50"], "Invalid value"),
    ("", [ALL_SKIP, "--dataset", "cifar10-valid", "--split", "holdout"], "unknown split"),
])
def test_batch_bad_input(capsys, monkeypatch, tmp_path, stdin, args, needle):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code, out, err = run_cli(capsys, "query", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2 and out == "" and err.count("\n") == 1 and needle in err


@pytest.mark.parametrize("dataset, column", [("cifar10", "c10_test_nats"), ("cifar100", "c100_test_nats"),
                                             ("ImageNet16-120", "in16_test_nats")])
def test_bundled_nats_figures(capsys, raw, dataset, column):
    code, out, _ = run_cli(capsys, "query", "4321", "--nats", "--dataset", dataset, "--split", "test", "--json")
    data = json.loads(out)
    assert code == 0 and data["benchmark"] == "NATS-Bench tss" and data["accuracy"] == float(raw[4321][column])
