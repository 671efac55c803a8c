"""Each method against its own control (issue 26, item 1): ``run --controls`` runs the
twin under the method's own protocol, and ``table`` gives the paired effect of each idea,
checked here on result files with a planted per-seed difference against an independent
recomputation (SciPy's paired t-test, Wilcoxon and bootstrap; Holm by hand)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import bootstrap, ttest_rel, wilcoxon
from test_experiments import TINY
from test_table import run_cli, write_result

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.experiments.controls import with_controls
from nasbench_sd.experiments.runner import method_groups, plan_experiment
from nasbench_sd.methods import get_method
from nasbench_sd.presets import config_diff
from nasbench_sd.report.effects import RESAMPLES

SEEDS = [0, 1, 2, 3, 4, 5]
#: method -> per-seed difference planted on every column (method minus control)
PLANTED = {
    "sd-darts": [2.0, 1.5, 2.6, 1.8, 2.2, 2.9],  # a clear effect
    "drnas": [0.4, -0.7, 0.1, -0.2, 0.9, -0.5],  # none
    "darts-minus": [1.0] * 6,  # a constant: no test, the interval is the point
}


def _holm(ps: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment, written out: p_(i) * (m - i + 1), made monotone, capped at 1."""
    order = sorted(ps, key=ps.get)
    out, best = {}, 0.0
    for i, k in enumerate(order):
        best = max(best, min(1.0, (len(order) - i) * ps[k]))
        out[k] = best
    return out


@pytest.fixture
def planted(tmp_path) -> tuple[Path, dict]:
    """Three methods and their controls (the groups --controls makes); control figures random,
    the method's = control + the planted difference; values[(label, seed)][column]."""
    root, values = tmp_path / "exp", {}
    rng = random.Random(7)
    groups = with_controls(method_groups(list(PLANTED), {}))[0]
    for g in sorted(groups, key=lambda g: not g.label.endswith("-control")):  # controls first
        for seed in SEEDS:
            if g.label.endswith("-control"):
                figures = {c: round(rng.uniform(60, 90), 4) for c in COLUMNS}
            else:
                base = values[(g.label + "-control", seed)]
                figures = {c: base[c] + PLANTED[g.method][SEEDS.index(seed)] for c in COLUMNS}
            values[(g.label, seed)] = figures
            write_result(root, g.label, seed, g.method, figures, **{k: v for k, v in g.sets})
    return root, values


def test_the_control_groups_keep_the_protocol_and_switch_the_idea_off(tmp_path):
    groups, pairs, without = with_controls(method_groups(["sd-darts", "drnas", "dsnas", "idarts"], {"epochs": "4"}))
    assert [g.label for g in groups] == ["sd-darts", "sd-darts-control", "drnas", "drnas-control", "dsnas", "idarts",
                                         "idarts-control"]
    assert pairs == {"sd-darts": "sd-darts-control", "drnas": "drnas-control", "idarts": "idarts-control"}
    assert without == ["dsnas"]
    plan = plan_experiment(groups, [0, 1], "proxy", tmp_path / "exp", check_data=False)
    for method, control in pairs.items():
        diff = config_diff(plan.group_configs[method], plan.group_configs[control])
        assert diff and set(diff) <= {f"method_config.{k}" for k in get_method(method).control_overrides()}
    assert plan.group_configs["sd-darts-control"]["method_config"]["order"] == "arch-first"  # Algorithm 1 kept
    assert plan.group_configs["drnas-control"]["search"] == plan.group_configs["drnas"]["search"]


