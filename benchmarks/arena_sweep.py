"""The sweep that chooses the ``arena`` preset (issue 26, item 3): the cheapest CPU scale of
the NB201 search on which the searches converge.

A setting qualifies when, over 5 seeds:

1. every dense method (:data:`DENSE`: softmax-like mixing of all ops on every edge) converges,
   i.e. ends with at most 2 distinct derived cells over the last quarter of its epochs
   (:mod:`nasbench_sd.convergence`), on at least 4 of the 5 seeds;
2. DARTS-V1 still ends skip-dominated (at least :data:`SKIP_DOMINATED` of the 6 edges
   skip_connect, the paper's kind of collapse) on most seeds;
3. one DARTS-V1 search (the 50-epoch unit of the presets) takes at most 10 minutes on one
   core (median wall time of its runs; the other methods' are reported beside it).

Every setting is the ``cpu`` preset plus ``--set`` changes. ``epochs`` is the epochs of a
50-epoch method; each method runs the same fraction of its own paper budget
(``round(paper_epochs * epochs / 50)``: 100-epoch methods twice as many, iDARTS 0.6x), with its
epoch-based settings scaled alike, as under the scaled presets. Runs go through
``nasbench-sd run`` (one torch thread per run), one experiment folder per setting and one group
per method, so an interrupted sweep resumes where it stopped (finished runs are skipped,
unfinished ones resumed). Staged use (the full grid is ~9 methods x 5 seeds per setting):

    # 1. screen every setting with DARTS-V1 (criteria 2 and 3)
    python benchmarks/arena_sweep.py run --data-root ../shared/data/cifar10 --out runs/arena-sweep \\
        --methods darts-v1 --workers 2
    # 2. all dense methods on the settings that pass, cheapest first
    python benchmarks/arena_sweep.py run --data-root ../shared/data/cifar10 --out runs/arena-sweep \\
        --settings n3-768x30-lr1e-2 --workers 2
    # 2'. or, for the setting the `arena` preset equals, run the methods as the arena experiment
    #     itself (the same configurations under the preset's name: no run is made twice) and read
    #     them from there: report --arena results/arena
    nasbench-sd run --method pc-darts,sd-darts --seeds 5 --preset arena --device cpu \
        --data-root ../shared/data/cifar10 --workers 2 --out results/arena
    # 3. criterion 3 timed on a machine doing nothing else (a search beside others is slower)
    python benchmarks/arena_sweep.py time --data-root ../shared/data/cifar10 --out runs/arena-sweep \
        --settings n3-768x30-lr1e-2
    python benchmarks/arena_sweep.py report --out runs/arena-sweep --arena results/arena \\
        --preset-runs proxy=results/proxy

``time`` reruns DARTS-V1's seed-0 search of each setting alone and appends its wall time, the
machine and the load average before and after to ``<setting>/timing.json``; criterion 3 then
uses the median of those entries. ``report`` writes benchmarks/results/arena_sweep.md (or
``--report-to``) from the run folders, naming the machines from the runs' provenance.
``--preset-runs PRESET=DIR`` does for any scaled preset what ``--arena`` does for the arena
(the proxy's setting reads results/proxy), keeping only runs whose configuration is the one the
sweep gives the method (a run made before a preset fix changed its protocol is left out, and
counted). A criterion fails as soon as the seeds still missing could not make it hold; once every
setting has failed one, the report names the closest. ``--smoke`` swaps in a seconds-long
setting (tests/test_arena_sweep.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from nasbench_sd.cells import Cell
from nasbench_sd.config import PAPER, SCALED
from nasbench_sd.convergence import MAX_DISTINCT_CELLS, convergence_from_records, is_converged
from nasbench_sd.methods import get_method

#: Methods whose supernet mixes every op of every edge (the convergence criterion applies to them).
DENSE = ("darts-v1", "darts-v2", "pc-darts", "sd-darts", "darts-minus", "beta-darts", "snas", "drnas", "idarts")
SEEDS = 5
MIN_CONVERGED = 4  # of SEEDS
SKIP_DOMINATED = 4  # skip_connect edges of 6 (the proxy sweep's collapse criterion)
MAX_MINUTES = 10.0
#: Paper: 391 architecture steps per epoch x 50 epochs x Adam lr 3e-4.
PAPER_ARCH_BUDGET = 391 * PAPER.epochs * PAPER.a_lr

#: name -> (changes of the cpu preset, why it is in the sweep). ``epochs`` is a 50-epoch method's.
SETTINGS: dict[str, tuple[dict[str, str], str]] = {
    "n5-512x40-lr3e-3": ({"cells_per_stage": "5", "train_limit": "512", "epochs": "40", "a_lr": "3e-3"},
                         "the proxy preset, as the reference (arch budget 0.16x the paper's)"),
    "n3-512x40-lr1.5e-2": ({"cells_per_stage": "3", "train_limit": "512", "epochs": "40", "a_lr": "1.5e-2"},
                           "3 cells per stage (~half the cost per step), 320 arch steps x 1.5e-2 (0.82x)"),
    "n3-768x30-lr1e-2": ({"cells_per_stage": "3", "train_limit": "768", "epochs": "30", "a_lr": "1e-2"},
                         "the arena preset (nasbench_sd/config.py ARENA), chosen by this sweep as the closest "
                         "setting: 360 arch steps x 1e-2 (0.61x)"),
    "n3-768x30-lr2e-2": ({"cells_per_stage": "3", "train_limit": "768", "epochs": "30", "a_lr": "2e-2"},
                         "the candidate with the arch budget of the paper (1.23x)"),
    "n2-1024x30-lr1e-2": ({"cells_per_stage": "2", "train_limit": "1024", "epochs": "30", "a_lr": "1e-2"},
                          "shallower, more data: 480 arch steps x 1e-2 (0.82x)"),
    "n2-768x40-lr6e-3": ({"cells_per_stage": "2", "train_limit": "768", "epochs": "40", "a_lr": "6e-3"},
                         "shallower, more epochs: 480 arch steps x 6e-3 (0.49x)"),
}
#: A seconds-long stand-in for the tests (``--smoke``).
SMOKE: dict[str, tuple[dict[str, str], str]] = {
    "smoke": ({"channels": "4", "cells_per_stage": "1", "train_limit": "64", "batch_size": "32", "epochs": "4",
               "a_lr": "1e-2"}, "a seconds-long check of the tooling"),
}


def settings(args: argparse.Namespace) -> dict[str, tuple[dict[str, str], str]]:
    table = SMOKE if args.smoke else SETTINGS
    names = args.settings.split(",") if args.settings else list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        print(f"arena_sweep: unknown setting(s) {', '.join(unknown)} (known: {', '.join(table)})", file=sys.stderr)
        raise SystemExit(2)
    return {n: table[n] for n in names}


def method_epochs(method: str, epochs: int) -> int:
    """A method's epochs when a 50-epoch method runs ``epochs``: the same fraction of its paper budget."""
    return max(1, round(get_method(method).paper_epochs() * epochs / PAPER.epochs))


