"""The scripts whose output the READMEs of results/ quote: collapse counts with
Welch and Holm (benchmarks/collapse_stats.py), each group's protocol
(benchmarks/protocol_table.py) and machines and times (benchmarks/machines.py),
each checked against a computation by hand on runs written here."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import pytest
from scipy.stats import ttest_ind

from resultskit import CONV, SKIP6, write_run

REPO = Path(__file__).resolve().parents[1]


def run(name: str, *args) -> str:
    spec = importlib.util.spec_from_file_location(f"_t_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module.main([str(a) for a in args])
    return out.getvalue()


def rows(markdown: str) -> dict[str, list[str]]:
    lines = [ln for ln in markdown.splitlines() if ln.startswith("| ") and not ln.startswith("| group")]
    return {ln.split(" | ")[0][2:]: [c.strip() for c in ln.strip("| ").split(" | ")] for ln in lines}


@pytest.fixture
def two_machines(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for s, acc in enumerate((54.3, 80.0, 70.0)):
        write_run(a, "darts-v1", s, cell=SKIP6 if s == 0 else CONV, c10_test=acc)
    for s, acc in enumerate((91.0, 92.5, 93.0)):
        write_run(a, "sd-darts", s, "sd-darts", c10_test=acc)
    for s, acc in enumerate((60.0, 75.0)):
        write_run(b, "darts-v1", s, cell=SKIP6, c10_test=acc, end="2026-12-02T20:00:00+00:00",
                  platform="Linux-6.18.44-fc-v1045-x86_64-with-glibc2.36", cpu="Some Xeon", cpu_capability="AVX512")
    return a, b


def test_collapse_counts_and_welch_against_the_baseline(two_machines):
    a, _ = two_machines
    table = rows(run("collapse_stats", a))
    base, sd = table["darts-v1"], table["sd-darts"]
    assert base[1:9] == ["3", "0 1 2", "6 2 2", "1/3", "6 1 1", "1/3", "1/3", "3.33 ± 2.31"]
    p = ttest_ind([91.0, 92.5, 93.0], [54.3, 80.0, 70.0], equal_var=False).pvalue
    assert sd[9] == f"92.17 ± 1.04 (p = {p:.3f})"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy, on a constant group ([6, 6])
def test_pooled_groups_and_holm_over_the_printed_family(two_machines):
    a, b = two_machines
    pooled = rows(run("collapse_stats", a, b, "--pool", "--groups", "darts-v1,sd-darts", "--holm"))
    assert pooled["darts-v1"][1:3] == ["5", "0 1 2 0 1"] and pooled["darts-v1"][6] == "3/5"
    text = run("collapse_stats", a, b, "--groups", "darts-v1", "--baseline", "a/darts-v1", "--holm",
               "--columns", "c10_test,in16_test")
    other = rows(text)["b/darts-v1"]
    ps = [ttest_ind(x, y, equal_var=False).pvalue for x, y in (
        ([6, 6], [6, 2, 2]), ([60.0, 75.0], [54.3, 80.0, 70.0]), ([55.0, 70.0], [49.3, 75.0, 65.0]))]
    order = sorted(range(3), key=lambda i: ps[i])
    adjusted, running = {}, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * ps[i]))
        adjusted[i] = running
    for cell, p, h in zip(other[8:11], ps, (adjusted[0], adjusted[1], adjusted[2])):
        assert cell.endswith(f"(p = {p:.3f}, Holm {h:.3f})")
    assert "Holm over the family of the 3 Welch tests above" in text


def test_published_column_names_the_papers_row(two_machines):
    a, _ = two_machines
    table = rows(run("collapse_stats", a, "--published"))
    assert table["darts-v1"][-1] == "54.30 ± 0.00" and table["sd-darts"][-1] == "93.91 ± 0.08"


def test_protocol_names_the_settings_in_which_groups_differ(tmp_path):
    for s in range(2):
        write_run(tmp_path, "darts-v1", s)
        write_run(tmp_path, "snas", s, "snas")
        write_run(tmp_path, "sd-darts-weights-first", s, "sd-darts", sets={"method.order": "weights-first"})
    text = run("protocol_table", tmp_path)
    header = text.splitlines()[0]
    assert "w_weight_decay" in header and "split" in header and "w_nesterov" in header and "channels" not in header
    table = rows(text)
    assert table["snas"][-2] == "alpha, then weights" and table["darts-v1"][-2] == "weights, then alpha"
    assert table["sd-darts-weights-first"][-2] == "weights, then alpha"
    assert "channels 8" in text.splitlines()[-1]


def test_protocol_order_of_methods_without_an_order_setting_is_their_step():
    import importlib

    from nasbench_sd.methods import get_method
    from nasbench_sd.methods.base import ArchParamMethod

    spec = importlib.util.spec_from_file_location("_t_protocol", REPO / "benchmarks" / "protocol_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("darts-v1", "darts-minus"):  # the base step: its order is arch_first()
        cls = get_method(name)
        assert cls.step is ArchParamMethod.step
        expected = "alpha, then weights" if cls().arch_first() else "weights, then alpha"
        assert module.ORDER[name] == expected, name


def test_machines_by_folder_names_an_experiment_inside_another_with_its_parent(tmp_path):
    """results/arena-sd/default and results/arena-sd/kd-sum are two experiments of one study:
    the per-folder counts say arena-sd/default, not a bare "default" a reader cannot place."""
    results = tmp_path / "results"
    write_run(results / "arena", "darts-v1", 0)
    for s in (0, 1):
        write_run(results / "arena-sd" / "default", "sd-darts", s, "sd-darts")
    text = run("machines", results / "arena", results / "arena-sd" / "default", "--by-folder")
    machine = rows(text)["fc-v782, 2026-11-28"]
    assert machine[1] == "3" and machine[2] == "arena 1; arena-sd/default 2"


def test_machines_spans_and_run_time(two_machines):
    a, b = two_machines
    text = run("machines", a, b)
    machines = rows(text.split("\n\n")[0])
    first = machines["fc-v782, 2026-11-28"]
    assert first[1] == "6" and first[3] == "2026-11-28 09:50 - 10:00" and first[4] == "0.17" and first[5] == "1.00"
    assert "fc-v1045, 2026-12-02, Some Xeon (AVX512 kernels)" in machines
    per_group = text.split("\n\n")[1]
    assert "| b/darts-v1 | fc-v1045, 2026-12-02, Some Xeon (AVX512 kernels) | 2 | 600 - 600 | 600 |" in per_group
