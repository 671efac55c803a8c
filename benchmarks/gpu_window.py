"""One lent GPU window moves results/paper forward (issue 25, item 4).

A window is a few minutes of a machine that may never be seen again. This
script spends a wall-clock budget on the next unfinished runs of the Table-4
experiment (13 methods x 5 seeds, ``paper`` preset), stops every run at its
next step with a checkpoint when the budget ends (``nasbench-sd run
--budget``), and packs what must come back into one folder: every run's small
files (config.json, metrics.jsonl, result.json), the checkpoint of every
unfinished run (so the next window resumes it on another machine, to the end an
uninterrupted run reaches), experiment.json, and ``window.json`` (the device,
the budget, what finished, what stopped, what did not start, the code revision).
The pack is a tar archive cut into parts of at most 15 MiB (the device's return
channel takes at most 8 files of 16 MiB, 64 MiB in all). An unfinished run adds
its checkpoint, 2-25 MiB at the paper size (benchmarks/results/checkpoint_size.md:
13.2 for DARTS, 24.9 for SD-DARTS with its teacher cache), so leave few runs
unfinished per window; ``window.json`` records the pack's size, and a pack over
60 MiB is warned about.

Order: methods with an unfinished run that has a checkpoint first (finish what
was begun), then the other methods with unfinished runs, in Table-4 order.

    # on the GPU machine ($OUT comes back)
    python benchmarks/gpu_window.py run --device cuda --budget 720 --data-root DATA \\
        --out results/paper --export $OUT/window [--batch-seeds 5] [--runs-per-device 2]
    # back here: unpack into results/paper (checkpoints of runs now finished are deleted)
    python benchmarks/gpu_window.py apply FILES_AT/window --to results/paper
    git add results/paper && git add -f results/paper/*/seed-*/checkpoint.pt   # unfinished runs only

``--smoke`` swaps in seconds-long CPU settings (tests/test_gpu_window.py runs a
budget of seconds across fresh directories and processes).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import shutil
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from nasbench_sd.errors import RunError, UserError  # noqa: E402
from nasbench_sd.experiments.manifest import now  # noqa: E402

PART_BYTES = 15 * 2**20
PACK = "runs.tar.gz"
SMALL = ("config.json", "metrics.jsonl", "result.json")
CHECKPOINTS = ("checkpoint.pt", "checkpoint.prev.pt")
#: What the device's return channel takes in all (8 files of at most 16 MiB, 64 MiB together), less room for logs.
RETURN_LIMIT = 60 * 2**20
SMOKE_SETS = ("channels=4", "cells_per_stage=1", "train_limit=128", "batch_size=32", "epochs=10")
SMOKE_METHODS = ("darts-v1", "sd-darts")


#: The 13 methods of the Table-4 experiment (results/paper/README.md's command), in its order.
TABLE4_METHODS = ("darts-v1", "darts-v2", "gdas", "pc-darts", "sd-darts", "random", "snas", "dsnas", "idarts",
                  "darts-minus", "beta-darts", "drnas", "rsps")


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/seed-*") if p.is_dir())


def next_methods(root: Path, methods: list[str], seeds: list[int]) -> list[str]:
    """The methods with an unfinished run, those with a begun run (a checkpoint) first."""
    begun, fresh = [], []
    for m in methods:
        dirs = [root / m / f"seed-{s}" for s in seeds]
        if all((d / "result.json").is_file() for d in dirs):
            continue
        (begun if any((d / "checkpoint.pt").is_file() and not (d / "result.json").is_file() for d in dirs)
         else fresh).append(m)
    return begun + fresh


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} visible)"
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU: {model} ({platform.node()})"


def pack(root: Path, dest: Path, info: dict) -> dict:
    """Write ``dest/runs.tar.gz.NNN`` (parts) and ``dest/window.json``; returns the file list."""
    dest.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    names = []
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        if (root / "experiment.json").is_file():
            tar.add(root / "experiment.json", arcname="experiment.json")
            names.append("experiment.json")
        for d in run_dirs(root):
            finished = (d / "result.json").is_file()
            # an unfinished run's newest checkpoint: a budget stop writes every run's (and every seed's of
            # a batch) completely before the pack is made, so the previous one is not needed to resume
            for name in SMALL + (() if finished else CHECKPOINTS[:1]):
                if (d / name).is_file():
                    arc = (d / name).relative_to(root).as_posix()
                    tar.add(d / name, arcname=arc)
                    names.append(arc)
    data = buf.getvalue()
    parts = []
    for k in range(0, max(1, len(data)), PART_BYTES):
        part = dest / f"{PACK}.{k // PART_BYTES:03d}"
        part.write_bytes(data[k:k + PART_BYTES])
        parts.append(part.name)
    info = {**info, "pack": {"parts": parts, "bytes": len(data), "files": names,
                             "over_return_limit": len(data) > RETURN_LIMIT}}
    if len(data) > RETURN_LIMIT:
        print(f"gpu_window: warning: the pack is {len(data) / 2**20:.0f} MiB, more than a device's return channel "
              f"takes ({RETURN_LIMIT / 2**20:.0f} MiB): leave fewer runs unfinished (benchmarks/results/"
              "checkpoint_size.md)", file=sys.stderr)
    (dest / "window.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def states(root: Path, methods: list[str], seeds: list[int]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"finished": [], "stopped": [], "not started": []}
    for m in methods:
        for s in seeds:
            d = root / m / f"seed-{s}"
            key = ("finished" if (d / "result.json").is_file() else
                   "stopped" if (d / "checkpoint.pt").is_file() else "not started")
            out[key].append(f"{m}/seed-{s}")
    return out


def cmd_run(args: argparse.Namespace) -> int:
    import nasbench_sd as nb

    started, t0 = now(), time.time()
    root = Path(args.out)
    methods = list(SMOKE_METHODS) if args.smoke else (args.methods.split(",") if args.methods else list(TABLE4_METHODS))
    seeds = list(range(args.seeds))
    sets = list(SMOKE_SETS if args.smoke else ()) + list(args.set)
    todo = next_methods(root, methods, seeds)
    before = states(root, methods, seeds)
    error = None
    if todo:
        print(f"window: {args.budget:g} s on {', '.join(todo)} (seeds {args.seeds}) into {root}", flush=True)
        try:
            nb.run(todo, seeds, "cpu" if args.smoke else args.preset, root, device=args.device,
                   budget=max(1.0, args.budget - args.margin), batch_seeds=args.batch_seeds,
                   runs_per_device=args.runs_per_device, workers=args.workers, data_root=args.data_root,
                   download=False, threads=args.threads, sets=sets, progress=not args.quiet)
        except RunError as e:  # some runs failed: pack what there is, say so
            error = str(e)
            print(f"gpu_window: {e}", file=sys.stderr)
    else:
        print("window: every run of the experiment is finished; nothing to do")
    after = states(root, methods, seeds)
    info = {"device": device_name(args.device), "budget_s": args.budget, "started": started, "ended": now(),
            "seconds": round(time.time() - t0, 1), "command": " ".join(sys.argv), "methods": todo,
            "finished_now": sorted(set(after["finished"]) - set(before["finished"])), **after, "error": error}
    from nasbench_sd.provenance import code_revision

    info["code_revision"] = code_revision()
    info = pack(root, Path(args.export), info)
    print(f"packed {len(info['pack']['files'])} files ({info['pack']['bytes'] / 2**20:.1f} MiB in "
          f"{len(info['pack']['parts'])} parts) into {args.export}: {len(after['finished'])} runs finished "
          f"({len(info['finished_now'])} in this window), {len(after['stopped'])} stopped, "
          f"{len(after['not started'])} not started")
    return 1 if error else 0


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Plain files at relative paths below the target only (the pack comes from another machine)."""
    members = []
    for m in tar.getmembers():
        p = Path(m.name)
        if not m.isfile() or p.is_absolute() or ".." in p.parts:
            raise UserError(f"the pack holds {m.name!r}, which is not a plain file below the target; refused")
        members.append(m)
    return members