def arch_steps(sets: dict[str, str], method: str = "darts-v1") -> int:
    """Architecture steps of one search: steps per epoch (samples per half / batch) x epochs."""
    batch = int(sets.get("batch_size", PAPER.batch_size))
    return -(-int(sets["train_limit"]) // batch) * method_epochs(method, int(sets["epochs"]))


def set_flags(sets: dict[str, str], method: str) -> list[str]:
    """``--set`` flags of a setting for ``method`` (its own fraction of its paper's epochs)."""
    changes = {**sets, "epochs": str(method_epochs(method, int(sets["epochs"])))}
    return [x for k, v in changes.items() for x in ("--set", f"{k}={v}")]


def command(name: str, sets: dict[str, str], method: str, args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "nasbench_sd", "run", "--method", method, "--seeds", str(args.seeds),
            "--preset", "cpu", *set_flags(sets, method), "--device", "cpu", "--data-root", args.data_root,
            "--out", str(Path(args.out) / name), "--workers", str(args.workers), "--threads", "1", "--quiet"]


def run(args: argparse.Namespace) -> None:
    """Each (setting, method) in turn: ``nasbench-sd run`` skips what is finished."""
    methods = args.methods.split(",") if args.methods else list(DENSE)
    for name, (sets, _) in settings(args).items():
        for method in methods:
            code = subprocess.run(command(name, sets, method, args)).returncode
            if code:
                sys.exit(code)


TIMING = "timing.json"


def time_search(args: argparse.Namespace) -> None:
    """One DARTS-V1 search of each setting, timed on this machine (its seed's run of the sweep,
    again, in a scratch folder), appended to ``<out>/<setting>/timing.json`` with the machine
    and the load average before and after: criterion 3 is the cost of a search on one core,
    which runs of the sweep made beside other work overstate."""
    import os
    import tempfile

    for name, (sets, _) in settings(args).items():
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "nasbench_sd", "search", "--method", "darts-v1", "--preset", "cpu",
                   "--seed", str(args.seed), *set_flags(sets, "darts-v1"), "--device", "cpu",
                   "--threads", "1", "--data-root", args.data_root, "--out", tmp + "/run"]
            before = os.getloadavg()[0]
            code = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
            if code:
                sys.exit(code)
            after = os.getloadavg()[0]
            result = json.loads((Path(tmp) / "run" / "result.json").read_text())
        path = Path(args.out) / name / TIMING
        entries = json.loads(path.read_text()) if path.exists() else []
        entries.append({"method": "darts-v1", "seed": args.seed, "wall_time_s": result["wall_time_s"],
                        "machine": machine(result), "hostname": result["provenance"].get("hostname"),
                        "timestamp": result["provenance"].get("timestamp"),
                        "code_revision": result["provenance"].get("code_revision"),
                        "load_average_1min": [round(before, 2), round(after, 2)], "cell": result["cell"],
                        "command": "python benchmarks/arena_sweep.py time --settings " + name})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries, indent=1) + "\n")
        print(f"{name}: darts-v1 seed {args.seed} took {result['wall_time_s'] / 60:.1f} min on {machine(result)} "
              f"(load {before:.2f} -> {after:.2f}); {path}")


