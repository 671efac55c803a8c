"""Tables ready for a paper: direction of each difference, Holm correction, the
per-seed CSV, order / display names / bold / label, the search data set's split
and the bundled table's provenance in the caption, every shared setting in which
rows differ, and a re-score with an official backend (through the fake API)."""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from test_benchmark import FakeOfficialAPI
from test_table import read_csv, run_cli, write_result

from nasbench_sd.benchmark import COLUMNS, get_benchmark
from nasbench_sd.report.compare import holm

BETTER = {c: 60.0 for c in COLUMNS}


def spread(base: float, seed: int) -> dict[str, float]:
    return {c: base + (seed - 1.5) * 0.3 + k * 0.01 for k, c in enumerate(COLUMNS)}


@pytest.fixture
def exp(tmp_path) -> Path:
    """darts-v1 (baseline) clearly worse than sd-darts, gdas clearly worse than both."""
    root = tmp_path / "exp"
    for s in range(4):
        write_result(root, "darts-v1", s, "darts-v1", figures=spread(50.0, s))
        write_result(root, "sd-darts", s, "sd-darts", figures=spread(60.0, s))
        write_result(root, "gdas", s, "gdas", figures=spread(40.0, s))
    return root


def test_holm_textbook_example():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})


def test_direction_of_every_marked_difference(exp, capsys):
    code, out, _ = run_cli(capsys, "table", exp, "--baseline", "darts-v1", "--no-published", "--no-best")
    assert code == 0
    lines = {line.split(" | ")[0].strip("| "): line for line in out.splitlines() if line.startswith("| ")}
    assert lines["sd-darts"].count("↑**") == 6 and "↓" not in lines["sd-darts"]
    assert lines["gdas"].count("↓**") == 6 and "↑" not in lines["gdas"]
    rows = read_csv(exp / "table.csv")
    for c in COLUMNS:
        assert float(rows["sd-darts"][f"{c}_diff"]) == pytest.approx(10.0)
        assert float(rows["gdas"][f"{c}_diff"]) == pytest.approx(-10.0)
    tex = (exp / "table.tex").read_text()
    assert r"$^{\uparrow**}$" in tex and r"$^{\downarrow**}$" in tex
    assert "not corrected for multiple comparisons" in out and "better" in out and "worse" in out


def test_holm_adjusts_the_tables_family(tmp_path, capsys):
    root = tmp_path / "exp"
    rng = random.Random(0)
    for s in range(3):
        write_result(root, "darts-v1", s, "darts-v1", figures={c: 50 + rng.gauss(0, 1) for c in COLUMNS})
        write_result(root, "sd-darts", s, "sd-darts", figures={c: 51.5 + rng.gauss(0, 1) for c in COLUMNS})
        write_result(root, "gdas", s, "gdas", figures={c: 49 + rng.gauss(0, 1) for c in COLUMNS})
    code, out, _ = run_cli(capsys, "table", root, "--baseline", "darts-v1", "--correction", "holm",
                           "--no-published", "--no-best")
    assert code == 0 and "Holm-corrected over all tests of this table" in out
    rows = read_csv(root / "table.csv")
    raw = {(g, c): float(rows[g][f"{c}_p"]) for g in ("sd-darts", "gdas") for c in COLUMNS}
    m = len(raw)
    ordered = sorted(raw, key=raw.get)
    expected, running = {}, 0.0
    for rank, key in enumerate(ordered):  # Holm (1979): max over the step-down sequence
        running = max(running, min(1.0, (m - rank) * raw[key]))
        expected[key] = running
    for (g, c), p in expected.items():
        assert float(rows[g][f"{c}_p_adj"]) == pytest.approx(p, rel=1e-12)
        assert rows[g]["correction"] == "holm"


def test_per_seed_csv_reproduces_the_means(exp, capsys):
    assert run_cli(capsys, "table", exp, "--baseline", "darts-v1")[0] == 0
    means = read_csv(exp / "table.csv")
    seeds = list(csv.DictReader((exp / "table-seeds.csv").open()))
    assert len(seeds) == 3 * 4 * len(COLUMNS)
    for group in ("darts-v1", "sd-darts", "gdas"):
        for c in COLUMNS:
            v = [float(r["value"]) for r in seeds if r["row"] == group and r["column"] == c]
            assert float(means[group][f"{c}_mean"]) == pytest.approx(np.mean(v), abs=1e-12)
            assert float(means[group][f"{c}_std"]) == pytest.approx(np.std(v, ddof=1), abs=1e-12)
            stored = [json.loads(p.read_text())["benchmark"][c]
                      for p in sorted((exp / group).glob("seed-*/result.json"))]
            assert sorted(v) == sorted(stored)


