"""SuperNet vs the NB201 authors' networks (xautodl) and our per-edge reference:
speed and memory of a DARTS-V1 step and a GDAS step.

One step = the weights step (forward + backward on a train batch, grad-clip 5,
SGD momentum 0.9 nesterov wd 5e-4) and the arch step (forward + backward on a
valid batch, Adam on the [6, 5] alpha) -- what first-order DARTS and GDAS do
per iteration, with the SAME step code for every net. ``darts`` steps mix all
ops with ``softmax(alpha)``: our SuperNet and ReferenceSuperNet, and xautodl's
TinyNetworkDarts (also run channels-last). ``gdas`` steps run one Gumbel-sampled
op per edge and forward pass: our SuperNet with the GDAS method's sampler
(one host read of the op ids per sample), and xautodl's TinyNetworkGDAS (which
samples inside its forward and reads each edge's op id per cell). All nets get
the same parameters (mapped in order), batches and alpha. xautodl rows need the
``reference`` extra (README); without it they are left out. The nets
are timed in alternation (``--repeats`` rounds of ``--steps`` steps each) so
that load from other processes hits both alike; the table gives the median
and the best round (on a shared machine the best round is the figure least
disturbed by other processes; the load average is recorded beside it).
images/s counts train + valid images (2 x batch per step).

Memory: activations saved for backward by one training forward (unique
storages, measured with autograd saved-tensor hooks; exact and comparable
across devices), plus the peak RSS growth of a fresh process that builds the
net and runs two steps (CPU) or ``torch.cuda.max_memory_allocated`` (CUDA).

Usage: ``python benchmarks/supernet_speed.py [--devices cpu,cuda] [--nets LIST] [--out FILE]``
(writes benchmarks/results/supernet_speed.md by default; runs unchanged on CUDA).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from nasbench_sd.nn.reference import ReferenceSuperNet, copy_reference_weights  # noqa: E402
from nasbench_sd.nn.supernet import SuperNet  # noqa: E402

#: name -> (step kind, network, channels_last?, baseline of the speed-up column); ReferenceSuperNet's
#: and xautodl's own default is NCHW
VARIANTS = {
    "darts: xautodl TinyNetworkDarts": ("darts", "xautodl-darts", False, None),
    "darts: xautodl TinyNetworkDarts (channels_last)": ("darts", "xautodl-darts", True, "darts: xautodl "
                                                                                       "TinyNetworkDarts"),
    "darts: ReferenceSuperNet": ("darts", "reference", False, "darts: xautodl TinyNetworkDarts"),
    "darts: ReferenceSuperNet (channels_last)": ("darts", "reference", True, "darts: xautodl TinyNetworkDarts"),
    "darts: SuperNet": ("darts", "supernet", False, "darts: xautodl TinyNetworkDarts"),
    "gdas: xautodl TinyNetworkGDAS": ("gdas", "xautodl-gdas", False, None),
    "gdas: SuperNet": ("gdas", "supernet", False, "gdas: xautodl TinyNetworkGDAS"),
}
DEFAULT_NETS = [n for n in VARIANTS if n != "darts: ReferenceSuperNet (channels_last)"]


def have_xautodl() -> bool:
    try:
        import xautodl.models.cell_searchs  # noqa: F401
    except ImportError:
        return False
    return True


def build(name: str, args: argparse.Namespace, device: torch.device) -> torch.nn.Module:
    """The net of variant ``name``, with the weights every variant shares."""
    _, kind, channels_last, _ = VARIANTS[name]
    torch.manual_seed(0)
    ref = ReferenceSuperNet(args.channels, args.cells, 10, args.partial_channels)
    if kind == "reference":
        net = ref
    elif kind == "supernet":
        net = SuperNet(args.channels, args.cells, 10, args.partial_channels)
        copy_reference_weights(ref, net)
    else:
        from nasbench_sd.testing import xautodl

        net = xautodl.search_network(kind.split("-")[1], args.channels, args.cells)
        xautodl.copy_in_order(ref, net)
    net = net.to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


class Step:
    """One search step (weights SGD step, then alpha Adam step) of one net; only
    how a forward pass gets its edge weights differs between variants."""

    def __init__(self, net: torch.nn.Module, args: argparse.Namespace, device: torch.device, name: str):
        step_kind, kind, channels_last, _ = VARIANTS[name]
        g = torch.Generator().manual_seed(1)
        mf = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net
        alpha = (1e-3 * torch.randn(6, 5, generator=g)).to(device)
        if kind.startswith("xautodl"):
            with torch.no_grad():
                net.arch_parameters.copy_(alpha)
            self.alpha = net.arch_parameters
            self.forward = lambda x: net(x)[1]  # samples inside (GDAS) / mixes with its own alpha (DARTS)
            weights = [p for n, p in net.named_parameters() if n != "arch_parameters"]
        else:
            self.alpha = alpha.requires_grad_()
            weights = list(net.parameters())
            if step_kind == "gdas":
                from nasbench_sd.methods.gdas import GDAS

                sampler = GDAS(seed=0)
                sampler.alpha = self.alpha
                self.forward = lambda x: net(x, *sampler.draw_samples(1)[0])
            else:
                self.forward = lambda x: net(x, self.alpha.softmax(-1))
        self.batches = [
            (torch.randn(args.batch, 3, getattr(args, "size", 32), getattr(args, "size", 32),
                         generator=g).to(device, memory_format=mf),
             torch.randint(0, 10, (args.batch,), generator=g).to(device))
            for _ in range(2)
        ]
        self.weights = weights
        self.w_opt = torch.optim.SGD(weights, 0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)
        self.a_opt = torch.optim.Adam([self.alpha], 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)

    def __call__(self) -> None:
        (xt, yt), (xv, yv) = self.batches
        self.w_opt.zero_grad(set_to_none=True)
        F.cross_entropy(self.forward(xt), yt).backward()
        torch.nn.utils.clip_grad_norm_(self.weights, 5.0)
        self.w_opt.step()
        self.a_opt.zero_grad(set_to_none=True)
        F.cross_entropy(self.forward(xv), yv).backward()
        self.a_opt.step()


def saved_activation_bytes(step: Step) -> int:
    """Bytes of the distinct storages autograd saves during one training forward."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.device.type != "meta" and not isinstance(t, torch.nn.Parameter):
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
        return t

    xt, _ = step.batches[0]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = step.forward(xt)
    params = {p.untyped_storage().data_ptr() for p in step.net.parameters()}
    del out
    return sum(n for ptr, n in seen.items() if ptr not in params)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def probe_peak(name: str, args: argparse.Namespace, device: torch.device) -> int:
    """Peak memory (bytes) of building ``name`` and running two steps, in a fresh process on CPU."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step = Step(build(name, args, device), args, device, name)
        step()
        step()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del step
        return peak
    cmd = [sys.executable, __file__, "--probe", name, "--batch", str(args.batch), "--channels", str(args.channels),
           "--cells", str(args.cells), "--partial-channels", str(args.partial_channels)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ}).stdout
    return int(json.loads(out.strip().splitlines()[-1])["peak_rss_growth"])


def _status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` field in kB (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run_probe(args: argparse.Namespace) -> None:
    """Child process: peak RSS growth while building the net and running two steps."""
    try:  # reset the peak (VmHWM) to the current RSS, so the import of torch does not count
        Path("/proc/self/clear_refs").write_text("5")
        before, peak_field = _status_kb("VmRSS"), "VmHWM"
    except OSError:
        before, peak_field = None, None
    if before is None:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step = Step(build(args.probe, args, torch.device("cpu")), args, torch.device("cpu"), args.probe)
    step()
    step()
    after = _status_kb(peak_field) if peak_field else None
    if after is None:
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_growth": (after - before) * 1024}))


def bench_device(device: torch.device, args: argparse.Namespace) -> list[dict]:
    load_before = os.getloadavg()[0]
    steps = {name: Step(build(name, args, device), args, device, name) for name in args.nets}
    for step in steps.values():  # warm-up (allocator, oneDNN/cuDNN kernels)
        for _ in range(args.warmup):
            step()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            sync(device)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            sync(device)
            times[name].append((time.perf_counter() - t0) / args.steps)
    rows = []
    load = (load_before, os.getloadavg()[0])
    for name, step in steps.items():
        rows.append({
            "load": load,
            "device": device.type,
            "net": name,
            "median_s": statistics.median(times[name]),
            "best_s": min(times[name]),
            "saved_mb": saved_activation_bytes(step) / 2**20,
        })
    del steps
    for row in rows:
        row["peak_mb"] = probe_peak(row["net"], args, device) / 2**20 if args.peak else None
    return rows


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    proc = platform.processor() or platform.machine()
    return f"{proc} / {os.cpu_count()} CPUs / {torch.get_num_threads()} torch threads (torch {torch.__version__})"


def render(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "# SuperNet speed: DARTS-V1 and GDAS steps vs the NB201 authors' networks (xautodl)",
        "",
        f"Config: batch {args.batch} (train) + {args.batch} (valid), C={args.channels}, N={args.cells}, 32x32, "
        f"partial_channels={args.partial_channels}; {args.repeats} alternating rounds of {args.steps} step(s) "
        f"after {args.warmup} warm-up step(s); every net in the same run, with the same step code. "
        f"Platform: {platform.platform()}, Python {platform.python_version()}.",
        "",
        "| device | machine | step: net | images/s (median) | step s (median / best) | speed-up vs baseline "
        "(median / best) | baseline | saved activations MB | peak memory MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        base_name = VARIANTS[row["net"]][3] or row["net"]
        base = next((r for r in rows if r["device"] == row["device"] and r["net"] == base_name), row)
        ips = 2 * args.batch / row["median_s"]
        peak = "-" if row["peak_mb"] is None else f"{row['peak_mb']:.1f}"
        lines.append(
            f"| {row['device']} | {row['machine']} | {row['net']} | {ips:.1f} | {row['median_s']:.3f} / "
            f"{row['best_s']:.3f} | {base['median_s'] / row['median_s']:.2f}x / {base['best_s'] / row['best_s']:.2f}x "
            f"| {base['net']} | {row['saved_mb']:.1f} | {peak} |"
        )
    loads = ", ".join(f"{d}: {a:.2f} -> {b:.2f}" for d, (a, b) in {r["device"]: r["load"] for r in rows}.items())
    lines += [
        "",
        f"1-minute load average before -> after the timed rounds ({loads}); a load above the core count "
        "means other processes shared the CPUs, which slows every net (rounds alternate between them, so the "
        "ratios hold better than the absolute times).",
        "",
        "Peak memory: CPU = RSS growth of a fresh process building the net and running two steps; "
        "CUDA = torch.cuda.max_memory_allocated over the same ('-': not measured, --no-peak). Saved activations "
        "= distinct storages autograd keeps from one training forward.",
        "",
    ]
    if args.note:
        lines += [args.note, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", default="auto", help="comma list of cpu,cuda; auto = cpu (+ cuda if present)")
    p.add_argument("--nets", default=",".join(DEFAULT_NETS),
                   help=f"comma list of variants (default: all but one); choose from: {'; '.join(VARIANTS)}")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--partial-channels", type=int, default=1)
    p.add_argument("--steps", type=int, default=1, help="steps per timed round")
    p.add_argument("--repeats", type=int, default=6, help="alternating timed rounds per net")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--no-peak", dest="peak", action="store_false", help="skip the peak-memory probes")
    p.add_argument("--note", default="", help="a sentence added under the table (e.g. that the machine was shared)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "supernet_speed.md")
    p.add_argument("--probe", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        run_probe(args)
        return 0
    args.nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    unknown = [n for n in args.nets if n not in VARIANTS]
    if unknown:
        p.error(f"unknown net(s) {unknown}")
    if not have_xautodl():
        print("xautodl is not installed (README: the reference extra): its rows are left out", file=sys.stderr)
        args.nets = [n for n in args.nets if not VARIANTS[n][1].startswith("xautodl")]
    names = ["cpu", "cuda"] if args.devices == "auto" else args.devices.split(",")
    devices = [torch.device(d) for d in names if d != "cuda" or torch.cuda.is_available()]
    rows = []
    for device in devices:
        device_rows = bench_device(device, args)
        for row in device_rows:
            row["machine"] = machine(device)
        rows += device_rows
        print(render(rows, args), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, args))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