def cmd_apply(args: argparse.Namespace) -> int:
    src, to = Path(args.pack), Path(args.to)
    parts = sorted(src.glob(f"{PACK}.[0-9][0-9][0-9]"))
    if not parts:
        raise UserError(f"no {PACK}.NNN parts in {src}")
    data = b"".join(p.read_bytes() for p in parts)
    to.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = _safe_members(tar)
        for m in members:
            target = to / m.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(m) as f, open(target, "wb") as out:  # type: ignore[union-attr]
                shutil.copyfileobj(f, out)
    removed = []
    for d in run_dirs(to):
        if (d / "result.json").is_file():
            for name in CHECKPOINTS:
                if (d / name).is_file():
                    (d / name).unlink()
                    removed.append((d / name).relative_to(to).as_posix())
    if (src / "window.json").is_file():
        shutil.copyfile(src / "window.json", to / "window-last.json")
    print(f"applied {len(members)} files to {to}; removed {len(removed)} checkpoints of finished runs")
    return 0


def cmd_size(args: argparse.Namespace) -> int:
    """The size of a mid-epoch checkpoint of each method at ``--preset`` (what one unfinished run
    adds to a pack): one real step on the CPU, then a requested stop writes the checkpoint."""
    import tempfile

    import torch

    from nasbench_sd.errors import Stopped
    from nasbench_sd.presets import build_run_config
    from nasbench_sd.search import run_search

    torch.set_num_threads(max(1, args.threads))
    print("| method | preset | checkpoint.pt (MiB) |\n|---|---|---|")
    for method in args.methods.split(","):
        cfg = build_run_config(method, args.preset, 0, dict(s.split("=", 1) for s in args.set), device="cpu")
        polls = iter(range(10**9))
        with tempfile.TemporaryDirectory() as tmp:
            try:  # polls: the epoch's start, then after each step: stop after the first step
                run_search(cfg, tmp, data_root=args.data_root, quiet=True,
                           stop=lambda polls=polls: next(polls) >= 1)
            except Stopped:
                pass
            ckpt = Path(tmp) / "checkpoint.pt"
            size = f"{ckpt.stat().st_size / 2**20:.1f}" if ckpt.is_file() else "none (trains no supernet)"
        print(f"| {method} | {args.preset} | {size} |", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="spend a budget on the next unfinished runs, then pack what must come back")
    r.add_argument("--device", required=True, help="cuda | cpu (always given: a window is too short to guess)")
    r.add_argument("--budget", type=float, required=True, help="seconds for the runs and the pack")
    r.add_argument("--margin", type=float, default=30.0, help="seconds kept for stopping and packing [30]")
    r.add_argument("--out", default="results/paper")
    r.add_argument("--export", required=True, help="folder for the pack (e.g. $OUT/window)")
    r.add_argument("--data-root", default=None)
    r.add_argument("--methods", default=None, help="comma-separated [the 13 methods of Table 4]")
    r.add_argument("--seeds", type=int, default=5)
    r.add_argument("--preset", default="paper")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    r.add_argument("--batch-seeds", type=int, default=1)
    r.add_argument("--runs-per-device", type=int, default=1)
    r.add_argument("--workers", type=int, default=None)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--smoke", action="store_true", help="seconds-long CPU settings (tests)")
    r.add_argument("--quiet", "-q", action="store_true")
    a = sub.add_parser("apply", help="unpack a window's pack into the experiment folder")
    a.add_argument("pack", help="the folder the window exported (window.json, runs.tar.gz.NNN)")
    a.add_argument("--to", default="results/paper")
    z = sub.add_parser("size", help="the checkpoint size of an unfinished run (one step on the CPU)")
    z.add_argument("--methods", default="darts-v1,sd-darts")
    z.add_argument("--preset", default="paper")
    z.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    z.add_argument("--data-root", default=None)
    z.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    try:
        return {"run": cmd_run, "apply": cmd_apply, "size": cmd_size}[args.cmd](args)
    except UserError as e:
        print(f"gpu_window: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
