"""benchmarks/arena_sweep.py at a seconds-long size: each method runs its own fraction of its
paper budget, a second ``run`` resumes (nothing finished is run again), and ``report``'s
counts equal a recomputation from the run files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nasbench_sd.cells import Cell
from nasbench_sd.convergence import is_converged

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "arena_sweep.py"


def sweep(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                          env=env, cwd=REPO)


def test_the_sweep_runs_resumes_and_reports(tmp_path, cifar10_format):
    out = tmp_path / "sweep"
    common = ["--out", str(out), "--smoke", "--seeds", "2"]
    first = sweep("run", "--data-root", str(cifar10_format), "--methods", "darts-v1,snas", *common)
    assert first.returncode == 0, first.stderr
    cfg = {m: json.loads((out / "smoke" / m / "seed-0" / "config.json").read_text()) for m in ("darts-v1", "snas")}
    assert cfg["darts-v1"]["search"]["epochs"] == 4 and cfg["snas"]["search"]["epochs"] == 8  # 100-epoch paper
    assert cfg["snas"]["search"]["a_lr"] == cfg["darts-v1"]["search"]["a_lr"] == 1e-2
    results = sorted(out.rglob("result.json"))
    assert len(results) == 4
    stamps = {p: p.stat().st_mtime_ns for p in results}
    again = sweep("run", "--data-root", str(cifar10_format), "--methods", "darts-v1,snas", *common)
    assert again.returncode == 0, again.stderr
    assert "0 run now" in again.stdout and "2 finished earlier" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in results} == stamps

    report = tmp_path / "arena_sweep.md"
    r = sweep("report", "--report-to", str(report), *common)
    assert r.returncode == 0, r.stderr
    text = report.read_text()
    assert "incomplete" in text and "| darts-v2 | 4 | not run |" in text
    for m in ("darts-v1", "snas"):
        runs = [json.loads((out / "smoke" / m / f"seed-{s}" / "result.json").read_text()) for s in (0, 1)]
        conv = sum(bool(is_converged(x["convergence"])) for x in runs)
        distinct = " ".join(str(x["convergence"]["distinct_cells_last_quarter"]) for x in runs)
        skips = " ".join(str(Cell.from_string(x["cell"]).num_skip_connections) for x in runs)
        line = next(x for x in text.splitlines() if x.startswith(f"| {m} |"))
        assert f"| {distinct} | {conv}/2 |" in line and f"| {skips} |" in line


def test_an_unknown_setting_is_one_line_and_exit_2(tmp_path):
    r = sweep("report", "--out", str(tmp_path), "--settings", "nope")
    assert r.returncode == 2 and "unknown setting" in r.stderr and "Traceback" not in r.stderr


def test_the_arena_preset_resolves_for_every_method_at_its_own_fraction_of_its_paper_epochs():
    arena_sweep = _sweep_module()
    from nasbench_sd.config import ARENA, PRESETS, PROXY
    from nasbench_sd.methods import list_methods
    from nasbench_sd.presets import build_run_config

    assert "arena" in PRESETS
    sets, why = arena_sweep.SETTINGS["n3-768x30-lr1e-2"]
    assert {k: type(getattr(ARENA, k))(v) for k, v in sets.items()} == {k: getattr(ARENA, k) for k in sets}
    assert "arena preset" in why
    assert PROXY.cells_per_stage == 5 and PROXY.train_limit == 512  # the proxy is left as it was
    for m in list_methods():
        cfg = build_run_config(m, "arena", 0)
        assert cfg.search.epochs == arena_sweep.method_epochs(m, ARENA.epochs)
        assert cfg.search.cells_per_stage == 3 and cfg.search.a_lr == 1e-2


def test_time_records_a_search_and_the_report_judges_criterion_3_by_it(tmp_path, cifar10_format):
    out = tmp_path / "sweep"
    common = ["--out", str(out), "--smoke", "--seeds", "1"]
    assert sweep("run", "--data-root", str(cifar10_format), "--methods", "darts-v1", *common).returncode == 0
    timed = sweep("time", "--data-root", str(cifar10_format), *common)
    assert timed.returncode == 0, timed.stderr
    entries = json.loads((out / "smoke" / "timing.json").read_text())
    run = json.loads((out / "smoke" / "darts-v1" / "seed-0" / "result.json").read_text())
    (entry,) = entries
    assert entry["cell"] == run["cell"] and entry["seed"] == 0 and entry["wall_time_s"] > 0  # the same search again
    assert entry["machine"].startswith("cpu") and len(entry["load_average_1min"]) == 2
    # criterion 3 follows the timed search, not the sweep's runs: a slow timed search fails it
    entry["wall_time_s"] = 11 * 60.0
    (out / "smoke" / "timing.json").write_text(json.dumps([entry]))
    report = tmp_path / "arena_sweep.md"
    assert sweep("report", "--report-to", str(report), *common).returncode == 0
    text = report.read_text()
    assert "darts-v1 search 11.0 min (timed alone)" in text and "seed 0 11.0 min on cpu" in text
    assert "(the cell of the sweep's run of that seed)" in text


def _sweep_module():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import arena_sweep
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return arena_sweep


SKIPS = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def _fake_run(folder, seed, cell, config=None, distinct=1):
    folder.mkdir(parents=True)
    block = {"distinct_cells_last_quarter": distinct, "last_quarter_epochs": 8, "mean_max_op_prob": 0.5}
    result = {"seed": seed, "cell": cell, "convergence": block, "benchmark": {"c10_test": 90.0},
              "wall_time_s": 60.0, "provenance": {"device": "cpu", "cpu": "test", "cpu_capability": "AVX2"}}
    if config is not None:
        result["config"] = config
    (folder / "result.json").write_text(json.dumps(result))


def test_the_arena_presets_setting_reads_the_methods_it_lacks_from_the_arena_experiment(tmp_path):
    import argparse

    arena_sweep = _sweep_module()
    sweep_dir, arena_dir = tmp_path / "sweep" / "n3-768x30-lr1e-2", tmp_path / "arena"
    _fake_run(sweep_dir / "darts-v1" / "seed-0", 0, SKIPS)
    _fake_run(arena_dir / "darts-v1" / "seed-0", 0, SKIPS.replace("skip_connect~2", "none~2"))
    _fake_run(arena_dir / "snas" / "seed-0", 0, SKIPS)
    args = argparse.Namespace(arena=str(arena_dir), preset_runs=[])
    sets = arena_sweep.SETTINGS["n3-768x30-lr1e-2"][0]
    assert arena_sweep.preset_folder(args, sets) == ("arena", arena_dir)
    assert arena_sweep.preset_folder(args, arena_sweep.SETTINGS["n2-1024x30-lr1e-2"][0]) is None
    assert arena_sweep.preset_folder(argparse.Namespace(arena="", preset_runs=[]), sets) is None
    s = arena_sweep.summarise(sweep_dir, ("darts-v1", "snas", "drnas"), ("arena", arena_dir))
    assert s["darts-v1"]["source"] is None and s["darts-v1"]["skip"] == [6]  # the sweep's own runs come first
    assert s["snas"]["source"] == ("arena", str(arena_dir / "snas")) and s["snas"]["converged"] == 1
    assert "drnas" not in s


def test_another_presets_runs_are_read_only_where_their_configuration_is_the_settings(tmp_path):
    import argparse

    from nasbench_sd.presets import build_run_config

    arena_sweep = _sweep_module()
    sets = arena_sweep.SETTINGS["n5-512x40-lr3e-3"][0]
    proxy = tmp_path / "proxy"
    args = argparse.Namespace(arena="", preset_runs=[f"proxy={proxy}"])
    assert arena_sweep.preset_folder(args, sets) == ("proxy", proxy)  # the proxy preset is this setting
    for seed in (0, 1):
        cfg = build_run_config("darts-minus", "proxy", seed).to_dict()
        if seed == 1:  # made before a protocol fix: another configuration
            cfg["method_config"]["arch_first"] = not cfg["method_config"]["arch_first"]
        _fake_run(proxy / "darts-minus" / f"seed-{seed}", seed, SKIPS, config=cfg)
    _fake_run(proxy / "snas" / "seed-0", 0, SKIPS, config=None)  # no configuration: not read
    s = arena_sweep.summarise(tmp_path / "sweep", ("darts-minus", "snas"), ("proxy", proxy), sets)
    assert s["darts-minus"]["seeds"] == [0] and s["darts-minus"]["other_config"] == 1
    assert s["snas"]["seeds"] == [] and s["snas"]["other_config"] == 1


def test_a_criterion_fails_as_soon_as_the_missing_seeds_cannot_save_it():
    arena_sweep = _sweep_module()

    def summary(**runs):
        out = {}
        for m, (converged, n, skips) in runs.items():
            out[m] = {"seeds": list(range(n)), "converged": converged, "skip": skips, "minutes": 1.0}
        return out

    dense = {m: (5, 5, [0] * 5) for m in arena_sweep.DENSE}
    failed, missing = arena_sweep.verdict(summary(**{**dense, "darts-v1": (5, 5, [6, 6, 6, 0, 0])}), 5)
    assert failed == [] and missing == []
    failed, _ = arena_sweep.verdict(summary(**{**dense, "darts-v1": (5, 5, [6, 6, 6, 0, 0]), "snas": (0, 3, [])}), 5)
    assert failed == ["snas converged on 0/3 (of 5)"]  # 0 + 2 missing seeds cannot reach 4
    failed, missing = arena_sweep.verdict(summary(**{**dense, "darts-v1": (5, 5, [6, 6, 6, 0, 0]),
                                                     "snas": (2, 3, [])}), 5)
    assert failed == [] and missing == ["snas (3/5 seeds)"]  # 2 + 2 still can
    failed, missing = arena_sweep.verdict(summary(**{**dense, "darts-v1": (3, 3, [6, 0, 0])}), 5)
    assert "darts-v1 skip-dominated on 1/3" not in failed and "darts-v1 (3/5 seeds)" in missing  # 1 + 2 = 3 of 5
    failed, _ = arena_sweep.verdict(summary(**{**dense, "darts-v1": (3, 3, [0, 0, 0])}), 5)
    assert "darts-v1 skip-dominated on 0/3" in failed  # at most 2 of 5


def test_the_arena_preset_is_the_setting_the_committed_sweep_names():
    """The preset is what the sweep decided: the report over the committed runs names the
    setting that the arena preset equals (as the closest: no setting met all three criteria)."""
    import argparse

    arena_sweep = _sweep_module()
    args = argparse.Namespace(out=str(REPO / "benchmarks" / "results" / "arena_sweep"), settings="", seeds=5,
                              smoke=False, arena=str(REPO / "results" / "arena"),
                              preset_runs=[f"proxy={REPO / 'results' / 'proxy'}"])
    chosen = [n for n, (sets, _) in arena_sweep.SETTINGS.items()
              if arena_sweep.preset_folder(args, sets) == ("arena", Path(args.arena))]
    assert chosen == ["n3-768x30-lr1e-2"]
    decided = []
    for name, (sets, _) in arena_sweep.SETTINGS.items():
        s = arena_sweep.summarise(Path(args.out) / name, arena_sweep.DENSE, arena_sweep.preset_folder(args, sets),
                                  sets)
        failed, _ = arena_sweep.verdict(s, 5, arena_sweep.timed(Path(args.out) / name))
        core = any(f.startswith("darts-v1 s") for f in failed)
        decided.append((core, len(failed), arena_sweep.cost(sets), name, bool(failed)))
    assert all(d[4] for d in decided)  # every setting has failed a criterion (none qualifies) ...
    assert min(decided)[3] == "n3-768x30-lr1e-2"  # ... and the arena's is the closest
    assert not min(decided)[0]  # DARTS-V1 meets criteria 2 and 3 on it