def timed(folder: Path) -> list[dict]:
    """The timing entries of one setting's folder (``time``), oldest first."""
    path = folder / TIMING
    return json.loads(path.read_text()) if path.exists() else []


def _same_cell(group: Path, entry: dict) -> str:
    """Whether a timed search ended in the cell of the sweep's run of its seed (on the same kind of
    machine it must: a CPU search depends only on its configuration and the CPU's kernels)."""
    path = group / f"seed-{entry['seed']}" / "result.json"
    if not path.exists():
        return ""
    run = json.loads(path.read_text())
    if run["cell"] == entry["cell"]:
        return " (the cell of the sweep's run of that seed)"
    return f" (another cell than the sweep's run of that seed, made on {machine(run)})"


def _runs(folder: Path) -> list[tuple[dict, dict]]:
    """(result, convergence block) of every finished run of one method's group, in seed order."""
    out = []
    for p in sorted(folder.glob("seed-*/result.json"), key=lambda p: int(p.parent.name.split("-")[1])):
        result = json.loads(p.read_text())
        block = result.get("convergence")
        if block is None:  # made before the block existed
            lines = (p.parent / "metrics.jsonl").read_text().splitlines()
            block = convergence_from_records([json.loads(x) for x in lines if x.strip()])
        out.append((result, block))
    return out


