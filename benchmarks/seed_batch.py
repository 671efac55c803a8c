"""Seed-batched searches: search steps per second per seed for S seeds trained as ONE
batched supernet, against S separate processes (S ordinary runs at once on the same
machine) and against the NB201 authors' network (xautodl TinyNetworkDarts, S processes).

One step is a DARTS-V1 step: the weight step (forward + backward on a train batch,
grad-clip 5, SGD momentum 0.9 Nesterov wd 5e-4) and the arch step (forward + backward on
a valid batch, Adam on alpha). Rows:

* ``batched``: one process, :class:`~nasbench_sd.nn.batched.BatchedSuperNet` with S
  seeds driven by the darts-v1 method's own step code (per-seed clipping, summed losses);
* ``separate``: S processes at once, each one seed's SuperNet and the same method code;
* ``xautodl``: S processes at once, each xautodl's TinyNetworkDarts with the step of
  benchmarks/supernet_speed.py (its own alpha inside);
* ``vmap``: one process, ``torch.func.vmap`` of SuperNet over stacked parameters (the
  design the batched network was chosen over), the same step.

Processes start, build, take warm-up steps, wait for each other, then time ``--steps``
steps; steps/s per seed = S x steps / time (one process) or the mean over the S
processes of steps / time. On the CPU the table also gives seed-steps per CPU-second
of the (one-thread) processes: the cost of a step, which other processes on a shared
machine disturb much less than the wall clock. Batches are fixed random tensors on the device (the data
pipeline is not timed). The sizes: ``paper`` (C=16, N=5, batch 64, 32x32) and ``proxy``
(C=8, N=5, batch 64). ``--budget`` (seconds) skips the cases that would start after it
is spent; ``--smoke`` runs a toy size, S = 2, in well under a minute on an idle CPU.

Usage::

    python benchmarks/seed_batch.py                      # CPU: writes benchmarks/results/seed_batch.md
    python benchmarks/seed_batch.py --device cuda --budget 420   # writes seed_batch-<gpu>.md (paper size first)
    python benchmarks/seed_batch.py --smoke --out /tmp/x.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

#: name -> (channels, cells per stage, batch, image size)
SIZES = {"paper": (16, 5, 64, 32), "proxy": (8, 5, 64, 32), "toy": (4, 1, 8, 16)}
KINDS = ("batched", "separate", "xautodl", "vmap")


# -- one worker process ----------------------------------------------------------------------------
def _method_step(kind: str, seeds: int, size: str, device):
    """The darts-v1 step of ``seeds`` seeds batched (or one seed alone: ``seeds == 1`` and kind separate)."""
    import torch

    from nasbench_sd.data.loader import StepBatch
    from nasbench_sd.methods import SearchContext, create_method
    from nasbench_sd.nn.batched import BatchedSuperNet
    from nasbench_sd.nn.supernet import SuperNet
    from nasbench_sd.presets import build_run_config

    c, n, b, hw = SIZES[size]
    cfg = build_run_config("darts-v1", "paper", 0, {"channels": str(c), "cells_per_stage": str(n)})
    g = torch.Generator().manual_seed(1)
    lead = (seeds,) if kind == "batched" else ()
    x = [torch.randn(*lead, b, 3, hw, hw, generator=g).to(device) for _ in range(2)]
    y = [torch.randint(0, 10, (*lead, b), generator=g).to(device) for _ in range(2)]
    idx = torch.zeros(*lead, b, dtype=torch.long, device=device)
    batch = StepBatch(x[0], y[0], idx, x[1], y[1], idx, 0, 0)
    if kind == "batched":
        method = create_method("darts-v1", cfg.method_config, seeds=tuple(range(seeds)))
        net = BatchedSuperNet([SuperNet(c, n, 10) for _ in range(seeds)]).to(device)
    else:
        method = create_method("darts-v1", cfg.method_config, 0)
        net = SuperNet(c, n, 10).to(device)
    s = cfg.search
    w_opt = torch.optim.SGD(net.parameters(), lr=s.w_lr, momentum=s.w_momentum, nesterov=s.w_nesterov,
                            weight_decay=s.w_weight_decay)
    ctx = SearchContext(network=net, w_optimizer=w_opt, device=torch.device(device), search=s, steps_per_epoch=1,
                        num_classes=10, num_train_keys=1, num_valid_keys=1,
                        seed_batch=seeds if kind == "batched" else None)
    ctx.lr = s.w_lr
    method.setup(ctx)
    return lambda: method.step(batch, ctx)


def _xautodl_step(size: str, device):
    import torch
    from supernet_speed import Step, build

    c, n, b, hw = SIZES[size]
    args = argparse.Namespace(channels=c, cells=n, batch=b, partial_channels=1, size=hw)
    name = "darts: xautodl TinyNetworkDarts"
    return Step(build(name, args, torch.device(device)), args, torch.device(device), name)


def _vmap_step(seeds: int, size: str, device):
    """The same step with ``vmap(functional_call(SuperNet))`` over stacked parameters."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    from nasbench_sd.nn.supernet import SuperNet
    from nasbench_sd.seedbatch import clip_grad_norm_per_seed

    c, n, b, hw = SIZES[size]
    nets = [SuperNet(c, n, 10, channels_last=False).to(device) for _ in range(seeds)]
    params, buffers = stack_module_state(nets)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    template = copy.deepcopy(nets[0]).to("meta")
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(seeds, b, 3, hw, hw, generator=g).to(device) for _ in range(2)]
    ys = [torch.randint(0, 10, (seeds, b), generator=g).to(device) for _ in range(2)]
    alpha = (1e-3 * torch.randn(seeds, 6, 5, generator=g)).to(device).requires_grad_(True)
    w_opt = torch.optim.SGD(list(params.values()), 0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)
    a_opt = torch.optim.Adam([alpha], 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    fwd = vmap(lambda p, bf, x, w: functional_call(template, (p, bf), (x, w)))

    def loss(x, y):
        out = fwd(params, buffers, x, alpha.softmax(-1))
        return F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").view(seeds, -1).mean(1).sum()

    def step():
        w_opt.zero_grad(set_to_none=True)
        loss(xs[0], ys[0]).backward()
        clip_grad_norm_per_seed(params.values(), 5.0)
        w_opt.step()
        a_opt.zero_grad(set_to_none=True)
        loss(xs[1], ys[1]).backward()
        a_opt.step()

    return step


def worker(args: argparse.Namespace) -> None:
    """Build, warm up, wait for the other processes of the case, time ``--steps`` steps; print JSON."""
    import warnings

    import torch

    warnings.filterwarnings("ignore")  # vmap's "no batching rule" performance warning
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.worker == "xautodl":
        step = _xautodl_step(args.size, args.device)
    elif args.worker == "vmap":
        step = _vmap_step(args.nseeds, args.size, args.device)
    else:
        step = _method_step(args.worker, args.nseeds, args.size, args.device)

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    Path(args.ready).touch()
    while len(list(Path(args.ready).parent.glob("ready-*"))) < args.procs:  # all processes built and warm
        time.sleep(0.01)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step()
    sync()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    peak = torch.cuda.max_memory_allocated() if args.device.startswith("cuda") else None
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "steps": args.steps, "peak_bytes": peak}))


