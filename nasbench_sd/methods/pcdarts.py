"""PC-DARTS on NAS-Bench-201: partial channel connections and edge normalisation.

Xu, Xie, Zhang, Chen, Qi, Tian, Xiong, "PC-DARTS: Partial Channel Connections
for Memory-Efficient Architecture Search", ICLR 2020.

Its authors published no NB201 code. This port is the usual one: on every
edge only the first C/k channels go through the mixed op, the other channels
bypass it, the two parts are concatenated and channel-shuffled (the
supernet's ``partial_channels=k``); edge normalisation multiplies each edge's
mixture by a softmax of betas over the edges entering the same node; the arch
step is first order. As in the authors' search script, the first
``arch_warmup`` epochs (15 of 50) train only the weights: alpha and the betas
start moving once the partial-channel weights have been trained.

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
from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext, accuracy
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
    # epochs of weight-only training before the first arch step (0-based epochs < arch_warmup);
    # PC-DARTS train_search.py: `if epoch >= 15: architect.step(...)`, of 50 epochs
    arch_warmup: int = 15

    def __post_init__(self) -> None:
        if self.partial_channels < 1:
            raise UserError(f"pc-darts partial_channels must be >= 1, got {self.partial_channels}")
        if self.arch_warmup < 0:
            raise UserError(f"pc-darts arch_warmup must be >= 0 epochs, got {self.arch_warmup}")

    def validate_for(self, search) -> None:
        if search.channels % self.partial_channels:
            raise UserError(f"pc-darts partial_channels ({self.partial_channels}) must divide "
                            f"channels ({search.channels})")
        if self.arch_warmup >= search.epochs:
            raise UserError(f"pc-darts arch_warmup ({self.arch_warmup}) must be < epochs ({search.epochs}), "
                            "else the architecture never moves (set method.arch_warmup)")


def normalize_betas(betas: torch.Tensor) -> torch.Tensor:
    """[6] edge weights: softmax of ``betas`` over the edges entering each node ([S, 6] for seed-batched betas)."""
    # slices (the ids of a node are consecutive), not a list index: that would copy an index tensor to the
    # device, a blocking copy that waits for the GPU, on every call
    return torch.cat([F.softmax(betas[..., ids[0]:ids[-1] + 1], dim=-1) for ids in NODE_EDGES], dim=-1)


class PCDarts(ArchParamMethod):
    """Partial channels (``supernet_options``) + edge normalisation; first-order steps.

    Supernet weights: ``w[e, o] = softmax(alpha[e])[o] * normalize_betas(betas)[e]``
    (just ``softmax(alpha)`` with edge normalisation off, betas then unused).
    The betas ([6], init 1e-3 * randn from the stream ``"beta-init"``) are
    optimised by the same Adam as alpha. In epochs ``< arch_warmup`` a step is
    the weight step only (alpha, betas and their Adam state stay as they are;
    the valid batch is only evaluated, without gradients, for the statistics).
    """

    name = "pc-darts"
    description = "PC-DARTS: partial-channel mixed ops with edge normalisation (NB201 port)"
    paper = ("Xu et al. PC-DARTS: Partial Channel Connections for Memory-Efficient Architecture Search. "
             "ICLR 2020")
    Config = PCDartsConfig
    ablation = {"partial_channels": 1, "edge_normalization": False}
    ablation_equals = "darts-v1"
    control_note = ("all channels, no edge normalisation: first-order DARTS with the same arch warm-up "
                    "(arch_warmup epochs of weight steps only) and protocol")
    contract_overrides = {"arch_warmup": 0}
    seed_batching = None
    sources = {
        "partial_channels": "PC-DARTS paper Sec. 4.2 (CIFAR-10: K = 4)",
        "edge_normalization": "PC-DARTS paper Sec. 3.3; on in all its CIFAR-10 searches",
        "arch_warmup": "PC-DARTS repo (yuhuixu1993/PC-DARTS), train_search.py: `if epoch>=15: "
                       "architect.step(...)` with --epochs 50",
    }
    deviations = (
        "No NB201 code by the authors: the shared settings are the NB201 protocol's (batch 64, SGD 0.025 "
        "with Nesterov and wd 5e-4, Adam 3e-4), not the DARTS-space script's (batch 256, SGD 0.1, wd 3e-4, "
        "Adam 6e-4), so that PC-DARTS is compared with the other rows under one protocol.",
        "Update order: weight step, then arch step (NB201 reference order, so that the ablation equals "
        "darts-v1 step for step); the authors' script steps the architecture first.",
        "The valid batch is the next batch of the valid half, not a fresh random batch drawn with "
        "replacement (`next(iter(valid_queue))` in the authors' script).",
    )

    @classmethod
    def preset_config(cls, preset: str, epochs: int) -> PCDartsConfig:
        """``paper``: the paper's values; scaled presets: the arch warm-up scaled from 15 of 50 epochs."""
        if preset == "paper":
            return PCDartsConfig()
        return PCDartsConfig(arch_warmup=cls.scale_epochs(15, epochs))

    def step(self, batch, ctx: SearchContext) -> dict:
        if ctx.epoch >= self.config.arch_warmup:
            return super().step(batch, ctx)
        stats = self.weight_step(batch, ctx)
        with torch.no_grad():
            logits = self.forward(batch.x_valid, ctx)
            loss = self.loss(logits, batch.y_valid, batch.idx_valid, "valid", ctx)
        stats.update(valid_loss=loss.detach(), valid_acc=accuracy(logits, batch.y_valid))
        return stats

    def __init__(self, config: MethodConfig | None = None, seed: int = 0, seeds: tuple[int, ...] | None = None):
        super().__init__(config, seed, seeds)

        def init(s: int) -> torch.Tensor:
            return 1e-3 * torch.randn(NUM_EDGES, generator=torch.Generator().manual_seed(derive_seed(s, "beta-init")))

        self.betas = self.per_seed(init).requires_grad_(True)

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
