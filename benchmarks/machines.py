"""Where and when the runs of one or more experiments ran, from each
result.json's provenance: one row per machine, then one per group. Prints
Markdown.

    python benchmarks/machines.py results/proxy [results/proxy-xeon ...]
    python benchmarks/machines.py results/cpu results/proxy ... --by-folder   # machines only, runs per folder

A machine is named from what its results record: the kernel tag of `platform`
(a VM's kernel build, e.g. fc-v782), the UTC date, and, where recorded, the CPU
model and the instruction set of torch's CPU kernels (`cpu`, `cpu_capability`;
results before 2026-12-02 19:19 UTC lack both). Two names may still be one
physical machine, and one name two machines of one kind; runs on two kinds of
CPU are not bit-equal (benchmarks/paired_runs.py tells). A run's start is its
`timestamp` (written when it ended) minus its `wall_time_s`; a machine's span is
its first start to its last end, gaps included; run time is the sum of
`wall_time_s` (two runs at once on two cores: about twice the span).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
from datetime import datetime, timedelta
from pathlib import Path


def machine(result: dict) -> str:
    prov = result.get("provenance", {})
    platform = str(prov.get("platform", "?"))
    tag = re.search(r"fc-v\d+", platform)
    end = datetime.fromisoformat(prov["timestamp"])
    name = f"{tag.group(0) if tag else platform}, {end:%Y-%m-%d}"
    if prov.get("cpu"):
        name += f", {prov['cpu']} ({prov.get('cpu_capability', '?')} kernels)"
    return name


def runs(roots: list[Path]) -> list[dict]:
    out = []
    # each folder is named by its path below the folders' common parent: results/arena and
    # results/arena-sd/default are "arena" and "arena-sd/default" (a bare "default" could not be placed)
    common = Path(os.path.commonpath([r.resolve() for r in roots])) if len(roots) > 1 else None
    for root in roots:
        folder = root.name if common is None or root.resolve() == common else str(root.resolve().relative_to(common))
        for p in sorted(root.glob("*/seed-*/result.json")):
            r = json.loads(p.read_text())
            end = datetime.fromisoformat(r["provenance"]["timestamp"])
            group = p.parent.parent.name if len(roots) == 1 else f"{folder}/{p.parent.parent.name}"
            out.append({"group": group, "folder": folder, "seed": r["seed"], "machine": machine(r), "end": end,
                        "start": end - timedelta(seconds=float(r["wall_time_s"])), "wall": float(r["wall_time_s"]),
                        "revision": r["provenance"].get("code_revision", "?"),
                        "versions": f"Python {r['provenance'].get('python')}, torch {r['provenance'].get('torch')}"})
    return out


def seeds(rs: list[dict]) -> str:
    by: dict[str, list[int]] = {}
    for r in rs:
        by.setdefault(r["group"], []).append(r["seed"])
    return "; ".join(f"{g} {' '.join(map(str, sorted(s)))}" for g, s in by.items())


def folders(rs: list[dict]) -> str:
    by: dict[str, int] = {}
    for r in rs:
        by[r["folder"]] = by.get(r["folder"], 0) + 1
    return "; ".join(f"{f} {n}" for f, n in by.items())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiments", type=Path, nargs="+")
    p.add_argument("--by-folder", action="store_true",
                   help="only the machine table, with the runs per folder instead of groups and seeds")
    a = p.parse_args(argv)
    rs = runs(a.experiments)
    machines: dict[str, list[dict]] = {}
    for r in sorted(rs, key=lambda r: r["start"]):
        machines.setdefault(r["machine"], []).append(r)
    what = "folders: runs" if a.by_folder else "groups and seeds"
    print(f"| machine | runs | {what} | first start - last end (UTC) | span (h) | run time (h) | "
          "code revisions | versions |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ms in machines.items():
        start, end = min(r["start"] for r in ms), max(r["end"] for r in ms)
        revisions = " ".join(sorted({r["revision"] for r in ms}))
        versions = " / ".join(sorted({r["versions"] for r in ms}))
        where = folders(ms) if a.by_folder else seeds(ms)
        print(f"| {name} | {len(ms)} | {where} | {start:%Y-%m-%d %H:%M} - {end:%H:%M} | "
              f"{(end - start).total_seconds() / 3600:.2f} | {sum(r['wall'] for r in ms) / 3600:.2f} | "
              f"{revisions} | {versions} |")
    if a.by_folder:
        return
    print("\n| group | machine | n | wall_time_s per run (min - max) | median |")
    print("|---|---|---|---|---|")
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rs:
        groups.setdefault((r["group"], r["machine"]), []).append(r)
    for (group, name), gs in groups.items():
        w = [r["wall"] for r in gs]
        print(f"| {group} | {name} | {len(gs)} | {min(w):.0f} - {max(w):.0f} | {statistics.median(w):.0f} |")


if __name__ == "__main__":
    main()