# -- the driver -------------------------------------------------------------------------------------------
def run_case(kind: str, size: str, seeds: int, args: argparse.Namespace, timeout: float) -> dict:
    """Steps/s per seed of ``seeds`` seeds as ``kind`` (one process or ``seeds`` processes at once)."""
    procs_n = 1 if kind in ("batched", "vmap") else seeds
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--worker", kind, "--size", size, "--nseeds", str(seeds),
               "--device", args.device, "--threads", str(args.threads), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--procs", str(procs_n)]
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(args.threads)}
        procs = [subprocess.Popen([*cmd, "--ready", f"{tmp}/ready-{i}"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for i in range(procs_n)]
        outs = []
        for p in procs:
            try:
                out, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                return {"error": "timed out (budget)"}
            if p.returncode != 0:
                return {"error": (err.strip().splitlines() or ["failed"])[-1]}
            outs.append(json.loads(out.strip().splitlines()[-1]))
    if procs_n == 1:
        per_seed = seeds * outs[0]["steps"] / outs[0]["seconds"]
        per_cpu_s = seeds * outs[0]["steps"] / outs[0]["cpu_seconds"]
    else:
        per_seed = sum(o["steps"] / o["seconds"] for o in outs) / len(outs)
        per_cpu_s = sum(o["steps"] for o in outs) / sum(o["cpu_seconds"] for o in outs)
    peak = [o["peak_bytes"] for o in outs if o["peak_bytes"] is not None]
    return {"per_seed": per_seed, "per_cpu_second": per_cpu_s, "total": per_seed * seeds,
            "peak_gib": sum(peak) / 2**30 if peak else None}


def machine(device: str) -> dict:
    import torch

    info = {"torch": torch.__version__, "python": platform.python_version(), "cores": os.cpu_count()}
    try:
        models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def out_path(args: argparse.Namespace, info: dict) -> Path:
    if args.out:
        return Path(args.out)
    results = HERE / "results"
    if args.device == "cpu":
        return results / "seed_batch.md"
    slug = re.sub(r"[^a-z0-9]+", "-", info.get("gpu", args.device).lower()).strip("-")
    return results / f"seed_batch-{slug}.md"


def render(rows: list[dict], info: dict, args: argparse.Namespace, loads: tuple, wall: float) -> str:
    lines = [
        "# Seed-batched searches: steps/s per seed",
        "",
        f"`{' '.join(['python', 'benchmarks/seed_batch.py', *sys.argv[1:]])}` (benchmarks/seed_batch.py; one run, "
        f"{wall:.0f} s).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores" + (f", GPU {info['gpu']}" if "gpu" in info else "")
        + f"; torch {info['torch']}, Python {info['python']}; device {args.device}"
        + (f", {args.threads} torch thread(s) per process" if args.device == "cpu" else "") + ".",
        f"Load average (1 min) before / after: {loads[0]:.2f} / {loads[1]:.2f}"
        + (" (the machine was shared with other processes: absolute figures are disturbed, ratios within a "
           "row less so)" if max(loads) > 0.5 * (info["cores"] or 1) else "") + ".",
        "",
        "One DARTS-V1 step (weight step + arch step). `batched`: one process, S seeds in one "
        "BatchedSuperNet; `separate`: S processes at once, each one SuperNet; `xautodl`: S processes at once, "
        "each the NB201 authors' TinyNetworkDarts; `vmap`: one process, torch.func.vmap of SuperNet. "
        f"{args.warmup} warm-up step(s), then {args.steps} timed step(s) per process.",
        "",
    ]
    metrics = [("per_seed", "steps/s per seed (wall clock)")]
    if args.device == "cpu":  # CPU time of one-thread processes: what a step costs, robust to other load
        metrics.insert(0, ("per_cpu_second", "seed-steps per CPU-second (each process runs on one thread: "
                                             "the cost of a step, little disturbed by other processes)"))
    for size in dict.fromkeys(r["size"] for r in rows):
        c, n, b, hw = SIZES[size]
        lines += [f"## {size} size (C={c}, N={n}, batch {b}, {hw}x{hw})", ""]
        for key, title in metrics:
            lines += [f"{title}:", "",
                      "| S | batched | separate | xautodl | vmap | batched / separate | batched / xautodl | "
                      "batched / vmap |", "|---|---|---|---|---|---|---|---|"]
            for r in (r for r in rows if r["size"] == size):
                cells = [_fmt(r.get(k), key) for k in KINDS]
                ratios = [_ratio(r.get("batched"), r.get(k), key) for k in ("separate", "xautodl", "vmap")]
                lines.append(f"| {r['seeds']} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | "
                             + " | ".join(ratios) + " |")
            lines.append("")
        peaks = [(r["seeds"], r["batched"].get("peak_gib")) for r in rows
                 if r["size"] == size and isinstance(r.get("batched"), dict) and r["batched"].get("peak_gib")]
        if peaks:
            lines += ["Peak GPU memory of the batched process: "
                      + ", ".join(f"S={s}: {p:.2f} GiB" for s, p in peaks) + ".", ""]
    return "\n".join(lines)


def _fmt(res: dict | None, key: str = "per_seed") -> str:
    if res is None:
        return "-"
    if "error" in res:
        return f"({res['error'][:40]})"
    return f"{res[key]:.3g}"


def _ratio(a: dict | None, b: dict | None, key: str = "per_seed") -> str:
    if not a or not b or key not in a or key not in b:
        return "-"
    return f"{a[key] / b[key]:.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu | cuda (the whole case runs there)")
    ap.add_argument("--sizes", default="paper,proxy")
    ap.add_argument("--seeds", default="1,2,5,10", help="the values of S")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--steps", type=int, default=None, help="timed steps per process [cpu 2, cuda 20]")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up steps per process [cpu 1, cuda 5]")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process (CPU)")
    ap.add_argument("--budget", type=float, default=None, help="seconds; cases after it is spent are skipped")
    ap.add_argument("--smoke", action="store_true", help="toy size, S = 2, one step: a check that it runs")
    ap.add_argument("--out", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--size", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--nseeds", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--procs", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--ready", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    gpu = args.device.startswith("cuda")
    args.steps = args.steps or (20 if gpu else 2)
    args.warmup = args.warmup if args.warmup is not None else (5 if gpu else 1)
    if args.worker:
        worker(args)
        return
    if args.smoke:
        args.sizes, args.seeds, args.steps, args.warmup = "toy", "2", 1, 1
    started = time.time()
    load0 = os.getloadavg()[0]
    info = machine(args.device)
    kinds = [k for k in args.kinds.split(",") if k]
    rows = []
    for size in args.sizes.split(","):
        for seeds in (int(s) for s in args.seeds.split(",")):
            row = {"size": size, "seeds": seeds}
            for kind in kinds:
                left = None if args.budget is None else args.budget - (time.time() - started)
                if left is not None and left <= 0:
                    row[kind] = {"error": "skipped: budget spent"}
                    continue
                row[kind] = run_case(kind, size, seeds, args, timeout=left if left is not None else 7200)
                print(f"{size} S={seeds} {kind}: {_fmt(row[kind])} steps/s per seed", flush=True)
            rows.append(row)
    text = render(rows, info, args, (load0, os.getloadavg()[0]), time.time() - started)
    path = out_path(args, info)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    (path.with_suffix(".json")).write_text(json.dumps({"machine": info, "rows": rows}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