def test_order_names_bold_label(exp, capsys):
    code, out, _ = run_cli(capsys, "table", exp, "--order", "sd-darts,gdas", "--name", "sd-darts=SD-DARTS (ours)",
                           "--label", "tab:mine", "--no-published", "--no-best")
    assert code == 0
    body = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[0].strip("| ") for line in body] == ["SD-DARTS (ours)", "gdas", "darts-v1"]
    assert body[0].count("**") == 2 * len(COLUMNS)  # the best row is bold in every column
    assert "**" not in body[1] + body[2]
    tex = (exp / "table.tex").read_text()
    assert r"\label{tab:mine}" in tex and tex.count(r"\textbf{") == len(COLUMNS)
    rows = read_csv(exp / "table.csv")
    assert list(rows)[:3] == ["sd-darts", "gdas", "darts-v1"] and rows["sd-darts"]["name"] == "SD-DARTS (ours)"


@pytest.mark.parametrize("args, needle", [
    (["--order", "sd-darts,pc-darts"], "--order names pc-darts"),
    (["--name", "pc-darts=PC"], "--name names pc-darts"),
    (["--name", "sd-darts"], "--name expects ROW=TEXT"),
    (["--correction", "bonferroni"], "Invalid value"),
    (["--columns", "searched", "--benchmark", "nats"], "--benchmark-path"),
])
def test_table_options_bad_input(exp, capsys, args, needle):
    code, _, err = run_cli(capsys, "table", exp, *args)
    assert code == 2 and err.count("\n") == 1 and needle in err
    assert not list(exp.glob("table*"))


def test_caption_names_shared_differences_not_method_fields_or_diagnostics(tmp_path, capsys):
    root = tmp_path / "exp"
    for s in range(2):
        write_result(root, "darts-v1", s, "darts-v1", hessian_every=1)
        write_result(root, "sd-darts", s, "sd-darts", w_weight_decay="3e-4", **{"method.lam": "0.5"})
    code, out, _ = run_cli(capsys, "table", root, "--no-published", "--no-best")
    assert code == 0
    caption = out.splitlines()[0]
    assert "rows differ in: w_weight_decay (darts-v1 0.0005, sd-darts 0.0003)." in caption
    assert "hessian_every (" not in caption and "lam (" not in caption
    rows = read_csv(root / "table.csv")
    assert rows["sd-darts"]["shared_diff"] == "w_weight_decay=0.0003"
    assert rows["darts-v1"]["shared_diff"] == "w_weight_decay=0.0005"


@pytest.mark.parametrize("dataset, needle, wrong", [
    ("cifar100", "alpha on the 5k xvalid half of the test set", "cifar-split.txt"),
    ("imagenet16-120", "alpha on the 3k xvalid half of val_data", "cifar-split.txt"),
    ("cifar10", "NB201 cifar-split.txt", "xvalid"),
])
def test_caption_names_the_split_of_the_search_data_set(tmp_path, capsys, dataset, needle, wrong):
    root = tmp_path / "exp"
    write_result(root, "darts-v1", 0, "darts-v1", dataset=dataset)
    code, out, _ = run_cli(capsys, "table", root, "--no-published", "--no-best")
    caption = out.splitlines()[0]
    assert code == 0 and needle in caption and wrong not in caption
    for source in ("NASGraph-Public @ cd95bdbf", "nas-without-training @ a1aa24c2", "column maxima"):
        assert source in caption  # the bundled table's provenance (PROVENANCE.md)


