"""``toy-darts``: a third-party search method as a plugin author would write it.

DARTS-V1 whose architecture loss adds ``entropy_weight`` times the mean
entropy of the per-edge op probabilities (a push towards one-hot edges).
Registered through the entry point ``toy-darts`` of the group
``nasbench_sd.methods`` (see ../pyproject.toml); nothing is registered at
import time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext


@dataclass(frozen=True)
class ToyDartsConfig(MethodConfig):
    """Settings of toy-darts."""

    entropy_weight: float = 0.1  # weight of the mean op-entropy term in the arch loss (made up for the test)

    def __post_init__(self) -> None:
        if not self.entropy_weight >= 0:
            raise UserError(f"toy-darts entropy_weight must be >= 0, got {self.entropy_weight}")


class ToyDarts(ArchParamMethod):
    """First-order DARTS steps; the arch loss (valid half) gets the entropy penalty."""

    name = "toy-darts"
    description = "Test plugin: DARTS-V1 plus an entropy penalty on the op probabilities"
    paper = "none (test fixture of nasbench-sd)"
    Config = ToyDartsConfig
    ablation = {"entropy_weight": 0.0}
    ablation_equals = "darts-v1"

    def loss(self, logits: torch.Tensor, target: torch.Tensor, indices: torch.Tensor, half: str,
             ctx: SearchContext) -> torch.Tensor:
        """Cross-entropy, plus the entropy term on the valid half when the weight is > 0."""
        loss = F.cross_entropy(logits, target)
        if half == "valid" and self.config.entropy_weight > 0:
            p = F.softmax(self.alpha, dim=-1)
            loss = loss + self.config.entropy_weight * -(p * p.clamp_min(1e-12).log()).sum(-1).mean()
        return loss
