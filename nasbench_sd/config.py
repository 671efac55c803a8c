"""Frozen, typed configuration of a search, its presets and ``--set`` overrides.

Every default lives here with its unit and source. A run is fully described by
a :class:`RunConfig` (method name, seed, preset name, the shared
:class:`SearchConfig` and the method's own config), which is saved as
``config.json`` next to every result.

A field added later must default to what the code did before it existed: a
saved configuration that lacks a field reads as that default
(:func:`nasbench_sd.presets.with_defaults`), so runs made before the field stay
the same runs. Resolving a preset for a method and comparing saved
configurations need the method registry: they live one floor up, in
:mod:`nasbench_sd.presets`.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from nasbench_sd.errors import UserError

PRESETS = ("paper", "cpu", "proxy", "arena")
#: ``compile_mode`` values: torch.compile's modes, and ``eager`` (its ``backend="eager"``).
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "eager")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


@dataclass(frozen=True)
class SearchConfig:
    """Settings shared by every method (the NB201 reference search configs;
    :data:`SEARCH_SOURCES` names the source of every ``paper`` value)."""

    # data
    dataset: str = "cifar10"  # search data set (cifar10 | cifar100 | imagenet16-120)
    split: str = "official"  # official (cifar-split.txt halves) | darts-half (first/last 25k)
    train_limit: int = 0  # samples kept per half; 0 = all (25,000 each for CIFAR-10)
    batch_size: int = 64  # one train + one valid batch per step (NB201 reference)
    # True: every step has batch_size samples (static shapes, for graph capture); the last partial batch
    # of each epoch is dropped. False: it is kept, as the NB201 reference's DataLoader does
    drop_last: bool = False
    # supernet
    channels: int = 16  # C of the first stage (NB201: 16)
    cells_per_stage: int = 5  # N (NB201: 5)
    # schedule
    epochs: int = 50  # search epochs (NB201 DARTS configs: 50)
    # weights: SGD, cosine from w_lr to w_lr_min, set once per epoch (NB201 reference configs)
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_nesterov: bool = True
    w_weight_decay: float = 5e-4
    grad_clip: float = 5.0  # max global grad norm of the weights; 0 = off
    # architecture: Adam (DARTS / SD-DARTS Sec. 4.1)
    a_lr: float = 3e-4
    a_beta1: float = 0.5
    a_beta2: float = 0.999
    a_weight_decay: float = 1e-3
    # diagnostics (not part of a run's identity: see DIAGNOSTICS)
    hessian_every: int = 0  # epochs between exact Hessian eigenvalues (30 Hessian-vector products); 0 = never
    # fixed valid samples the Hessian is taken on: one search batch (64) keeps an estimate at about
    # the cost of an epoch of the cpu preset (benchmarks/hessian_cost.py); our choice
    hessian_samples: int = 64
    # speed (meant for CUDA; both are recorded with the config of every result)
    amp: str = "off"  # off | bf16: autocast the search steps to bfloat16
    compile: bool = False  # torch.compile the supernet
    # torch.compile's mode when compile is on: default | reduce-overhead (CUDA graphs; needs drop_last=true
    # for one graph per epoch) | max-autotune | eager (TorchDynamo's tracing only: checks for graph breaks, no
    # speed-up). A field added after `compile`: saved configurations without it ran torch.compile's default
    compile_mode: str = "default"
    # lookup
    # per-epoch lookups use the bundled NB201 v1_1 table (offline); re-query a final
    # cell with the official APIs via `nasbench-sd query --benchmark nb201|nats`
    benchmark: str = "table"

    def __post_init__(self) -> None:
        _check(self.dataset in ("cifar10", "cifar100", "imagenet16-120"),
               f"unknown data set {self.dataset!r} (choose from cifar10, cifar100, imagenet16-120)")
        _check(self.split in ("official", "darts-half"), f"unknown split {self.split!r} (official, darts-half)")
        _check(self.train_limit >= 0, "train_limit must be >= 0 (0 = all samples)")
        _check(self.batch_size >= 1, "batch_size must be >= 1")
        _check(self.channels >= 1 and self.cells_per_stage >= 1, "channels and cells_per_stage must be >= 1")
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _check(self.w_lr > 0 and 0 <= self.w_lr_min <= self.w_lr, "need 0 <= w_lr_min <= w_lr and w_lr > 0")
        _check(0 <= self.w_momentum < 1, "w_momentum must be in [0, 1)")
        _check(self.w_weight_decay >= 0 and self.a_weight_decay >= 0, "weight decay must be >= 0")
        _check(self.grad_clip >= 0, "grad_clip must be >= 0")
        _check(self.a_lr > 0, "a_lr must be > 0")
        _check(0 <= self.a_beta1 < 1 and 0 <= self.a_beta2 < 1, "a_beta1 and a_beta2 must be in [0, 1)")
        _check(self.hessian_every >= 0 and self.hessian_samples >= 1,
               "hessian_every must be >= 0 and hessian_samples >= 1")
        _check(self.amp in ("off", "bf16"), f"unknown amp mode {self.amp!r} (off, bf16)")
        _check(self.compile_mode in COMPILE_MODES,
               f"unknown compile_mode {self.compile_mode!r} ({', '.join(COMPILE_MODES)})")
        _check(self.benchmark == "table", f"unknown search-time benchmark {self.benchmark!r} (only 'table'; "
               "re-query final cells with `nasbench-sd query --benchmark nb201|nats`)")


#: The paper protocol (NB201 reference settings, CIFAR-10, 50 epochs, batch 64).
PAPER = SearchConfig()

_CFG = "NB201 reference, AutoDL-Projects configs/nas-benchmark/algos/DARTS.config"
_SH = "NB201 reference, AutoDL-Projects scripts-search/NAS-Bench-201-algos/DARTS-V1.sh"
#: Where each ``paper`` value of :class:`SearchConfig` comes from (shown by
#: ``nasbench-sd methods --show NAME``; a method's own changes cite its ``sources``).
SEARCH_SOURCES: dict[str, str] = {
    "dataset": "SD-DARTS Sec. 4.4 / Table 4 and the NB201 paper: the search runs on CIFAR-10",
    "split": "NB201 reference: the halves of configs/nas-benchmark/cifar-split.txt (25k train / 25k valid)",
    "train_limit": "NB201 reference: every sample of each half (0 = all)",
    "batch_size": f"{_CFG}: batch_size 64",
    "drop_last": ("NB201 reference, xautodl get_nas_search_loaders: DataLoader(shuffle=True) without drop_last, "
                  "so the last batch of an epoch is partial (25,000 = 390 x 64 + 40); drop_last=true drops it "
                  "(static shapes)"),
    "channels": f"{_SH}: channel=16",
    "cells_per_stage": f"{_SH}: num_cells=5",
    "epochs": f"{_CFG}: epochs 50, warmup 0",
    "w_lr": f"{_CFG}: LR 0.025, scheduler cos (set once per epoch by the search script)",
    "w_lr_min": f"{_CFG}: eta_min 0.001",
    "w_momentum": f"{_CFG}: momentum 0.9",
    "w_nesterov": f"{_CFG}: nesterov 1",
    "w_weight_decay": f"{_CFG}: decay 0.0005",
    "grad_clip": "NB201 reference, exps/NAS-Bench-201-algos/DARTS-V1.py: --gradient_clip 5 (global norm)",
    "a_lr": f"{_SH}: --arch_learning_rate 0.0003 (DARTS; SD-DARTS Sec. 4.1)",
    "a_beta1": "NB201 reference DARTS-V1.py: Adam betas (0.5, 0.999) (DARTS)",
    "a_beta2": "NB201 reference DARTS-V1.py: Adam betas (0.5, 0.999) (DARTS)",
    "a_weight_decay": f"{_SH}: --arch_weight_decay 0.001 (DARTS; SD-DARTS Sec. 4.1)",
    "hessian_every": "diagnostic (SD-DARTS Fig. 2); off unless asked for",
    "hessian_samples": "diagnostic; our choice (one search batch)",
    "amp": "speed option of this toolkit (off: float32, as the references)",
    "compile": "speed option of this toolkit (off)",
    "compile_mode": "speed option of this toolkit (torch.compile's default mode; used only with compile=true)",
    "benchmark": "this toolkit: the bundled NB201 v1_1 table at hp=200 (SD-DARTS Table 4 protocol)",
}

#: Diagnostic settings: they change no result, so runs that differ only in them are the
#: same run (run directories, experiments, manifests and tables ignore them).
#: ``hessian_iters`` is the power-iteration count of configurations saved before the exact Hessian.
DIAGNOSTICS: tuple[str, ...] = ("hessian_every", "hessian_samples", "hessian_iters")

#: Settings the scaled presets (``cpu``, ``proxy``) set themselves; a method's
#: ``preset_search_overrides`` changes them only under ``paper``. A scaled preset's
#: ``epochs`` are those of a 50-epoch (NB201 DARTS) protocol: a method whose paper runs
#: E epochs gets ``round(epochs * E / 50)`` (:func:`scaled_epochs`), so every method
#: runs the same fraction of its own paper budget.
SCALE_FIELDS: tuple[str, ...] = ("epochs", "channels", "cells_per_stage", "train_limit")
#: A CPU preset: a smoke scale on which one search of a 50-epoch method takes
#: about a minute on one core (benchmarks/results/cpu_preset_time.md). Channels
#: (16 -> 8), cells per stage (5 -> 1), samples per half (25,000 -> 384) and
#: epochs (50 -> 10) are scaled down together; methods scale their epoch-based
#: settings (warm-up, K, ...) by epochs / (their paper's epochs) and keep their
#: paper's other changes (weight decay, ...). 384 (6 batches of 64) rather than
#: the 768 of issue 13's measurements: with every method on 1/5 of its own paper
#: budget, the 100- and 250-epoch methods (SNAS, DrNAS, beta-DARTS, RSPS) took
#: 150-300 s at 768, over the 2-minute target of a smoke run. With 60 instead
#: of 19,550 architecture steps, the Adam learning rate of alpha is raised from
#: 3e-4 to 1e-2 so that the op probabilities move visibly (at 3e-4 they stay
#: within 0.19-0.21 and the derived cell is noise).
CPU = SearchConfig(channels=8, cells_per_stage=1, train_limit=384, epochs=10, a_lr=1e-2)

#: A CPU proxy of the NB201 search (not Table 4): the NB201 depth (N=5) at 8
#: channels on the first 512 samples of each official half, 40 epochs (4/5 of
#: each method's paper budget), alpha's Adam learning rate 3e-3 (10x the paper's,
#: for 320 instead of 19,550 architecture steps). Chosen by the sweep in
#: benchmarks/results/proxy_sweep.md: the cheapest setting on which DARTS-V1 ends
#: with at least 4 parameter-free ops on most seeds and those ops are skip
#: connections, as in the paper's collapse (3 of 5 seeds there reached the
#: all-skip cell of the paper's DARTS rows).
PROXY = SearchConfig(channels=8, cells_per_stage=5, train_limit=512, epochs=40, a_lr=3e-3)

#: A CPU scale meant for comparing methods (issue 26, item 3): 3 cells per stage at 8 channels,
#: the first 768 samples of each official half (12 steps per epoch), 30 epochs for a 50-epoch
#: method, alpha's Adam lr 1e-2: steps x a_lr = 360 x 1e-2 = 3.6, 0.61x the paper's arch-update
#: budget 19,550 x 3e-4 = 5.9 (proxy 0.16x, cpu 0.10x). Chosen by the sweep in
#: benchmarks/results/arena_sweep.md as the CLOSEST setting, not a qualifying one: no swept
#: setting met all three criteria (every dense method converged on >= 4 of 5 seeds; DARTS-V1
#: skip-dominated on most seeds; a DARTS-V1 search <= 10 minutes on one core). This one is the
#: only setting on which DARTS-V1 meets the last two (skip-dominated on 3 of 5 seeds, 5.5 min timed
#: alone); PC-DARTS, DARTS- (2 of 5 seeds) and SNAS do not converge on it, and their rows say so
#: (the convergence columns). The proxy fails convergence on five methods and takes 15 min per
#: DARTS-V1 search; the other settings lose DARTS-V1's skip collapse (higher a_lr, 2 cells).
ARENA = SearchConfig(channels=8, cells_per_stage=3, train_limit=768, epochs=30, a_lr=1e-2)

#: The scaled presets by name.
SCALED: dict[str, SearchConfig] = {"cpu": CPU, "proxy": PROXY, "arena": ARENA}


def budget_fraction(preset: str) -> float:
    """The fraction of every method's paper search epochs a preset runs (1.0 for ``paper``)."""
    return 1.0 if preset == "paper" else SCALED[preset].epochs / PAPER.epochs