def test_searched_on_x_reported_on_x(tmp_path, capsys):
    root = tmp_path / "exp"
    for s in range(2):
        write_result(root, "darts-v1", s, "darts-v1", dataset="cifar100")
    code, out, _ = run_cli(capsys, "table", root, "--columns", "searched", "--no-published", "--no-best")
    assert code == 0 and "Searched on CIFAR-100, reported on CIFAR-100" in out
    header = next(line for line in out.splitlines() if line.startswith("| method"))
    assert "CIFAR-100 valid" in header and "CIFAR-10 " not in header and "ImageNet" not in header
    assert set(read_csv(root / "table.csv")["darts-v1"]) >= {"c100_valid_mean", "c100_test_mean"}
    write_result(root, "gdas", 0, "gdas")  # searched on cifar10
    code, _, err = run_cli(capsys, "table", root, "--columns", "searched")
    assert code == 2 and "one data set" in err


def test_rescore_with_official_backend(tmp_path, capsys, monkeypatch, nb201_csv):
    """`table --benchmark nb201` re-queries every run's cell through the official API."""
    import nasbench_sd.benchmark as benchmark

    with gzip.open(nb201_csv, "rt") as f:
        rows = list(csv.DictReader(f))
    fake = FakeOfficialAPI(rows)
    real = benchmark.get_benchmark

    def patched(name="table", path=None, api=None):
        return real(name, path, api=fake if name != "table" else None)

    monkeypatch.setattr(benchmark, "get_benchmark", patched)
    table = get_benchmark()
    root = tmp_path / "exp"
    cells = {}
    for s in range(3):
        result = write_result(root, "darts-v1", s, "darts-v1")  # random stored figures
        cells[s] = str(table.cell(1000 + 7 * s))
        (root / f"darts-v1/seed-{s}/result.json").write_text(json.dumps({**result, "cell": cells[s]}))
    code, out, err = run_cli(capsys, "table", root, "--benchmark", "nb201", "--benchmark-path", tmp_path / "x.pth",
                             "--no-published", "--no-best")
    assert code == 0, err
    assert "[nb201]" not in out and "(nb201)" in out
    got = read_csv(root / "table.csv")["darts-v1"]
    for c in COLUMNS:
        expected = np.mean([float(rows[1000 + 7 * s][c]) for s in range(3)])
        assert float(got[f"{c}_mean"]) == pytest.approx(expected, abs=1e-9)
    assert fake.hps == {"200"}
    assert re.search(r"NASGraph", out) is None  # not the bundled table's provenance


def test_cell_with_official_backend(capsys, monkeypatch, nb201_csv, tmp_path):
    import nasbench_sd.benchmark as benchmark

    with gzip.open(nb201_csv, "rt") as f:
        rows = list(csv.DictReader(f))
    real = benchmark.get_benchmark

    def patched(name="table", path=None, api=None):
        return real(name, path, api=FakeOfficialAPI(rows) if name != "table" else None)

    monkeypatch.setattr(benchmark, "get_benchmark", patched)
    code, out, _ = run_cli(capsys, "cell", "6111", "--benchmark", "nb201", "--benchmark-path", tmp_path / "x.pth",
                           "--json")
    data = json.loads(out)
    assert code == 0 and data["benchmark_source"]["backend"] == "nb201"
    assert data["benchmark"] == get_benchmark().record(get_benchmark().cell(6111)).figures()
    assert data["params_mb_cifar10_table"] is None


def test_paper_preset_caption_names_exactly_the_shared_differences(tmp_path, capsys):
    """Under `paper`, the caption names every shared setting in which sd-darts's and
    darts-v1's presets differ (computed here from the configs), and nothing else."""
    import dataclasses

    from nasbench_sd.presets import build_run_config

    root = tmp_path / "exp"
    configs = {m: build_run_config(m, "paper", 0) for m in ("sd-darts", "darts-v1")}
    for m, cfg in configs.items():
        for s in range(2):
            result = write_result(root, m, s, m)
            result["config"] = {**dataclasses.replace(cfg, seed=s).to_dict()}
            result["preset"] = "paper"
            (root / m / f"seed-{s}" / "result.json").write_text(json.dumps(result))
    a, b = (dataclasses.asdict(c.search) for c in configs.values())
    expected = sorted(k for k in a if a[k] != b[k] and not k.startswith("hessian_"))
    code, out, _ = run_cli(capsys, "table", root, "--no-published", "--no-best")
    caption = out.splitlines()[0]
    assert code == 0
    if expected:
        named = caption.split("rows differ in: ")[1].split(". ")[0]
        assert sorted(part.split(" (")[0] for part in named.split("; ")) == expected
    else:
        assert "the rows share every search setting" in caption
    assert "Changed from the preset: none." in caption
