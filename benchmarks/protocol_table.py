"""Each group's search protocol, read from its runs' config.json: the shared
search settings in which the groups differ (split, epochs, weight decay,
Nesterov, ...), the order of the two updates in a step, and the method's own
settings; then the settings every group shares. Prints Markdown.

    python benchmarks/protocol_table.py results/proxy

A comparison between two rows is confounded by every column in which they
differ besides the method itself; this table names those columns.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nasbench_sd.report.compare import shared_differences

#: The update order of methods whose saved config does not state it (the others
#: state it as ``arch_first`` or ``order``), as their ``step`` does it.
ORDER = {
    "darts-v1": "weights, then alpha",
    "darts-minus": "weights, then alpha",
    "gdas": "weights, then alpha",
    "darts-v2": "alpha (unrolled, second order), then weights",
    "pc-darts": "weights only for arch_warmup epochs, then weights, then alpha",
    "idarts": "weights, then alpha (implicit gradient)",
    "dsnas": "one train-half loss updates both (single level)",
    "rsps": "weights only (a random path per step); no alpha",
    "random": "nothing trained (a random cell)",
}


def order(config: dict) -> str:
    own = config.get("method_config") or {}
    if "arch_first" in own:
        return "alpha, then weights" if own["arch_first"] else "weights, then alpha"
    if "order" in own:
        return "alpha, then weights" if own["order"] == "arch-first" else "weights, then alpha"
    return ORDER.get(config.get("method", ""), "not stated")


def configs(root: Path) -> tuple[dict[str, dict], dict[str, int]]:
    """The config of each group's first finished run, and each group's number of finished runs."""
    first: dict[str, dict] = {}
    n: dict[str, int] = {}
    for p in sorted(root.glob("*/seed-*/result.json")):
        group = p.parent.parent.name
        n[group] = n.get(group, 0) + 1
        first.setdefault(group, json.loads((p.parent / "config.json").read_text()))
    return first, n


def show(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", type=Path)
    a = p.parse_args(argv)
    cfg, n = configs(a.experiment)
    diffs = shared_differences(cfg)
    keys = [k for k in diffs if k != "preset"]
    print(f"| group | n | {' | '.join(keys)} | update order in a step | the method's own settings |")
    print("|---" * (4 + len(keys)) + "|")
    for group, c in cfg.items():
        own = " ".join(f"{k}={show(v)}" for k, v in sorted((c.get("method_config") or {}).items())) or "-"
        print(f"| {group} | {n[group]} | {' | '.join(diffs[k][group] for k in keys)} | {order(c)} | {own} |")
    first = next(iter(cfg.values()))
    shared = [f"{k} {show(v)}" for k, v in (first.get("search") or {}).items() if k not in diffs]
    print(f"\nShared by every group (preset {show(first.get('preset'))}): {', '.join(shared)}.")


if __name__ == "__main__":
    main()