def machine(result: dict) -> str:
    prov = result.get("provenance", {})
    isa = f", {prov['cpu_capability']} kernels" if prov.get("cpu_capability") else ""  # CPU results depend on it
    return (f"{prov.get('device', '?')} ({prov.get('cpu') or prov.get('device_name', '?')}{isa}), "
            f"{prov.get('platform', '?')}, torch {prov.get('torch', '?')}")


def summarise(folder: Path, methods: tuple[str, ...], preset_runs: tuple[str, Path] | None = None,
              sets: dict[str, str] | None = None) -> dict:
    """Per method: seeds, converged count, distinct cells per seed, skip counts, median minutes.
    A method without runs in ``folder`` is read from ``preset_runs`` = (preset, experiment) where
    given: that preset's runs whose configuration is the one this setting gives the method (``sets``);
    a run of another configuration (a protocol changed since it ran) is left out and counted."""
    out = {}
    for m in methods:
        runs = _runs(folder / m)
        source, other = None, 0
        if not runs and preset_runs is not None:
            preset, root = preset_runs
            found = _runs(root / m)
            runs = [(r, b) for r, b in found if sets is None or same_config(r, m, sets)]
            other = len(found) - len(runs)
            source = (preset, str(root / m))
        if not runs and not other:
            continue
        out[m] = {
            "seeds": [r["seed"] for r, _ in runs],
            "distinct": [b.get("distinct_cells_last_quarter") for _, b in runs],
            "converged": sum(bool(is_converged(b)) for _, b in runs),
            "max_p": [b.get("mean_max_op_prob") for _, b in runs],
            "skip": [Cell.from_string(r["cell"]).num_skip_connections for r, _ in runs],
            "c10": [r["benchmark"]["c10_test"] for r, _ in runs],
            "minutes": statistics.median(r["wall_time_s"] for r, _ in runs) / 60 if runs else None,
            "machines": sorted({machine(r) for r, _ in runs}),
            "source": source,
            "other_config": other,
        }
    return out


def same_config(result: dict, method: str, sets: dict[str, str]) -> bool:
    """Whether a run made under another preset has the configuration this setting gives ``method``."""
    from nasbench_sd.presets import build_run_config, config_diff

    if "config" not in result:
        return False
    changes = {**sets, "epochs": str(method_epochs(method, int(sets["epochs"])))}
    mine = build_run_config(method, "cpu", int(result["seed"]), changes).to_dict()
    return not config_diff(result["config"], mine, ignore=("device", "preset"))


def preset_folder(args: argparse.Namespace, sets: dict[str, str]) -> tuple[str, Path] | None:
    """(preset, experiment) given by ``--arena``/``--preset-runs`` for the preset this setting is
    (the cpu preset with these changes equals that preset's search configuration), else None."""
    from dataclasses import replace

    given = dict(x.split("=", 1) for x in getattr(args, "preset_runs", None) or [])
    if getattr(args, "arena", ""):
        given.setdefault("arena", args.arena)
    cpu = SCALED["cpu"]
    mine = replace(cpu, **{k: type(getattr(cpu, k))(v) for k, v in sets.items()})
    for preset, root in given.items():
        if SCALED.get(preset) == mine:
            return preset, Path(root)
    return None


def verdict(s: dict, seeds: int, timing: list[dict] | None = None) -> tuple[list[str], list[str]]:
    """(failed criteria, criteria not yet measured) of one setting's summary. A criterion fails as
    soon as the seeds still missing could not make it hold (0 of 3 seeds converged cannot reach 4
    of 5). Criterion 3 is the median of the ``timing`` entries where there are any, else of the
    sweep's own runs."""
    failed, missing = [], []
    need = MIN_CONVERGED * seeds / SEEDS
    for m in DENSE:
        have = s.get(m, {}).get("seeds", [])
        converged = s[m]["converged"] if m in s else 0
        if converged + (seeds - len(have)) < need:
            failed.append(f"{m} converged on {converged}/{len(have)}" + (f" (of {seeds})" if len(have) < seeds else ""))
        elif len(have) < seeds:
            missing.append(f"{m} ({len(have)}/{seeds} seeds)")
    v1 = s.get("darts-v1")
    if v1 and v1["seeds"]:
        dominated = sum(k >= SKIP_DOMINATED for k in v1["skip"])
        left = seeds - len(v1["seeds"])
        if 2 * (dominated + left) <= max(seeds, len(v1["seeds"])):
            failed.append(f"darts-v1 skip-dominated on {dominated}/{len(v1['skip'])}")
        minutes = statistics.median(e["wall_time_s"] for e in timing) / 60 if timing else v1["minutes"]
        if minutes > MAX_MINUTES:
            failed.append(f"darts-v1 search {minutes:.1f} min" + (" (timed alone)" if timing else ""))
    return failed, missing


