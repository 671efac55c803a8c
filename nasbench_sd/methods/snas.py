"""SNAS as it was run on NAS-Bench-201: dense Gumbel-softmax mixing with a temperature.

Xie, Zheng, Liu, Lin, "SNAS: Stochastic Neural Architecture Search", ICLR 2019.
The published NB201 row (92.77 / 69.34 / 43.16 test) comes from the DrNAS
authors' re-implementation (xiangning-chen/DrNAS, ``201-space/train_search.py
--method snas``), not from SNAS's authors, and this is the variant implemented
here (METHODS.md Sec. 2): DARTS-V1 whose supernet weights are
``softmax((alpha + g) / tau)`` with fresh Gumbel noise ``g`` per forward pass,
all ops computed (soft, dense), tau falling from 10 by 9/E per epoch. The
original SNAS (single-level, tau 1 -> 0.03, resource term) is another
algorithm and is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import MethodConfig
from nasbench_sd.methods.drnas_protocol import (
    DRNAS_FAMILY_DEVIATIONS,
    DRNAS_FAMILY_SOURCES,
    drnas_family_overrides,
)
from nasbench_sd.methods.gumbel_base import GumbelTemperatureMethod
from nasbench_sd.methods.sampling import linear_anneal


@dataclass(frozen=True)
class SNASConfig(MethodConfig):
    """SNAS on NB201 (DrNAS 201-space/train_search.py --method snas unless noted)."""

    tau_max: float = 10.0  # initial temperature (DrNAS --tau_max 10)
    tau_min: float = 1.0  # temperature the schedule heads for, never reached (DrNAS --tau_min 1)
    noise: bool = True  # Gumbel noise on the logits (off = deterministic softmax, for the ablation)
    arch_first: bool = True  # arch step before the weight step (DrNAS train(): architect.step, then w)

    def __post_init__(self) -> None:
        if not 0 < self.tau_min <= self.tau_max:
            raise UserError(f"snas needs 0 < tau_min <= tau_max, got {self.tau_min}, {self.tau_max}")


class SNAS(GumbelTemperatureMethod):
    """Soft Gumbel-softmax mixing (dense supernet), first-order bilevel steps.

    :meth:`edge_weights` (training) = ``softmax((alpha + g) / tau)`` row-wise,
    ``g`` a [6, 5] Gumbel sample from the method's own CPU generator (stream
    ``"snas-gumbel"``), one fresh draw per forward pass (so the arch and the
    weight step see different samples), shared by all cells. Not training:
    ``softmax(alpha / tau)`` (no draw). :meth:`on_epoch_start` sets
    ``tau = tau_max - (tau_max - tau_min) * epoch / epochs`` (10, 9.91, ...,
    1.09 for 100 epochs; the schedule's length follows ``epochs`` under every
    preset). Genotype: argmax alpha. With ``noise=False``, ``tau_max =
    tau_min = 1`` and ``arch_first=False`` every step equals ``darts-v1``.
    """

    name = "snas"
    description = "SNAS (NB201 port by the DrNAS authors): dense Gumbel-softmax mixing, tau 10 -> 1"
    paper = "Xie, Zheng, Liu, Lin. SNAS: Stochastic Neural Architecture Search. ICLR 2019"
    Config = SNASConfig
    gumbel_stream = "snas-gumbel"
    ablation = {"noise": False, "tau_max": 1.0, "tau_min": 1.0, "arch_first": False}
    ablation_equals = "darts-v1"
    control = {"noise": False, "tau_max": 1.0, "tau_min": 1.0}
    control_note = ("no Gumbel noise, tau = 1: softmax(alpha) mixing (first-order DARTS) in SNAS's own order "
                    "(arch first) and DrNAS-code protocol (weight decay, Nesterov, split, epochs)")
    seed_batching = None
    sources: ClassVar[dict[str, str]] = {
        "tau_max": "DrNAS repo, 201-space/train_search.py, --tau_max 10",
        "tau_min": "DrNAS repo, 201-space/train_search.py, --tau_min 1 (tau -= 9/epochs after each epoch)",
        "noise": "DrNAS repo, utils.py process_step_vector: F.gumbel_softmax(alpha, tau, hard=False)",
        "arch_first": "DrNAS repo, 201-space/train_search.py train(): architect.step before the weight step",
        **DRNAS_FAMILY_SOURCES,
    }
    deviations: ClassVar[tuple[str, ...]] = (
        "the published NB201 row is the DrNAS authors' re-implementation; the original SNAS (single-level, "
        "tau 1 -> 0.03, resource penalty) is not implemented",
        *DRNAS_FAMILY_DEVIATIONS,
    )

    @classmethod
    def preset_search_overrides(cls, preset: str) -> dict[str, Any]:
        """100 epochs (paper), weight decay 3e-4 and no Nesterov (every preset)."""
        return drnas_family_overrides(preset)

    def arch_first(self) -> bool:
        return bool(self.config.arch_first)

    def tau_at(self, epoch: int, epochs: int) -> float:
        """``tau_max - (tau_max - tau_min) * epoch / epochs``."""
        return linear_anneal(self.config.tau_max, self.config.tau_min, epoch, epochs)

    def edge_weights(self, training: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.alpha
        if training and self.config.noise:
            noise = self.gumbel_like_alpha()
            logits = logits + noise.to(self.alpha.device, non_blocking=True)  # no wait for the GPU
        return F.softmax(logits / self.tau, dim=-1), None
