"""PC-DARTS on NAS-Bench-201: partial channel connections and edge normalisation.

Xu, Xie, Zhang, Chen, Qi, Tian, Xiong, "PC-DARTS: Partial Channel Connections
for Memory-Efficient Architecture Search", ICLR 2020.

Its authors published no NB201 code. This port follows NB201-PROTOCOL.md ("the
usual port"): on every edge only the first C/k channels go through the mixed
op, the other channels bypass it, the two parts are concatenated and
channel-shuffled (the supernet's ``partial_channels=k``); edge normalisation
multiplies each edge's mixture by a softmax of betas over the edges entering
the same node; the arch step is first order.

Edge normalisation is folded into the op weights; the supernet scales the
bypassed channels of an edge by the sum of its weights (here the normalised
beta), so beta multiplies the whole edge output, bypass included, as in the
original DARTS-space code.

On NB201 every edge is kept (node j sums all of its inputs), so edge
normalisation re-weights the edges during the search but cannot change any
edge's argmax: the genotype is argmax alpha per edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nasbench_sd.cells import EDGES, NUM_EDGES, NUM_NODES
from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext
from nasbench_sd.seeding import derive_seed

#: Edge ids entering nodes 1, 2, 3: [[0], [1, 2], [3, 4, 5]] (consecutive in arch-string order).
NODE_EDGES: tuple[tuple[int, ...], ...] = tuple(
    tuple(e for e, (j, _) in enumerate(EDGES) if j == node) for node in range(1, NUM_NODES)
)


@dataclass(frozen=True)
class PCDartsConfig(MethodConfig):
    """PC-DARTS settings (paper Sec. 4.2 for CIFAR-10: K = 4, edge normalisation on)."""

    partial_channels: int = 4  # k: 1/k of the channels go through the mixed op
    edge_normalization: bool = True

    def __post_init__(self) -> None:
        if self.partial_channels < 1:
            raise UserError(f"pc-darts partial_channels must be >= 1, got {self.partial_channels}")

    def validate_for(self, search) -> None:
        if search.channels % self.partial_channels:
            raise UserError(f"pc-darts partial_channels ({self.partial_channels}) must divide "
                            f"channels ({search.channels})")


def normalize_betas(betas: torch.Tensor) -> torch.Tensor:
    """[6] edge weights: softmax of ``betas`` over the edges entering each node."""
    return torch.cat([F.softmax(betas[list(ids)], dim=-1) for ids in NODE_EDGES])


class PCDarts(ArchParamMethod):
    """Partial channels (``supernet_options``) + edge normalisation; first-order steps.

    Supernet weights: ``w[e, o] = softmax(alpha[e])[o] * normalize_betas(betas)[e]``
    (just ``softmax(alpha)`` with edge normalisation off, betas then unused).
    The betas ([6], init 1e-3 * randn from the stream ``"beta-init"``) are
    optimised by the same Adam as alpha.
    """

    name = "pc-darts"
    description = "PC-DARTS: partial-channel mixed ops with edge normalisation (NB201 port)"
    paper = ("Xu et al. PC-DARTS: Partial Channel Connections for Memory-Efficient Architecture Search. "
             "ICLR 2020")
    Config = PCDartsConfig
    ablation = {"partial_channels": 1, "edge_normalization": False}
    ablation_equals = "darts-v1"

    def __init__(self, config: MethodConfig | None = None, seed: int = 0):
        super().__init__(config, seed)
        init = torch.Generator().manual_seed(derive_seed(self.seed, "beta-init"))
        self.betas = (1e-3 * torch.randn(NUM_EDGES, generator=init)).requires_grad_(True)

    def supernet_options(self) -> dict[str, int]:
        return {"partial_channels": self.config.partial_channels}

    def extra_arch_parameters(self) -> list[torch.Tensor]:
        return [self.betas]

    def setup(self, ctx: SearchContext) -> None:
        with torch.no_grad():
            self.betas = self.betas.detach().to(ctx.device).requires_grad_(True)
        super().setup(ctx)

    def edge_weights(self, training: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        weights = F.softmax(self.alpha, dim=-1)
        if self.config.edge_normalization:
            weights = weights * normalize_betas(self.betas).unsqueeze(-1)
        return weights, None
