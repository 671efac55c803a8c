"""What a short GPU window can show, in one script (under 10 minutes on one H100).

1. **Paper-protocol search** (the ``paper`` preset: C=16, N=5, batch 64, the
   official 25k/25k CIFAR-10 halves, 391 steps per epoch, the schedule of 50
   epochs) of ``darts-v1`` and ``sd-darts`` through the real search loop, for
   the first ``--epochs`` (default 2) epochs; the time of the last one times 50
   is the extrapolated 50-epoch search. DARTS-V1 also runs with CUDA graphs
   (``--set drop_last=true compile=true compile_mode=reduce-overhead``): the
   graph-captured search loop, exercised here first. SD-DARTS runs with ``warmup=1`` here so
   that its timed epochs distil (its paper warm-up is 25 epochs of plain DARTS).
   Real CIFAR-10 with ``--data-root``, else random images of the same shape
   (the step cost does not depend on the pixels).
2. **The step alone** (synthetic batches, the same step code for every net, as
   ``benchmarks/supernet_speed.py``): our SuperNet and xautodl's
   TinyNetworkDarts for DARTS-V1, SuperNet with the GDAS sampler and
   TinyNetworkGDAS for GDAS; each in float32 and under bf16 autocast, and our
   DARTS-V1 step also with ``torch.compile``; per-step time extrapolated to 50
   epochs of 391 steps, and peak memory.
3. **Host reads per step on the GPU** for every built-in method: conversions of
   GPU tensors and synchronising CUDA calls (torch's sync debug mode) inside
   ``step()`` (:func:`nasbench_sd.testing.hostreads.step_reads`).

Writes benchmarks/results/gpu_search.md with the device named. Parts that would
pass ``--budget`` seconds are skipped (and said so). ``--smoke`` runs every part
at toy sizes on the CPU in seconds (``torch.compile`` with the ``eager``
backend), to test the script where there is no GPU.

    python benchmarks/gpu_search.py [--data-root DIR] [--epochs 2] [--smoke] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import supernet_speed  # noqa: E402

PAPER_STEPS, PAPER_EPOCHS = 391, 50  # 25,000 images / batch 64 (last batch short); NB201 search epochs


class Budget:
    """Seconds left for the remaining parts; a part is skipped when it would overrun."""

    def __init__(self, seconds: float):
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> str:
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f}" if device.type == "cuda" else "-"


def synthetic_data(n: int, size: int, seed: int = 0):
    from nasbench_sd.testing.hostreads import tiny_search_data

    return tiny_search_data(n=n, size=size, seed=seed)


# -- part 1: the real loop -----------------------------------------------------------------------
def loop_part(a: argparse.Namespace, device: torch.device, budget: Budget) -> list[str]:
    from nasbench_sd.data import load_search_data
    from nasbench_sd.experiments.worker import data_on
    from nasbench_sd.presets import build_run_config
    from nasbench_sd.search import run_search

    if a.smoke:
        sets = {"channels": "4", "cells_per_stage": "1", "batch_size": "8", "epochs": "4"}
        data, source = data_on(synthetic_data(24, 8), device), "random 8x8 images (smoke)"
    else:
        sets = {"epochs": str(PAPER_EPOCHS)}
        if a.data_root:
            data, source = load_search_data("cifar10", a.data_root, "official", device=device), "CIFAR-10"
        else:
            data, source = data_on(synthetic_data(25000, 32), device), "random 32x32 images (no --data-root)"
    lines = [f"## 1. Paper-protocol search loop ({source})", "",
             "| method | settings | epoch s (each timed epoch) | steps/s | extrapolated 50 epochs | peak GiB |",
             "|---|---|---|---|---|---|"]
    graphs = {"drop_last": "true", "compile": "true", "compile_mode": "eager" if a.smoke else "reduce-overhead"}
    runs = [("darts-v1", {}), ("darts-v1", graphs), ("sd-darts", {"method.warmup": "1"})]
    preset = "paper" if not a.smoke else "cpu"
    batch = build_run_config("darts-v1", preset, 0, sets, device=str(device)).search.batch_size
    per_epoch = -(-data.n_train // batch)  # the footnote's figure, whichever rows ran
    for method, extra in runs:
        if budget.left() < a.part_estimate:
            lines.append(f"| {method} | skipped: time budget spent | | | | |")
            continue
        cfg = build_run_config(method, "paper" if not a.smoke else "cpu", 0, {**sets, **extra}, device=str(device))
        steps = (data.n_train // cfg.search.batch_size if cfg.search.drop_last
                 else -(-data.n_train // cfg.search.batch_size))
        reset_peak(device)
        with tempfile.TemporaryDirectory() as tmp:
            run_search(cfg, Path(tmp) / "run", data=data, quiet=True, max_steps=a.epochs * steps + 1)
            records = [json.loads(x) for x in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
        secs = [r["epoch_seconds"] for r in records]
        last = secs[-1]
        total = last * (PAPER_EPOCHS if not a.smoke else cfg.search.epochs)
        shown = ", ".join(f"{s:.1f}" for s in secs)
        lines.append(f"| {method} | {', '.join(f'{k}={v}' for k, v in extra.items()) or 'paper'} | {shown} | "
                     f"{steps / last:.1f} | {total / 60:.1f} min | {peak_gib(device)} |")
    return lines + ["", f"{per_epoch} steps per epoch ({data.n_train // batch} with drop_last=true); the last "
                    "timed epoch times "
                    f"{PAPER_EPOCHS} (the first includes cuDNN autotuning, allocator warm-up and, with compile=true, "
                    "compiling and graph capture). Checkpoint writes are not in the epoch time. The compiled row "
                    "is the search loop with CUDA graphs (torch.compile mode reduce-overhead, static shapes).", ""]


# -- part 2: the step alone ---------------------------------------------------------------------
def step_part(a: argparse.Namespace, device: torch.device, budget: Budget) -> list[str]:
    ns = argparse.Namespace(batch=4 if a.smoke else 64, channels=4 if a.smoke else 16,
                            cells=1 if a.smoke else 5, partial_channels=1, size=8 if a.smoke else 32)
    have_x = supernet_speed.have_xautodl()
    nets = ["darts: SuperNet", "darts: xautodl TinyNetworkDarts", "gdas: SuperNet", "gdas: xautodl TinyNetworkGDAS"]
    variants = [(n, amp, False) for n in nets for amp in (False, True) if have_x or "xautodl" not in n]
    variants += [("darts: SuperNet", False, True), ("darts: SuperNet", True, True)]
    lines = [f"## 2. One search step (batch {ns.batch}+{ns.batch}, C={ns.channels}, N={ns.cells}, "
             f"{ns.size}x{ns.size}; the same step code for every net)", "",
             "| step: net | precision | torch.compile | step ms (median of rounds) | extrapolated 50 epochs | "
             "peak GiB |", "|---|---|---|---|---|---|"]
    if not have_x:
        lines.insert(2, "xautodl is not installed (README: the reference extra): its rows are left out.\n")
    for name, amp, compiled in variants:
        if budget.left() < (a.part_estimate * (3 if compiled else 1)):
            lines.append(f"| {name} | {'bf16' if amp else 'fp32'} | {'on' if compiled else 'off'} | skipped: "
                         "time budget spent | | |")
            continue
        reset_peak(device)
        net = supernet_speed.build(name, ns, device)
        if compiled:
            net = torch.compile(net, backend="eager" if a.smoke else "inductor")
        step = supernet_speed.Step(net, ns, device, name)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            for _ in range(a.warmup_steps):  # compilation, autotuning, allocator
                step()
            sync(device)
            rounds = []
            for _ in range(a.rounds):
                t0 = time.perf_counter()
                for _ in range(a.steps):
                    step()
                sync(device)
                rounds.append((time.perf_counter() - t0) / a.steps)
        per_step = statistics.median(rounds)
        lines.append(f"| {name} | {'bf16' if amp else 'fp32'} | {'on' if compiled else 'off'} | "
                     f"{per_step * 1e3:.1f} | {per_step * PAPER_STEPS * PAPER_EPOCHS / 60:.1f} min | "
                     f"{peak_gib(device)} |")
        del step, net
    return lines + ["", f"{a.rounds} rounds of {a.steps} steps after {a.warmup_steps} warm-up steps; 50 epochs = "
                    f"{PAPER_EPOCHS} x {PAPER_STEPS} steps (no data loading, no epoch-end work).", ""]


# -- part 3: host reads ----------------------------------------------------------------------------
def reads_part(a: argparse.Namespace, device: torch.device, budget: Budget) -> list[str]:
    from nasbench_sd.methods import get_method, list_methods
    from nasbench_sd.testing.hostreads import step_reads

    epochs, steps = (1, 2) if a.smoke else (2, 3)
    lines = [f"## 3. Host reads of the device per step (tiny network, {epochs} epoch(s) of {steps} steps)", "",
             "| method | conversions per step (max) | synchronising CUDA calls per step (max) | where |",
             "|---|---|---|---|"]
    for method in list_methods():
        if not get_method(method).trains_supernet:
            continue
        if budget.left() < 10:
            lines.append(f"| {method} | skipped: time budget spent | | |")
            continue
        reads = step_reads(method, epochs=epochs, steps_per_epoch=steps, device=str(device))
        conv = max((sum(n != "cuda-sync" for n, _ in r) for r in reads.in_step), default=0)
        syncs = max((sum(n == "cuda-sync" for n, _ in r) for r in reads.in_step), default=0)
        where = sorted({w.replace(str(HERE.parent) + "/", "") for r in reads.in_step for _, w in r})[:3]
        lines.append(f"| {method} | {conv} | {syncs if device.type == 'cuda' else '-'} | "
                     f"{'; '.join(where) or '-'} |")
    return lines + ["", "The rule: at most one per step (GDAS: its sampled op ids); the loop reads once per "
                    "epoch. On the CPU only conversions can be counted.", ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default=None, help="folder holding cifar-10-batches-py/ [random images]")
    p.add_argument("--epochs", type=int, default=2, help="paper-protocol epochs timed per method in part 1")
    p.add_argument("--steps", type=int, default=20, help="steps per timed round in part 2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup-steps", type=int, default=5)
    p.add_argument("--budget", type=float, default=9 * 60,
                   help="seconds; later parts are skipped past it (default fits one 10-minute command)")
    p.add_argument("--part-estimate", type=float, default=60, help="seconds a part is assumed to need")
    p.add_argument("--smoke", action="store_true", help="toy sizes on the CPU (tests the script)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "gpu_search.md")
    a = p.parse_args(argv)
    from nasbench_sd.provenance import device_name

    if a.smoke:
        device = torch.device("cpu")
        a.steps, a.rounds, a.warmup_steps, a.part_estimate = 1, 1, 1, 0
    elif not torch.cuda.is_available():
        print("gpu_search.py: CUDA is not available on this machine (use --smoke to test the script)",
              file=sys.stderr)
        return 1
    else:
        device = torch.device("cuda")
        torch.backends.cudnn.benchmark = True
    budget, t0 = Budget(a.budget), time.perf_counter()
    lines = ["# What a short GPU window shows: search speed on one GPU", "",
             f"`python benchmarks/gpu_search.py{' --smoke' if a.smoke else ''}` on **{device_name(device)}** "
             f"({device.type}), torch {torch.__version__}.", ""]
    for part in (loop_part, step_part, reads_part):
        lines += part(a, device, budget)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text("\n".join(lines))  # what is done so far survives a killed window
    lines.append(f"Whole script: {(time.perf_counter() - t0) / 60:.1f} min.")
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