def scaled_epochs(preset: str, paper_epochs: int) -> int:
    """Search epochs of a method whose paper runs ``paper_epochs`` under ``preset``:
    the same fraction of its budget as every other method (at least 1)."""
    return paper_epochs if preset == "paper" else max(1, round(paper_epochs * budget_fraction(preset)))


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run (saved as ``config.json``)."""

    method: str
    seed: int
    preset: str
    search: SearchConfig
    method_config: Any  # the method's frozen MethodConfig
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "seed": self.seed,
            "preset": self.preset,
            "device": self.device,
            "search": dataclasses.asdict(self.search),
            "method_config": dataclasses.asdict(self.method_config),
        }

    def comparable(self) -> dict[str, Any]:
        """The fields two runs must share to be the same run (device excluded)."""
        d = self.to_dict()
        d.pop("device")
        return d


def parse_sets(items: typing.Iterable[str]) -> dict[str, str]:
    """``["epochs=3", "method.lam=0.5"]`` -> ``{"epochs": "3", "method.lam": "0.5"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _convert(cls_name: str, f: dataclasses.Field, text: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    kind = kind.replace(" ", "")
    try:
        if kind == "bool":
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "str":
            return text
        if kind.startswith("tuple[float"):
            return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"{cls_name}.{f.name} expects {kind}, got {text!r}") from None
    raise UserError(f"{cls_name}.{f.name} cannot be set from the command line")


def apply_overrides(obj: Any, overrides: dict[str, str]) -> Any:
    """A copy of the frozen dataclass ``obj`` with string overrides converted to
    the field types; unknown keys raise :class:`UserError` naming the choices."""
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes = {}
    for key, text in overrides.items():
        if key not in fields:
            raise UserError(f"unknown setting {key!r} for {type(obj).__name__} (known: {', '.join(fields)})")
        changes[key] = _convert(type(obj).__name__, fields[key], text)
    return dataclasses.replace(obj, **changes)


__all__ = ["ARENA", "CPU", "DIAGNOSTICS", "PAPER", "PRESETS", "PROXY", "SCALED", "SCALE_FIELDS", "SEARCH_SOURCES",
           "RunConfig", "SearchConfig", "apply_overrides", "budget_fraction", "parse_sets", "scaled_epochs"]