def cost(sets: dict[str, str]) -> int:
    """Relative cost: samples per half x epochs x cells per stage x channels^2."""
    return (int(sets["train_limit"]) * int(sets["epochs"]) * int(sets["cells_per_stage"])
            * int(sets.get("channels", SCALED["cpu"].channels)) ** 2)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def report(args: argparse.Namespace) -> None:
    lines_by_setting, machines, qualifying, closest = [], set(), [], []
    for name, (sets, why) in settings(args).items():
        s = summarise(Path(args.out) / name, DENSE, preset_folder(args, sets), sets)
        timing = timed(Path(args.out) / name)
        failed, missing = verdict(s, args.seeds, timing)
        budget = arch_steps(sets) * float(sets["a_lr"]) / PAPER_ARCH_BUDGET
        state = "; ".join(([f"fails: {'; '.join(failed)}"] if failed else [])
                          + ([f"incomplete: {'; '.join(missing)}"] if missing else [])) or "qualifies"
        if not failed and not missing:
            qualifying.append((cost(sets), name))
        if failed:  # decided: it cannot qualify whatever the runs still missing show
            core = any(f.startswith("darts-v1 s") for f in failed)  # criteria 2 and 3: the arena's purpose
            closest.append((core, len(failed), cost(sets), name, failed))
        lines_by_setting += ["", f"### {name}", "",
                             f"{why}. Changes of the cpu preset: "
                             + " ".join(f"{k}={v}" for k, v in sets.items())
                             + f" (epochs of a 50-epoch method). DARTS-V1: {arch_steps(sets)} arch steps x a_lr "
                               f"{sets['a_lr']} = {budget:.2f}x the paper's budget. Cost index {cost(sets):,}. "
                               f"**{state}**.", "",
                             *(["DARTS-V1 timed by `arena_sweep.py time` (criterion 3 uses these): "
                                + "; ".join(f"seed {e['seed']} {e['wall_time_s'] / 60:.1f} min on {e['machine']}, "
                                            f"load average {e['load_average_1min'][0]:g} before, "
                                            f"{e['load_average_1min'][1]:g} after"
                                            + _same_cell(Path(args.out) / name / "darts-v1", e) for e in timing)
                                + ".", ""]
                               if timing else []),
                             "| method | epochs | distinct cells, last quarter (per seed) | converged | mean max p "
                             "(per seed) | skip edges (per seed) | C10 test mean | min per search (median) | runs |",
                             "|---|---|---|---|---|---|---|---|---|"]
        for m in DENSE:
            r = s.get(m)
            if r is None or not r["seeds"]:
                note = (f" ({r['other_config']} runs of `--preset {r['source'][0]}` in `{r['source'][1]}` have "
                        "another configuration)") if r else ""
                epochs = method_epochs(m, int(sets["epochs"]))
                lines_by_setting.append(f"| {m} | {epochs} | not run{note} | | | | | | |")
                continue
            machines.update(r["machines"])
            lines_by_setting.append(
                f"| {m} | {method_epochs(m, int(sets['epochs']))} | {' '.join(map(_fmt, r['distinct']))} | "
                f"{r['converged']}/{len(r['seeds'])} | {' '.join(map(_fmt, r['max_p']))} | "
                f"{' '.join(map(str, r['skip']))} | {statistics.mean(r['c10']):.2f} | {r['minutes']:.1f} |"
                + (f" `{r['source'][1]}` (`--preset {r['source'][0]}`" if r["source"] else " this sweep's")
                + (f"; {r['other_config']} of another configuration left out" if r["other_config"] else "")
                + (")" if r["source"] else "") + " |")
    if qualifying:
        choice = f"the cheapest setting meeting all three criteria: **{min(qualifying)[1]}**"
    elif closest and len(closest) == len(settings(args)):
        _, _, _, name, failed = min(closest)
        choice = (f"no setting meets all three; the closest (the fewest failures among the settings on which DARTS-V1 "
                  f"meets criteria 2 and 3, then the cheapest) is **{name}** (fails: {'; '.join(failed)})")
    else:
        open_ = [n for n in settings(args) if n not in {c[3] for c in closest}]
        choice = f"not decided yet: {', '.join(open_)} can still qualify"
    lines = [
        "# The arena preset: a sweep of CPU scales on which the searches converge",
        "",
        f"`python benchmarks/arena_sweep.py run` then `report` ({args.seeds} seeds per method and setting; each "
        "setting = the cpu preset (C=8, batch 64, official split, cosine w_lr 0.025) plus the changes named; every "
        "method runs the same fraction of its own paper's epochs). Criteria: every dense method "
        f"({', '.join(DENSE)}) ends with at most {MAX_DISTINCT_CELLS} distinct derived cells over the last quarter "
        f"of its epochs (the last ceil(E/4)) on at least {MIN_CONVERGED} of {SEEDS} seeds; DARTS-V1 ends with at "
        f"least {SKIP_DOMINATED} skip connections on most seeds; a DARTS-V1 search takes at most {MAX_MINUTES:g} "
        "minutes on one core (median wall time: of the searches timed by `arena_sweep.py time` where there are "
        "any, else of the sweep's own runs).",
        "",
        f"Result: {choice}.",
        *lines_by_setting,
        "",
        "Runs were made on: " + ("; ".join(sorted(machines)) or "nothing yet") + ". Minutes are of the machine each "
        "run was on (runs beside other searches are slower).",
        "",
    ]
    out = Path(args.report_to) if args.report_to else Path(__file__).resolve().parent / "results" / "arena_sweep.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data-root", required=True)
    r.add_argument("--workers", type=int, default=1, help="runs at once (one torch thread each)")
    r.add_argument("--methods", default="", help=f"comma-separated (default: the dense ones, {','.join(DENSE)})")
    r.set_defaults(fn=run)
    q = sub.add_parser("report")
    q.add_argument("--report-to", default="", help="the Markdown file [benchmarks/results/arena_sweep.md]")
    q.add_argument("--arena", default="", help="an experiment of `--preset arena` runs (e.g. results/arena): the "
                   "methods the sweep's folder lacks for the setting the preset equals are read from it")
    q.add_argument("--preset-runs", action="append", default=[], metavar="PRESET=DIR",
                   help="as --arena for any scaled preset (e.g. proxy=results/proxy); only runs whose configuration "
                   "is the setting's are read. Repeatable.")
    q.set_defaults(fn=report)
    w = sub.add_parser("time", help="time one DARTS-V1 search of each setting on this machine")
    w.add_argument("--data-root", required=True)
    w.add_argument("--seed", type=int, default=0)
    w.set_defaults(fn=time_search)
    for a in (r, q, w):
        a.add_argument("--out", required=True, help="the sweep's folder (one experiment per setting)")
        a.add_argument("--settings", default="", help="comma-separated names (default: all)")
        a.add_argument("--seeds", type=int, default=SEEDS)
        a.add_argument("--smoke", action="store_true", help="a seconds-long setting instead (tests)")
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
