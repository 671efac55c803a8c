"""``nasbench-sd plot`` and the ablation figure: non-empty PNG and PDF files from
synthetic run directories; the curves are the per-epoch mean ± std of the records."""

from __future__ import annotations

import csv
import json
import random
import statistics
from pathlib import Path

import pytest

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.cells import random_cell
from nasbench_sd.cli import main
from nasbench_sd.presets import build_run_config

PNG, PDF = b"\x89PNG\r\n\x1a\n", b"%PDF"


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def write_run(root: Path, group: str, method: str, seed: int, epochs: int = 4, hessian: bool = True) -> None:
    """config.json and metrics.jsonl shaped like the search loop's."""
    rng = random.Random(f"{group}/{seed}")
    d = root / group / f"seed-{seed}"
    d.mkdir(parents=True)
    cfg = build_run_config(method, "cpu", seed, {"epochs": str(epochs)})
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    lines = []
    for e in range(1, epochs + 1):
        probs = []
        for _ in range(6):
            w = [rng.random() for _ in range(5)]
            probs.append([x / sum(w) for x in w])
        rec = {"epoch": e, "train_loss": 2.0 / e, "benchmark": {c: rng.uniform(30, 94) for c in COLUMNS},
               "num_parameter_free": rng.randint(0, 6), "op_probs": probs, "epoch_seconds": 1.0}
        if hessian:
            rec["hessian_eig"] = rng.uniform(0, 0.5) * e
        lines.append(json.dumps(rec))
    (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def check_figures(paths: list[Path], names: list[str]) -> None:
    assert sorted(p.name for p in paths) == sorted(f"{n}.{ext}" for n in names for ext in ("png", "pdf"))
    for p in paths:
        data = p.read_bytes()
        assert len(data) > 5000, p
        assert data.startswith(PNG if p.suffix == ".png" else PDF), p


def test_plot_all_figures(tmp_path, capsys):
    root = tmp_path / "exp"
    for s in range(3):
        write_run(root, "darts-v1", "darts-v1", s)
        write_run(root, "sd-darts", "sd-darts", s)
    code, out, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    paths = [Path(line) for line in out.split()]
    check_figures(paths, ["accuracy", "hessian", "param-free", "op-probs-darts-v1", "op-probs-sd-darts"])
    assert all(p.parent == root / "plots" for p in paths)


def test_plot_without_hessian_and_one_group(tmp_path, capsys):
    root = tmp_path / "exp"
    write_run(root, "gdas", "gdas", 0, hessian=False)
    write_run(root, "sd-darts", "sd-darts", 0, hessian=False)
    code, out, err = run_cli(capsys, "plot", root, "--out", tmp_path / "figs", "--ops-of", "gdas")
    assert code == 0, err
    check_figures([Path(x) for x in out.split()], ["accuracy", "param-free", "op-probs-gdas"])


def test_band_is_mean_and_sample_std(tmp_path):
    from nasbench_sd.report.curves import band, load_curves

    root = tmp_path / "exp"
    for s in range(3):
        write_run(root, "sd-darts", "sd-darts", s)
    (g,) = load_curves(root)
    epochs, mean, std, n = band(g, lambda r: r["benchmark"]["c10_test"])
    assert epochs == [1, 2, 3, 4] and n == [3, 3, 3, 3]
    import numpy as np

    for e, m, s in zip(epochs, mean, std):
        v = [json.loads((root / f"sd-darts/seed-{k}/metrics.jsonl").read_text().splitlines()[e - 1])
             ["benchmark"]["c10_test"] for k in range(3)]
        assert m == pytest.approx(np.mean(v)) and s == pytest.approx(np.std(v, ddof=1))


def test_plot_bad_input(tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "random" / "seed-0").mkdir(parents=True)  # random search writes no metrics
    code, _, err = run_cli(capsys, "plot", empty)
    assert code == 2 and err.count("\n") == 1 and "no per-epoch metrics" in err
    assert not (empty / "plots").exists()
    root = tmp_path / "exp"
    write_run(root, "sd-darts", "sd-darts", 0)
    code, _, err = run_cli(capsys, "plot", root, "--ops-of", "gdas")
    assert code == 2 and err.count("\n") == 1 and not (root / "plots").exists()


@pytest.fixture
def drawn(monkeypatch):
    """name -> the figure that ``plot.save`` was given (kept open for inspection)."""
    from nasbench_sd.report import figure, plot

    figures, real_save = {}, plot.save

    def keep(fig, folder, name):
        figures[name] = fig
        return real_save(fig, folder, name)

    monkeypatch.setattr(plot, "save", keep)
    monkeypatch.setattr(figure, "save", keep)  # plot_final and ablation take it from there
    yield figures
    plot.pyplot().close("all")


def by_hand(rows: list[float]) -> tuple[float, float]:
    return statistics.mean(rows), statistics.stdev(rows) if len(rows) > 1 else 0.0


def test_accuracy_figure_draws_the_seed_means(tmp_path, capsys, drawn):
    root = tmp_path / "exp"
    for s in range(3):
        write_run(root, "darts-v1", "darts-v1", s)
    write_run(root, "sd-darts", "sd-darts", 0)
    code, _, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    fig = drawn["accuracy"]
    for ax, prefix in zip(fig.axes, ("c10", "c100", "in16")):
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        for group, seeds in (("darts-v1", 3), ("sd-darts", 1)):
            (label,) = [k for k in lines if k.startswith(f"{group} ")]
            assert f"n={seeds}" in label
            x, y = lines[label].get_data()
            runs = [[json.loads(line) for line in (root / group / f"seed-{k}" / "metrics.jsonl").read_text()
                     .splitlines()] for k in range(seeds)]
            assert list(x) == [1, 2, 3, 4]
            expected = [by_hand([r[e]["benchmark"][f"{prefix}_test"] for r in runs])[0] for e in range(4)]
            assert list(y) == pytest.approx(expected, rel=1e-12)


def test_ablation_csv_and_figure_equal_recomputation(tmp_path, drawn):
    from nasbench_sd.experiments.ablate import ablation_groups
    from nasbench_sd.report.ablation import summarize_ablation

    root = tmp_path / "abl"
    groups, key, values = ablation_groups("sd-darts", "warmup", "0,2,5", {})
    assert key == "method.warmup" and [g.label for g in groups] == ["sd-darts-warmup=0", "sd-darts-warmup=2",
                                                                     "sd-darts-warmup=5"]
    seeds = {"sd-darts-warmup=0": [0, 1, 2], "sd-darts-warmup=2": [0, 1], "sd-darts-warmup=5": [3]}
    for g in groups:
        for s in seeds[g.label]:
            cfg = build_run_config("sd-darts", "cpu", s, dict(g.sets))
            d = root / g.label / f"seed-{s}"
            d.mkdir(parents=True)
            rng = random.Random(f"{g.label}{s}")
            cell = random_cell(rng)
            (d / "result.json").write_text(json.dumps({
                "method": "sd-darts", "seed": s, "preset": "cpu", "config": cfg.to_dict(),
                "cell": str(cell), "num_parameter_free": cell.num_parameter_free,
                "benchmark": {c: rng.uniform(30, 94) for c in COLUMNS}}))
    paths = summarize_ablation(root, "sd-darts", "warmup", key, values, groups)
    assert paths[0].name == "ablation-warmup.csv"
    check_figures(paths[1:], ["ablation-warmup"])
    rows = list(csv.DictReader(paths[0].open()))
    assert [r["value"] for r in rows] == values
    fig = drawn["ablation-warmup"]
    for r, v, g in zip(rows, values, groups):
        results = [json.loads((root / g.label / f"seed-{s}" / "result.json").read_text()) for s in seeds[g.label]]
        assert r["param"] == "warmup" and r["group"] == g.label and r["n"] == str(len(results))
        assert r["seeds"] == " ".join(map(str, seeds[g.label])) and r["preset"] == "cpu"
        assert r["search_epochs"] == str(results[0]["config"]["search"]["epochs"])
        for c in COLUMNS:
            mean, std = by_hand([x["benchmark"][c] for x in results])
            assert float(r[f"{c}_mean"]) == pytest.approx(mean, rel=1e-12), (v, c)
            assert float(r[f"{c}_std"]) == pytest.approx(std, rel=1e-12, abs=1e-12), (v, c)
        # how far each cell collapsed, counted here from the arch string itself
        ops = [x["cell"].replace("+", "|").split("|") for x in results]
        free = by_hand([sum(o.split("~")[0] in ("none", "skip_connect", "avg_pool_3x3") for o in e if o)
                        for e in ops])
        skip = by_hand([sum(o.startswith("skip_connect~") for o in e) for e in ops])
        assert (float(r["param_free_mean"]), float(r["param_free_std"])) == pytest.approx(free, abs=1e-12)
        assert (float(r["skip_mean"]), float(r["skip_std"])) == pytest.approx(skip, abs=1e-12)
    panels = [f"{prefix}_test_mean" for prefix in ("c10", "c100", "in16")] + ["param_free_mean", "skip_mean"]
    lines = [ax.containers[0].lines[0] for ax in fig.axes[:3]] + [c.lines[0] for c in fig.axes[3].containers]
    for line, col in zip(lines, panels, strict=True):
        x, y = line.get_data()
        assert list(x) == [0.0, 2.0, 5.0]
        assert list(y) == pytest.approx([float(r[col]) for r in rows], rel=1e-12)


def test_groups_with_different_budgets_are_drawn_against_the_fraction_of_each_budget(tmp_path, monkeypatch):
    from nasbench_sd.report import figure, plot

    root = tmp_path / "exp"
    for s in range(2):
        write_run(root, "darts-v1", "darts-v1", s, epochs=4)
        write_run(root, "gdas", "gdas", s, epochs=8)
    drawn = {}

    def keep(fig, folder, name):
        drawn[name] = [(line.get_label(), list(line.get_xdata())) for line in fig.axes[0].get_lines()]
        drawn[name + ".xlabel"] = fig.axes[0].get_xlabel()
        plot.pyplot().close(fig)
        return []

    monkeypatch.setattr(plot, "save", keep)
    monkeypatch.setattr(figure, "save", keep)  # plot_final and ablation take it from there
    plot.plot_experiment(root, tmp_path / "plots")
    for name in ("accuracy", "param-free", "hessian"):
        lines = dict((label.split(" (")[0], x) for label, x in drawn[name] if "(n=" in label)
        assert lines["darts-v1"] == [0.25, 0.5, 0.75, 1.0], name
        assert lines["gdas"] == [e / 8 for e in range(1, 9)], name
        assert drawn[name + ".xlabel"].startswith("fraction of the search budget"), name
    # one budget: plain epochs
    drawn.clear()
    plot.plot_experiment(root / "gdas", tmp_path / "plots-one")
    assert dict(drawn["accuracy"])["gdas (n=2)"] == list(range(1, 9)) and drawn["accuracy.xlabel"] == "search epoch"


def write_result(root: Path, group: str, method: str, seed: int) -> dict:
    """A finished run's result.json (random cell and figures), beside its per-epoch records."""
    rng = random.Random(f"result/{group}/{seed}")
    cell = random_cell(rng)
    result = {"method": method, "seed": seed, "preset": "cpu",
              "config": build_run_config(method, "cpu", seed, {"epochs": "4"}).to_dict(),
              "cell": str(cell), "benchmark": {c: rng.uniform(30, 94) for c in COLUMNS}}
    (root / group / f"seed-{seed}" / "result.json").write_text(json.dumps(result))
    return result


def test_final_figure_draws_each_seeds_cell_its_mean_and_the_published_row(tmp_path, capsys, drawn):
    from nasbench_sd.report.published import TABLE4

    root = tmp_path / "exp"
    results = {}
    for group, method, seeds in (("darts-v1", "darts-v1", 3), ("sd-darts", "sd-darts", 2)):
        for s in range(seeds):
            write_run(root, group, method, s)
            results.setdefault(group, []).append(write_result(root, group, method, s))
    write_run(root, "gdas", "gdas", 0)  # unfinished: no result.json, so not a row of the final figure
    code, out, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    assert {"final.png", "final.pdf"} <= {Path(p).name for p in out.split()}
    fig = drawn["final"]
    rows = {t.get_text(): y for t, y in zip(fig.axes[0].get_yticklabels(), fig.axes[0].get_yticks())}
    assert rows.keys() == {"darts-v1 (n=3)", "sd-darts (n=2)"}
    published = {"darts-v1": TABLE4["DARTS (1st)"], "sd-darts": TABLE4["SD-DARTS"]}
    for ax, k in zip(fig.axes[:3], (1, 3, 5)):  # the test columns
        column = COLUMNS[k]
        dots = [c for c in ax.collections if c.get_gid() == "seed"]
        bars = {c.get_label(): [] for c in ax.containers}
        for c in ax.containers:
            bars[c.get_label()].append(c)
        for group, runs in results.items():
            y = rows[f"{group} (n={len(runs)})"]
            (mine,) = [d for d in dots if abs(d.get_offsets()[:, 1].mean() - y) < 0.3]
            assert list(mine.get_offsets()[:, 0]) == pytest.approx([r["benchmark"][column] for r in runs], rel=1e-12)
            mean, std = by_hand([r["benchmark"][column] for r in runs])
            (bar,) = [b for b in bars["mean ± std over seeds"] if b.lines[0].get_ydata()[0] == y]
            assert bar.lines[0].get_xdata()[0] == pytest.approx(mean, rel=1e-12)
            (seg,) = bar.lines[2][0].get_segments()
            assert (seg[0][0], seg[1][0]) == pytest.approx((mean - std, mean + std), rel=1e-12)
            (pub,) = [b for b in bars["published mean ± std (paper's protocol)"]
                      if 0 < b.lines[0].get_ydata()[0] - y < 0.5]
            assert pub.lines[0].get_xdata()[0] == published[group][k][0]
    # parameter-free ops of each seed's cell, counted here from the arch string itself
    dots = [c for c in fig.axes[3].collections if c.get_gid() == "seed"]
    for group, runs in results.items():
        y = rows[f"{group} (n={len(runs)})"]
        (mine,) = [d for d in dots if abs(d.get_offsets()[:, 1].mean() - y) < 0.3]
        free = [sum(o.split("~")[0] in ("none", "skip_connect", "avg_pool_3x3")
                    for o in r["cell"].replace("+", "|").split("|") if o) for r in runs]
        assert list(mine.get_offsets()[:, 0]) == free
    assert "published rows are at the paper's scale" in fig._suptitle.get_text()


def test_final_figure_follows_methods_and_split(tmp_path, capsys, drawn):
    root = tmp_path / "exp"
    for group in ("darts-v1", "sd-darts"):
        write_run(root, group, group, 0)
        write_result(root, group, group, 0)
    code, out, err = run_cli(capsys, "plot", root, "--methods", "sd-darts", "--split", "valid")
    assert code == 0, err
    assert "final-valid" in drawn and "final" not in drawn
    fig = drawn["final-valid"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["sd-darts (n=1)"]
    assert fig.axes[0].get_title().startswith("CIFAR-10 valid")


def test_final_figure_refuses_a_result_without_a_valid_cell(tmp_path, capsys):
    root = tmp_path / "exp"
    write_run(root, "darts-v1", "darts-v1", 0)
    result = write_result(root, "darts-v1", "darts-v1", 0)
    (root / "darts-v1/seed-0/result.json").write_text(json.dumps({**result, "cell": "|conv~0|"}))
    code, _, err = run_cli(capsys, "plot", root)
    assert code == 2 and err.count("\n") == 1
    assert "darts-v1/seed-0/result.json has no valid final cell" in err
    assert not (root / "plots").exists()  # refused before any figure was written


def test_the_same_runs_give_the_same_figure_files(tmp_path, capsys):
    root = tmp_path / "exp"
    for s in range(2):
        write_run(root, "darts-v1", "darts-v1", s)
        write_result(root, "darts-v1", "darts-v1", s)
    files = []
    for out in ("a", "b"):
        code, stdout, err = run_cli(capsys, "plot", root, "--out", tmp_path / out)
        assert code == 0, err
        files.append({Path(p).name: Path(p).read_bytes() for p in stdout.split()})
    assert files[0].keys() == files[1].keys() and "final.pdf" in files[0]
    assert files[0] == files[1]  # no time stamp in the PDFs: a redrawn experiment changes only what changed
