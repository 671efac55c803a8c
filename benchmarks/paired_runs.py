"""Two groups of runs compared seed by seed: where a setting changes a search.

Runs of the same seed share the initial supernet, the data order and every
random draw, so two runs that differ in one setting stay equal until that
setting first acts (SD-DARTS's lambda, K and teacher from the end of the
warm-up on). Per shared seed this prints the first epoch at which the
op probabilities differ, the first at which the derived cells differ, the
largest difference of any op probability at the last epoch, each run's
final cell (parameter-free ops / skip connections, CIFAR-10 test), whether the
two final cells are the same (with a count under the table), and
whether the two ran on the same kind of machine: CPU sums depend on the CPU
kernels' instruction set, so a pair from two machines differs from epoch 1 on,
whatever the setting (the machine column then names what differs). Markdown.

    python benchmarks/paired_runs.py results/proxy-sd-lam/sd-darts-lam=1 results/proxy-sd-lam/sd-darts-lam=0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nasbench_sd.cells import Cell


def epochs(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def finished(group: Path) -> dict[int, Path]:
    return {int(p.parent.name.removeprefix("seed-")): p.parent for p in sorted(group.glob("seed-*/result.json"))}


def max_diff(a: list[list[float]], b: list[list[float]]) -> float:
    return max(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))


def first(pred, records_a: list[dict], records_b: list[dict]) -> str:
    for ra, rb in zip(records_a, records_b):
        if pred(ra, rb):
            return str(ra["epoch"])
    return "never"


def describe(result: dict) -> str:
    skips = Cell.from_string(result["cell"]).num_skip_connections
    return f"{result['num_parameter_free']} / {skips}, {result['benchmark']['c10_test']:.2f}"


MACHINE = ("platform", "cpu", "cpu_capability", "device", "torch")


def machine(a: dict, b: dict) -> str:
    """'same' when every machine field recorded in both results is equal (older
    results lack cpu and cpu_capability, and their platform string, the kernel,
    does not tell two CPUs apart), else the fields that differ."""
    pa, pb = a.get("provenance", {}), b.get("provenance", {})
    differ = [f"{k} {pa[k]} / {pb[k]}" for k in MACHINE if k in pa and k in pb and pa[k] != pb[k]]
    if differ:
        return "differs: " + "; ".join(differ)
    return "same" if all(k in pa and k in pb for k in MACHINE) else "same as far as recorded"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path, help="a group directory (holding seed-<n>/)")
    p.add_argument("b", type=Path, help="the group compared with it")
    args = p.parse_args(argv)
    runs_a, runs_b = finished(args.a), finished(args.b)
    seeds = sorted(set(runs_a) & set(runs_b))
    if not seeds:
        print(f"paired_runs: {args.a} and {args.b} have no finished seed in common", file=sys.stderr)
        raise SystemExit(2)
    print(f"A = {args.a}, B = {args.b}\n")
    print("| seed | epochs | op probs first differ (epoch) | derived cells first differ (epoch) | "
          "max abs op-prob difference, last epoch | A: free ops / skip, C10 test | B: free ops / skip, C10 test | "
          "same final cell | machine (A / B) |")
    print("|---|---|---|---|---|---|---|---|---|")
    changed = 0
    for s in seeds:
        ea, eb = epochs(runs_a[s]), epochs(runs_b[s])
        ra = json.loads((runs_a[s] / "result.json").read_text())
        rb = json.loads((runs_b[s] / "result.json").read_text())
        print(f"| {s} | {len(ea)} | {first(lambda x, y: x['op_probs'] != y['op_probs'], ea, eb)} | "
              f"{first(lambda x, y: x['cell'] != y['cell'], ea, eb)} | "
              f"{max_diff(ea[-1]['op_probs'], eb[-1]['op_probs']):.4f} | {describe(ra)} | {describe(rb)} | "
              f"{'yes' if ra['cell'] == rb['cell'] else 'no'} | {machine(ra, rb)} |")
        changed += ra["cell"] != rb["cell"]
    print(f"\nThe final cell differs on {changed} of {len(seeds)} pairs.")


if __name__ == "__main__":
    main()
