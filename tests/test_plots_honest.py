"""Figures that say what they show: n in every title, no spread claimed for single
runs, a y axis that does not start at zero marked as such, and many groups drawn
as small multiples instead of one unreadable tangle."""

from __future__ import annotations

import json
import random

import pytest
from test_plots import by_hand, drawn, run_cli, write_run  # noqa: F401  (drawn is a fixture)

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.cells import random_cell
from nasbench_sd.presets import build_run_config
from nasbench_sd.report.figure import AXIS_BREAK, spread_note


def titles(fig) -> str:
    return " ".join([fig._suptitle.get_text() if fig._suptitle else ""] + [a.get_title() for a in fig.axes])


def breaks(ax) -> int:
    return sum(line.get_gid() == AXIS_BREAK for line in ax.get_lines())


def test_spread_note_says_n_and_claims_no_spread_for_single_runs():
    assert spread_note([1, 1]) == "one run per group (n=1), no spread"
    assert "±" not in spread_note([1])
    assert spread_note([3, 3]) == "mean ± std over seeds, n=3"
    assert spread_note([5, 3, 3]) == "mean ± std over seeds, n=3/5 per group"
    assert "no band where n=1" in spread_note([1, 3])


def test_single_runs_get_no_band_and_no_plus_minus(tmp_path, capsys, drawn):  # noqa: F811
    root = tmp_path / "exp"
    write_run(root, "darts-v1", "darts-v1", 0)
    write_run(root, "sd-darts", "sd-darts", 0)
    code, _, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    for name in ("hessian", "param-free", "accuracy"):
        fig = drawn[name]
        assert "n=1" in titles(fig) and "±" not in titles(fig), name
        assert not any(ax.collections for ax in fig.axes), name  # fill_between would add a band
    (ax,) = drawn["hessian"].axes
    assert ax.get_ylim()[0] <= 0  # an eigenvalue's size matters: its axis starts at zero


def test_every_title_says_n(tmp_path, capsys, drawn):  # noqa: F811
    root = tmp_path / "exp"
    for s in range(3):
        write_run(root, "darts-v1", "darts-v1", s)
    for s in range(2):
        write_run(root, "sd-darts", "sd-darts", s)
    code, _, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    for name, fig in drawn.items():
        assert "n=" in titles(fig), name
    assert "n=2/3 per group" in titles(drawn["accuracy"])


def test_a_y_axis_above_zero_carries_a_break_mark(tmp_path, capsys, drawn):  # noqa: F811
    root = tmp_path / "exp"
    for s in range(2):
        write_run(root, "darts-v1", "darts-v1", s)  # accuracies drawn in 30-94: the axes start above zero
    code, _, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    for ax in drawn["accuracy"].axes:
        low = ax.get_ylim()[0]
        assert low > 0 and breaks(ax) > 0 and "not 0" in ax.get_ylabel()
    (ax,) = drawn["param-free"].axes
    assert ax.get_ylim()[0] < 0 and breaks(ax) == 0  # starts below zero: nothing to mark


def test_many_groups_are_drawn_as_small_multiples_beside_the_reference(tmp_path, capsys, drawn):  # noqa: F811
    from nasbench_sd.report.plot import MAX_OVERLAY

    root = tmp_path / "exp"
    methods = ["darts-v1", "darts-v2", "gdas", "pc-darts", "sd-darts", "snas"]
    assert len(methods) > MAX_OVERLAY
    for m in methods:
        for s in range(2):
            write_run(root, m, m, s)
    code, _, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    fig = drawn["param-free"]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert sorted(ax.get_title() for ax in panels) == sorted(f"{m} (n=2)" for m in methods)
    reference = [json.loads(line)["num_parameter_free"] for s in range(2)
                 for line in (root / f"darts-v1/seed-{s}/metrics.jsonl").read_text().splitlines()]
    expected = [by_hand(reference[e::4])[0] for e in range(4)]  # 4 epochs per run
    for ax in panels:
        grey = [line for line in ax.get_lines() if line.get_gid() == "reference"]
        if ax.get_title().startswith("darts-v1 "):
            assert not grey
            continue
        (line,) = grey
        assert list(line.get_ydata()) == pytest.approx(expected, rel=1e-12)
        own = [line for line in ax.get_lines() if line.get_gid() != "reference" and "(n=2)" in line.get_label()]
        assert len(own) == 1 and own[0].get_label().startswith(ax.get_title().split(" (")[0])
    assert "grey: darts-v1" in fig._suptitle.get_text()
    accuracy = drawn["accuracy"]  # one row per group, one column per data set, every axis from 0 to 100
    rows = [ax for ax in accuracy.axes if ax.get_visible()]
    assert len(rows) == 3 * len(methods) and all(ax.get_ylim() == (0.0, 100.0) for ax in rows)
    assert sorted({ax.get_title().split(":")[0] for ax in rows}) == sorted(f"{m} (n=2)" for m in methods)


def test_ablation_figure_marks_its_zoomed_axes_and_is_redrawn_from_its_manifest(tmp_path, drawn):  # noqa: F811
    from nasbench_sd.experiments.ablate import ablation_groups
    from nasbench_sd.report.ablation import summarize_ablation, summarize_committed

    root = tmp_path / "abl"
    groups, key, values = ablation_groups("sd-darts", "K", "1,2", {})
    for g in groups:
        for s in range(3):
            cfg = build_run_config("sd-darts", "cpu", s, dict(g.sets))
            d = root / g.label / f"seed-{s}"
            d.mkdir(parents=True)
            rng = random.Random(f"{g.label}{s}")
            cell = random_cell(rng)
            (d / "result.json").write_text(json.dumps({
                "method": "sd-darts", "seed": s, "preset": "cpu", "config": cfg.to_dict(), "cell": str(cell),
                "num_parameter_free": cell.num_parameter_free,
                "benchmark": {c: rng.uniform(80, 94) for c in COLUMNS}}))
    (root / "experiment.json").write_text(json.dumps({
        "ablation": {"method": "sd-darts", "param": "K", "key": key, "values": values},
        "groups": {g.label: {"method": "sd-darts", "sets": dict(g.sets)} for g in groups}}))
    first = summarize_ablation(root, "sd-darts", "K", key, values, groups)
    csv_text = first[0].read_text()
    fig = drawn["ablation-K"]
    assert "n=3" in fig._suptitle.get_text()
    for ax in fig.axes[:3]:  # accuracies of 80-94: zoomed, so marked
        assert ax.get_ylim()[0] > 0 and breaks(ax) > 0
    assert fig.axes[3].get_ylim()[0] < 0 and breaks(fig.axes[3]) == 0
    first[0].unlink()
    again = summarize_committed(root)
    assert [p.name for p in again] == [p.name for p in first] and again[0].read_text() == csv_text
