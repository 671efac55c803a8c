"""``nasbench-sd table``: numbers equal a recomputation from the result files,
files are complete and never half-written, mixed configurations are refused,
published rows are the paper's."""

from __future__ import annotations

import csv
import json
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ttest_ind

from nasbench_sd.benchmark import COLUMNS, get_benchmark
from nasbench_sd.cli import main
from nasbench_sd.presets import build_run_config
from nasbench_sd.report import published

SHARED = Path(os.environ.get("NASBENCH_SD_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DOC = SHARED / "docs" / "SD-DARTS.md"


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def write_result(root: Path, group: str, seed: int, method: str = "random", figures: dict | None = None,
                 **sets: str) -> dict:
    """A result.json as run_search writes it (config, six figures, provenance)."""
    cfg = build_run_config(method, "cpu", seed, {k: str(v) for k, v in sets.items()})
    rng = random.Random(f"{group}/{seed}")
    figures = figures or {c: round(rng.uniform(40, 95), 4) for c in COLUMNS}
    result = {"method": method, "seed": seed, "preset": "cpu", "cell": str(get_benchmark().cell(0)), "index": 0,
              "benchmark": figures,
              "epochs": cfg.search.epochs, "config": cfg.to_dict(),
              "provenance": {"benchmark": get_benchmark().provenance(), "split_protocol": "official"}}
    d = root / group / f"seed-{seed}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "result.json").write_text(json.dumps(result))
    return result


@pytest.fixture
def experiment(tmp_path) -> Path:
    """Three groups: 4 seeds, 3 seeds (two methods) and one seed (std 0)."""
    root = tmp_path / "exp"
    for s in range(4):
        write_result(root, "darts-v1", s, "darts-v1")
    for s in (0, 2, 5):
        write_result(root, "sd-darts", s, "sd-darts")
    write_result(root, "gdas", 0, "gdas")
    return root


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    return {r["row"]: r for r in csv.DictReader(path.open())}


def values(root: Path, group: str, column: str) -> list[float]:
    return [json.loads(p.read_text())["benchmark"][column] for p in sorted((root / group).glob("seed-*/result.json"))]


def test_numbers_equal_recomputation(experiment, capsys):
    code, out, _ = run_cli(capsys, "table", experiment, "--baseline", "darts-v1")
    assert code == 0
    rows = read_csv(experiment / "table.csv")
    for group, n in (("darts-v1", 4), ("sd-darts", 3), ("gdas", 1)):
        row = rows[group]
        assert int(row["n"]) == n and row["source"] == "measured" and row["method"] == group
        for c in COLUMNS:
            v = values(experiment, group, c)
            assert float(row[f"{c}_mean"]) == pytest.approx(np.mean(v), abs=1e-9)
            assert float(row[f"{c}_std"]) == pytest.approx(np.std(v, ddof=1) if n > 1 else 0.0, abs=1e-9)
            if group == "sd-darts":
                p = ttest_ind(v, values(experiment, "darts-v1", c), equal_var=False).pvalue
                assert float(row[f"{c}_p"]) == pytest.approx(p, rel=1e-9)
            else:  # the baseline itself, and n=1 (no test possible)
                assert row[f"{c}_p"] == ""
    assert rows["sd-darts"]["seeds"] == "0 2 5"
    # the same numbers, rounded, in the Markdown on stdout
    v = values(experiment, "sd-darts", "c100_test")
    plain = re.sub(r"\*\*(\d+\.\d\d)\*\*", r"\1", out)  # the best mean per column is bold
    assert f"{np.mean(v):.2f} ± {np.std(v, ddof=1):.2f}" in plain
    assert "| darts-v1 (baseline) | 4 |" in out


def test_files_complete(experiment, capsys, tmp_path):
    out_dir = tmp_path / "tables"
    code, stdout, _ = run_cli(capsys, "table", experiment, "--out", out_dir, "--baseline", "darts-v1")
    assert code == 0
    md, tex = (out_dir / "table.md").read_text(), (out_dir / "table.tex").read_text()
    rows = read_csv(out_dir / "table.csv")
    assert md.strip() == stdout.strip()
    # each measured method is followed by its published row; the other published rows come after
    beside = {"darts-v1": "DARTS (1st)", "gdas": "GDAS", "sd-darts": "SD-DARTS"}
    labels = [x for m in ("darts-v1", "gdas", "sd-darts") for x in (m, f"{beside[m]} (published)")]
    labels += [f"{name} (published)" for name in published.TABLE4 if name not in beside.values()]
    labels += [f"{r.name} (published, {r.source})" for r in published.OTHER_ROWS]
    labels += ["best cell in NB201 v1_1 (per column)"]
    assert list(rows) == labels
    for label in labels:
        assert f"| {label}" in md
        assert re.sub(r"([_%&#])", r"\\\1", label) in tex
    assert tex.startswith(r"\begin{table}") and tex.rstrip().endswith(r"\end{table}")
    assert tex.count(r"\\") == len(labels) + 2  # two header lines
    for text in (md, tex):  # the caption says what the numbers are
        for needed in ("hp=200", "v1_1", "preset cpu", "same fraction (1/5) of its own paper's search epochs",
                       "split official", "ddof=1", "n=1", "Welch"):
            assert needed in text.replace("\\_", "_"), needed
    assert not list(out_dir.glob(".*tmp")) and not list(out_dir.glob("*.tmp"))


def test_published_and_best_rows(experiment, capsys):
    assert run_cli(capsys, "table", experiment)[0] == 0
    rows = read_csv(experiment / "table.csv")
    sd = rows["SD-DARTS (published)"]
    assert sd["source"] == "published" and sd["n"] == ""
    assert (float(sd["c10_test_mean"]), float(sd["c10_test_std"])) == (93.91, 0.08)
    best = rows["best cell in NB201 v1_1 (per column)"]
    top = get_benchmark().best()
    for c, paper in zip(COLUMNS, published.BEST_PUBLISHED):
        assert float(best[f"{c}_mean"]) == top[c].figures()[c]
        assert round(float(best[f"{c}_mean"]), 2) == paper
    assert run_cli(capsys, "table", experiment, "--no-published", "--no-best")[0] == 0
    assert set(read_csv(experiment / "table.csv")) == {"darts-v1", "sd-darts", "gdas"}


def test_published_rows_name_their_source(tmp_path, capsys):
    """A published row from outside SD-DARTS Table 4 (beta-DARTS) carries its own source in its
    label and in the CSV, and sits right below the measured row of its method."""
    root = tmp_path / "exp"
    write_result(root, "beta-darts", 0, "beta-darts")
    write_result(root, "darts-minus", 0, "darts-minus")
    code, out, _ = run_cli(capsys, "table", root)
    assert code == 0
    rows = read_csv(root / "table.csv")
    beta = next(r for r in published.OTHER_ROWS if r.method == "beta-darts")
    assert "Table 4" not in beta.source and "beta-DARTS" in beta.source
    label = f"beta-DARTS (published, {beta.source})"
    assert rows[label]["source"] == "published" and rows[label]["reference"] == beta.source
    assert float(rows[label]["c10_test_mean"]) == beta.figures[1][0]
    assert rows["DARTS- (published)"]["reference"] == published.SOURCE
    assert all(r["reference"] for r in rows.values() if r["source"] == "published")
    order = list(rows)
    assert order[:4] == ["beta-darts", label, "darts-minus", "DARTS- (published)"]
    assert f"| {label} |" in out and "unless the label names another source" in out


@pytest.mark.skipif(not DOC.is_file(), reason="docs/SD-DARTS.md not beside the clone")
def test_published_numbers_are_the_papers():
    """Every published row equals the Table 4 row of docs/SD-DARTS.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and "±" in cells[1]:
            rows[cells[0]] = tuple(tuple(float(x) for x in c.split("±")) for c in cells[1:])
    assert rows == published.TABLE4


def test_mixed_configurations_refused(experiment, capsys):
    run_cli(capsys, "table", experiment)
    before = {p.name: p.read_bytes() for p in experiment.glob("table.*")}
    write_result(experiment, "sd-darts", 9, "sd-darts", epochs="3")
    code, _, err = run_cli(capsys, "table", experiment)
    assert code == 2 and err.count("\n") == 1
    assert "sd-darts mixes configurations" in err and "search.epochs" in err
    assert {p.name: p.read_bytes() for p in experiment.glob("table.*")} == before


def test_render_failure_writes_nothing(experiment, capsys, monkeypatch):
    from nasbench_sd.report import render

    def broken(table):
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(render, "to_latex", broken)
    with pytest.raises(RuntimeError, match="disk full while rendering"):
        main(["table", str(experiment)])
    assert not list(experiment.glob("table.*")) and not list(experiment.rglob("*.tmp"))


def test_varying_settings_become_columns(tmp_path, capsys):
    root = tmp_path / "exp"
    write_result(root, "short", 0, "random", epochs="3")
    write_result(root, "long", 0, "random", epochs="7")
    code, out, _ = run_cli(capsys, "table", root, "--no-published", "--no-best")
    assert code == 0
    assert "search_epochs" in out and "| long | 1 |" in out
    rows = read_csv(root / "table.csv")
    assert rows["short"]["overrides"] == "epochs=3" and rows["long"]["search_epochs"] == "7"


@pytest.mark.parametrize("args,needle", [
    (["--baseline", "nope"], "not a row"),
    (["--baseline", "darts-v1", "--out", "{blocked}/t"], "not writable"),
])
def test_table_bad_input(experiment, capsys, tmp_path, args, needle):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file")
    args = [a.replace("{blocked}", str(blocked)) for a in args]
    code, _, err = run_cli(capsys, "table", experiment, *args)
    assert code == 2 and err.count("\n") == 1 and needle in err
    assert not list(experiment.glob("table.*"))


def test_no_results(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "table", tmp_path / "empty")
    assert code == 2 and "no results" in err
    code, _, err = run_cli(capsys, "table", tmp_path / "missing")
    assert code == 2 and err.count("\n") == 1
