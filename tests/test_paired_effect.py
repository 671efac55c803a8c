"""benchmarks/paired_effect.py: a setting's paired effect per experiment, with Holm over every
test it prints, recomputed here from the differences with scipy on a case built so the effect
is known."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "paired_effect.py"
CELL = "|skip_connect~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"


def _run(folder: Path, seed: int, c10: float, pfo: int, distinct: int = 1) -> None:
    folder.mkdir(parents=True)
    result = {"seed": seed, "cell": CELL, "num_parameter_free": pfo, "benchmark": {"c10_test": c10},
              "convergence": {"distinct_cells_last_quarter": distinct, "mean_max_op_prob": 0.5}}
    (folder / "result.json").write_text(json.dumps(result))


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def _p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


@pytest.fixture
def experiments(tmp_path):
    """Two experiments: in ``a`` lam=1 adds 1.0 point on every seed (+ small noise), in ``b``
    nothing; seed 4 of ``a`` has no control run."""
    noise = [0.1, -0.2, 0.05, 0.0]
    for s, eps in enumerate(noise):
        base = 90.0 + s
        _run(tmp_path / "a" / "m-lam=0" / f"seed-{s}", s, base, 3)
        _run(tmp_path / "a" / "m-lam=1" / f"seed-{s}", s, base + 1.0 + eps, 5, distinct=4 if s == 0 else 1)
        _run(tmp_path / "b" / "m-lam=0" / f"seed-{s}", s, base, 3)
        _run(tmp_path / "b" / "m-lam=1" / f"seed-{s}", s, base + eps, 3)
    _run(tmp_path / "a" / "m-lam=1" / "seed-4", 4, 99.0, 6)
    return tmp_path


def test_the_effect_its_tests_and_holm_over_the_printed_family(experiments):
    from scipy.stats import ttest_rel, wilcoxon

    r = _script(str(experiments / "a"), str(experiments / "b"), "--treatment", "m-lam=1", "--control", "m-lam=0",
                "--columns", "pfo,c10_test")
    assert r.returncode == 0, r.stderr
    effects, _, per_seed = r.stdout.split("\n\n")
    a_row = next(x for x in effects.splitlines() if x.startswith(f"| {experiments / 'a'} |"))
    b_row = next(x for x in effects.splitlines() if x.startswith(f"| {experiments / 'b'} |"))
    assert "| 4 | 0 1 2 3 (unpaired: 4) |" in a_row  # the seed without a control is named, not paired
    assert "+2.00 [+2.00, +2.00] (p -, Holm -, Wilcoxon -)" in a_row  # pfo: 5 - 3 on every seed: no test
    treated = [91.1, 90.8 + 1.0, 93.05, 94.0]
    control = [90.0, 91.0, 92.0, 93.0]
    p_a = ttest_rel(treated, control).pvalue
    p_b = ttest_rel([90.1, 90.8, 92.05, 93.0], control).pvalue
    holm_a, holm_b = (min(1, 2 * p_a), max(min(1, 2 * p_a), p_b)) if p_a < p_b else (max(2 * p_b, p_a), 2 * p_b)
    assert "+0.99 " in a_row and f"p {_p(p_a)}" in a_row and f"Holm {_p(holm_a)}" in a_row
    assert f"Wilcoxon {_p(wilcoxon([1.1, 0.8, 1.05, 1.0]).pvalue)}" in a_row
    assert f"p {_p(p_b)}" in b_row and f"Holm {_p(min(1.0, holm_b))}" in b_row
    assert "Holm over the family of the 2 paired t-tests above" in r.stdout and "1 of them below 0.05" in r.stdout
    assert f"| {experiments / 'a'} | m-lam=1 | 5 5 5 5 6 | 4/5 |" in per_seed.splitlines()  # seed 0 wandered


def test_the_plot_is_written_where_asked(experiments, tmp_path):
    r = _script(str(experiments / "a"), str(experiments / "b"), "--treatment", "m-lam=1", "--control", "m-lam=0",
                "--columns", "pfo,c10_test", "--plot", str(tmp_path / "fig"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fig" / "paired-effect.png").stat().st_size > 0
    assert (tmp_path / "fig" / "paired-effect.pdf").stat().st_size > 0


def test_bad_input_is_one_line_and_exit_2(experiments):
    r = _script(str(experiments / "a"), "--treatment", "m-lam=1", "--control", "m-lam=0", "--columns", "nope")
    assert r.returncode == 2 and "unknown column" in r.stderr and "Traceback" not in r.stderr
    r = _script(str(experiments / "a"), "--treatment", "m-lam=2", "--control", "m-lam=0")
    assert r.returncode == 2 and "no finished run of m-lam=2" in r.stderr and "Traceback" not in r.stderr
    r = _script(str(experiments / "a"), "--controls", "--treatment", "m-lam=1")
    assert r.returncode == 2 and "either --treatment and --control, or --controls" in r.stderr
    r = _script(str(experiments / "a"), "--controls")  # no group beside a G-control group
    assert r.returncode == 2 and "no group G beside a group G-control" in r.stderr and "Traceback" not in r.stderr
    (experiments / "a" / "m-lam=0-control" / "seed-0").mkdir(parents=True)  # nothing finished yet
    r = _script(str(experiments / "a"), "--controls")
    assert r.returncode == 2 and "no method has a seed finished both by itself and by its control (m-lam=0)" \
        in r.stderr and "Traceback" not in r.stderr
    (experiments / "a" / "experiment.json").write_text("{not json")  # someone else's broken manifest
    r = _script(str(experiments / "a"), "--controls")
    assert r.returncode == 2 and "experiment.json is corrupt" in r.stderr and "Traceback" not in r.stderr


def test_controls_pair_each_method_with_its_own_control(tmp_path):
    """``--controls``: one row per group G with a group G-control, Holm over all printed tests; a
    group without a control is no row."""
    from scipy.stats import ttest_rel

    exp = tmp_path / "arena"
    control = [90.0, 91.0, 92.0, 93.0]
    gain = {"m": [2.0, 2.1, 1.9, 2.2], "k": [0.3, -0.4, 0.1, 0.0]}
    for method, d in gain.items():
        for s, (c, x) in enumerate(zip(control, d)):
            _run(exp / f"{method}-control" / f"seed-{s}", s, c, 2)
            _run(exp / method / f"seed-{s}", s, c + x, 4 if method == "m" else 2)
    _run(exp / "lonely" / "seed-0", 0, 50.0, 6)
    _run(exp / "w" / "seed-0", 0, 50.0, 6)
    (exp / "w-control" / "seed-0").mkdir(parents=True)  # its control still running
    groups = ["m", "m-control", "k", "k-control", "w", "w-control", "v", "v-control", "lonely"]
    (exp / "experiment.json").write_text(json.dumps({"groups": {g: {} for g in groups}}))  # v: not started
    r = _script(str(exp), "--controls", "--columns", "pfo,c10_test")
    assert r.returncode == 0, r.stderr
    effects, note, per_seed = r.stdout.split("\n\n")
    rows = {line.split(" | ")[1]: line for line in effects.splitlines()[2:]}
    assert set(rows) == {"m", "k"}
    p_m, p_k = ttest_rel([c + x for c, x in zip(control, gain["m"])], control).pvalue, \
        ttest_rel([c + x for c, x in zip(control, gain["k"])], control).pvalue
    assert p_m < p_k  # family of 2 (pfo differences are constant: no test)
    assert f"p {_p(p_m)}, Holm {_p(min(1, 2 * p_m))}" in rows["m"]
    assert f"p {_p(p_k)}, Holm {_p(min(1, max(2 * p_m, p_k)))}" in rows["k"]
    assert "+2.00 [+2.00, +2.00] (p -, Holm -" in rows["m"] and "+2.05 " in rows["m"]
    assert "Holm over the family of the 2 paired t-tests above (2 methods x 2 columns" in note
    assert note.endswith("Not paired yet (no seed finished both by the method and by its control): v, w.")
    assert f"| {exp} | m-control | 2 2 2 2 | 4/4 |" in per_seed.splitlines()
