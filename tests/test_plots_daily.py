"""Plot options for a paper: valid or test accuracy, a selection of methods,
legends outside the axes, and ``random`` (no per-epoch records) drawn as a
level at its final mean."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_plots import run_cli, write_run
from test_table import write_result


@pytest.fixture
def exp(tmp_path):
    root = tmp_path / "exp"
    for s in range(3):
        write_run(root, "darts-v1", "darts-v1", s, hessian=False)
        write_run(root, "sd-darts", "sd-darts", s, hessian=False)
        write_result(root, "random", s, "random")
    return root


def test_valid_split_methods_level_and_legend(exp, tmp_path, monkeypatch):
    from nasbench_sd.report import plot

    figures = {}
    real_save = plot.save

    def capture(fig, folder, name):
        figures[name] = fig
        return real_save(fig, folder, name)

    monkeypatch.setattr(plot, "save", capture)
    paths = plot.plot_experiment(exp, tmp_path / "figs", split="valid", methods="sd-darts,random")
    assert (tmp_path / "figs" / "accuracy-valid.png") in paths
    assert not any(p.name.startswith("op-probs-darts-v1") for p in paths)
    fig = figures["accuracy-valid"]
    assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)  # one legend, outside the panels
    for ax, prefix in zip(fig.axes, ("c10", "c100", "in16")):
        labels = [line.get_label() for line in ax.get_lines()]
        assert not any(label.startswith("darts-v1") for label in labels)
        (level,) = [line for line in ax.get_lines() if line.get_label() == "random (final, n=3)"]
        finals = [json.loads((exp / f"random/seed-{s}/result.json").read_text())["benchmark"][f"{prefix}_valid"]
                  for s in range(3)]
        assert list(level.get_ydata()) == pytest.approx([np.mean(finals)] * 2)
        (curve,) = [line for line in ax.get_lines() if line.get_label() == "sd-darts (n=3)"]
        per_epoch = [[json.loads(line)["benchmark"][f"{prefix}_valid"]
                      for line in (exp / f"sd-darts/seed-{s}/metrics.jsonl").read_text().splitlines()]
                     for s in range(3)]
        assert list(curve.get_ydata()) == pytest.approx(np.mean(per_epoch, axis=0).tolist())


def test_methods_selecting_nothing_with_curves(exp, capsys):
    code, _, err = run_cli(capsys, "plot", exp, "--methods", "random")
    assert code == 2 and err.count("\n") == 1 and "no group with per-epoch metrics" in err
    assert not (exp / "plots").exists()