def test_table_gives_each_methods_paired_effect_as_an_independent_recomputation(planted, tmp_path, capsys):
    root, values = planted
    code, out, err = run_cli(capsys, "table", root, "--out", tmp_path / "t", "--no-published", "--no-best")
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "t" / "effects.csv").open()))
    assert {r["method_row"] for r in rows} == set(PLANTED) and len(rows) == 3 * len(COLUMNS)
    for column in COLUMNS:
        family = {}
        for method in PLANTED:
            a = [values[(method, s)][column] for s in SEEDS]
            b = [values[(method + "-control", s)][column] for s in SEEDS]
            d = np.subtract(a, b)
            r = next(x for x in rows if x["method_row"] == method and x["column"] == column)
            assert r["control_row"] == method + "-control" and int(r["n"]) == len(SEEDS)
            assert float(r["mean_diff"]) == pytest.approx(d.mean(), abs=1e-9)
            assert float(r["mean_diff"]) == pytest.approx(np.mean(PLANTED[method]), abs=1e-3)  # what was planted
            if len(set(np.round(d, 9))) == 1:  # constant difference: no test, the interval is the point
                assert r["p_paired_t"] == "" and r["p_holm"] == ""
                assert float(r["ci_low"]) == pytest.approx(d[0]) and float(r["ci_high"]) == pytest.approx(d[0])
                continue
            assert float(r["p_paired_t"]) == pytest.approx(ttest_rel(a, b).pvalue, rel=1e-9)
            assert float(r["p_wilcoxon"]) == pytest.approx(wilcoxon(d, method="exact").pvalue, rel=1e-9)
            ref = bootstrap((d,), np.mean, n_resamples=RESAMPLES, method="percentile",
                            random_state=np.random.default_rng(1)).confidence_interval
            width = ref.high - ref.low
            assert abs(float(r["ci_low"]) - ref.low) < 0.1 * width and abs(float(r["ci_high"]) - ref.high) < 0.1 * width
            assert float(r["ci_low"]) < d.mean() < float(r["ci_high"])
            family[method] = float(r["p_paired_t"])
        holm = _holm(family)
        for method, p in holm.items():
            r = next(x for x in rows if x["method_row"] == method and x["column"] == column)
            assert float(r["p_holm"]) == pytest.approx(p, rel=1e-12) and r["holm_family_size"] == str(len(family))
    sd = next(x for x in rows if x["method_row"] == "sd-darts" and x["column"] == "c10_test")
    assert float(sd["p_holm"]) < 0.01 and float(sd["ci_low"]) > 0  # the planted effect is found
    dr = next(x for x in rows if x["method_row"] == "drnas" and x["column"] == "c10_test")
    assert float(dr["p_holm"]) > 0.05 and float(dr["ci_low"]) < 0 < float(dr["ci_high"])
    # the Markdown names the test, the interval, the correction's family and each control's settings
    md = (tmp_path / "t" / "table.md").read_text()
    assert "**Paired effects.**" in md and "paired t-test" in md and "Holm-adjusted over the family of all 3" in md
    assert f"{RESAMPLES:,} resamples" in md and "lam=0.0" in md and "distribution=softmax" in md
    line = next(x for x in md.split("**Paired effects.**")[1].splitlines() if x.startswith("| sd-darts |"))
    assert f"{np.mean(PLANTED['sd-darts']):+.2f} [" in line and "Holm" in line
    assert "Paired effects" in out  # also on stdout


def test_unpaired_seeds_are_left_out_and_named(planted, tmp_path, capsys):
    root, _ = planted
    (root / "drnas-control" / "seed-5" / "result.json").unlink()
    code, out, _ = run_cli(capsys, "table", root, "--out", tmp_path / "t", "--no-published", "--no-best")
    assert code == 0
    rows = [r for r in csv.DictReader((tmp_path / "t" / "effects.csv").open()) if r["method_row"] == "drnas"]
    assert all(r["n"] == "5" and r["seeds"] == "0 1 2 3 4" for r in rows)
    assert "drnas: seeds without a partner left out (drnas [5])" in out


def test_a_control_row_that_differs_in_more_than_the_idea_is_refused(planted, tmp_path, capsys):
    root, _ = planted
    for p in (root / "sd-darts-control").glob("seed-*/result.json"):
        r = json.loads(p.read_text())
        r["config"]["search"]["a_lr"] = 0.5
        p.write_text(json.dumps(r))
    code, _, err = run_cli(capsys, "table", root, "--out", tmp_path / "t")
    assert code == 2 and "is not sd-darts's control" in err and "search.a_lr" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_table_without_controls_has_no_effects(tmp_path, capsys):
    root = tmp_path / "exp"
    write_result(root, "sd-darts", 0, "sd-darts")
    code, out, _ = run_cli(capsys, "table", root, "--out", tmp_path / "t")
    assert code == 0 and "Paired effects" not in out and not (tmp_path / "t" / "effects.csv").exists()


def test_run_with_controls_end_to_end(tmp_path, capsys, cifar10_format):
    out = tmp_path / "exp"
    code, text, err = run_cli(capsys, "run", "--method", "darts-minus,dsnas", "--controls", "--seeds", "2",
                              "--data-root", cifar10_format, "--out", out, *TINY, "-q")
    assert code is None or code == 0, err
    assert "no control declared (run alone): dsnas" in text
    assert sorted(p.parent.relative_to(out).as_posix() for p in out.rglob("result.json")) == [
        "darts-minus-control/seed-0", "darts-minus-control/seed-1", "darts-minus/seed-0", "darts-minus/seed-1",
        "dsnas/seed-0", "dsnas/seed-1"]
    manifest = json.loads((out / "experiment.json").read_text())
    assert manifest["controls"] == {"darts-minus": "darts-minus-control"}
    control = json.loads((out / "darts-minus-control" / "seed-0" / "config.json").read_text())
    assert control["method_config"]["beta0"] == 0.0 and control["method_config"]["arch_first"] is True
    code, text, _ = run_cli(capsys, "table", out, "--out", tmp_path / "t", "--no-published")
    assert code == 0 and "| darts-minus |" in text.split("**Paired effects.**")[1]
