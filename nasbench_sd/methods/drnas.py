"""DrNAS: architecture mixing weights sampled from a Dirichlet distribution.

Chen, Wang, Cheng, Tang, Hsieh, "DrNAS: Dirichlet Neural Architecture Search",
ICLR 2021. Follows the authors' NB201 code, ``201-space/train_search.py``
(``--method dirichlet``), which produced the published NB201 numbers (the
progressive variant, ``train_search_progressive.py``, was not used on NB201:
DrNAS issue #8; it is not offered). METHODS.md Sec. 7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext
from nasbench_sd.methods.drnas_protocol import (
    DRNAS_FAMILY_DEVIATIONS,
    DRNAS_FAMILY_SOURCES,
    drnas_family_overrides,
)
from nasbench_sd.methods.sampling import dirichlet_kl_to_uniform, dirichlet_rsample, owned_generator
from nasbench_sd.seeding import derive_seed

DISTRIBUTIONS = ("dirichlet", "softmax")
REG_TYPES = ("l2", "kl")


@dataclass(frozen=True)
class DrNASConfig(MethodConfig):
    """DrNAS on NB201 (DrNAS 201-space/train_search.py defaults unless noted)."""

    distribution: str = "dirichlet"  # dirichlet (--method dirichlet) | softmax (DARTS mixing, for ablation)
    # l2: the anchor regulariser is the arch Adam's weight decay, reg_scale (DrNAS --reg_scale 1e-3 with
    # --reg_type l2, the default; architect.py: Adam(weight_decay=reg_scale)); kl: reg_scale * sum_e
    # KL(Dir(c_e) || Dir(1)) is added to the arch loss and the arch Adam's weight decay is 0 (DrNAS architect.py)
    reg_type: str = "l2"
    reg_scale: float = 1e-3  # l2: alpha's Adam weight decay; kl: weight of the KL term (DrNAS --reg_scale 1e-3)
    arch_first: bool = True  # arch step before the weight step (DrNAS train(): architect.step, then w)

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise UserError(f"unknown drnas distribution {self.distribution!r} "
                            f"(choose from {', '.join(DISTRIBUTIONS)})")
        if self.reg_type not in REG_TYPES:
            raise UserError(f"unknown drnas reg_type {self.reg_type!r} (choose from {', '.join(REG_TYPES)})")
        if self.reg_type == "kl" and self.distribution != "dirichlet":
            raise UserError("drnas reg_type 'kl' needs distribution 'dirichlet' (DrNAS: kl is for dirichlet only)")
        if not self.reg_scale >= 0:
            raise UserError(f"drnas reg_scale must be >= 0, got {self.reg_scale}")

    def validate_for(self, search) -> None:
        if self.reg_type == "l2" and search.a_weight_decay != self.reg_scale:
            raise UserError(f"drnas with reg_type l2 uses reg_scale ({self.reg_scale}) as alpha's weight decay "
                            f"(DrNAS architect.py), not a_weight_decay ({search.a_weight_decay}): set "
                            "method.reg_scale instead, or both to the same value")


class DrNAS(ArchParamMethod):
    """Dirichlet-sampled mixing weights (dense supernet), first-order bilevel steps.

    :meth:`edge_weights` (training) = one reparameterised sample
    ``theta_e ~ Dirichlet(ELU(alpha_e) + 1)`` per edge and forward pass
    (:func:`~nasbench_sd.methods.sampling.dirichlet_rsample`, a fresh draw for
    the arch and for the weight step), shared by all cells, drawn from the
    method's own generator (stream ``"dirichlet"``, on the run's device, saved
    in the state; resume on the same device type). Not training (plots,
    Hessian): the Dirichlet mean ``c / sum(c)``, which has the same argmax as
    alpha (the genotype). ``reg_type="l2"`` (default) sets the arch Adam's
    weight decay to ``reg_scale`` (the reference's; a run whose
    ``a_weight_decay`` differs is refused rather than silently overridden).
    ``reg_type="kl"`` adds ``reg_scale * KL`` to the
    valid loss (reported as ``kl_reg``; ``valid_loss`` stays the
    cross-entropy) and sets the arch weight decay to 0. With
    ``distribution="softmax"`` and ``arch_first=False`` every step equals
    ``darts-v1``.
    """

    name = "drnas"
    description = "DrNAS: Dirichlet-sampled mixing weights with pathwise gradients (NB201 train_search.py)"
    paper = ("Chen, Wang, Cheng, Tang, Hsieh. DrNAS: Dirichlet Neural Architecture Search. ICLR 2021 "
             "(arXiv 2006.10355)")
    Config = DrNASConfig
    ablation = {"distribution": "softmax", "arch_first": False}
    ablation_equals = "darts-v1"
    control = {"distribution": "softmax"}
    control_note = ("distribution = softmax: softmax(alpha) mixing (first-order DARTS) in DrNAS's order (arch "
                    "first), with its regulariser (alpha's weight decay reg_scale in l2 mode) and DrNAS-code "
                    "protocol")
    seed_batching = None
    sources: ClassVar[dict[str, str]] = {
        "distribution": "DrNAS repo, 201-space/train_search.py, --method dirichlet (ELU(alpha)+1 concentration)",
        "reg_type": "DrNAS repo, 201-space/train_search.py, --reg_type l2",
        "reg_scale": "DrNAS repo (xiangning-chen/DrNAS @ f2caa4d), 201-space/train_search.py line 59, "
                     "--reg_scale 1e-3; architect.py lines 17-22: Adam weight_decay = reg_scale in l2 mode, 0 in kl",
        "arch_first": "DrNAS repo, 201-space/train_search.py train(): architect.step before the weight step",
        **DRNAS_FAMILY_SOURCES,
    }
    deviations: ClassVar[tuple[str, ...]] = (
        "Dirichlet draws come from the method's own generator instead of the global RNG (same sampler "
        "and gradient as torch.distributions.Dirichlet.rsample)",
        *DRNAS_FAMILY_DEVIATIONS,
    )

    def __init__(self, config: MethodConfig | None = None, seed: int = 0, seeds: tuple[int, ...] | None = None):
        super().__init__(config, seed, seeds)
        self.generator = owned_generator(derive_seed(self.seed, "dirichlet"))
        #: seed-batched: each seed's own generator (``generator`` is then the first seed's)
        self.generators = [owned_generator(derive_seed(s, "dirichlet")) for s in self.seeds or ()]

    @classmethod
    def preset_search_overrides(cls, preset: str) -> dict[str, Any]:
        """100 epochs (paper), weight decay 3e-4 and no Nesterov (every preset)."""
        return drnas_family_overrides(preset)

    def arch_first(self) -> bool:
        return bool(self.config.arch_first)

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        if ctx.device.type != self.generator.device.type:
            self.generator = owned_generator(derive_seed(self.seed, "dirichlet"), ctx.device)
            self.generators = [owned_generator(derive_seed(s, "dirichlet"), ctx.device) for s in self.seeds or ()]
        decay = self.config.reg_scale if self.config.reg_type == "l2" else 0.0  # DrNAS architect.py
        for group in self.a_optimizer.param_groups:
            group["weight_decay"] = decay

    def concentration(self) -> torch.Tensor:
        """``ELU(alpha) + 1`` (> 0; 1 at alpha = 0, the uniform Dirichlet)."""
        return F.elu(self.alpha) + 1

    def edge_weights(self, training: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.config.distribution == "softmax":
            return F.softmax(self.alpha, dim=-1), None
        c = self.concentration()
        if not training:
            return c / c.sum(-1, keepdim=True), None
        if self.seeds is None:
            return dirichlet_rsample(c, self.generator), None
        return torch.stack([dirichlet_rsample(c[i], g) for i, g in enumerate(self.generators)]), None

    def objective(self, x: torch.Tensor, target: torch.Tensor, indices: torch.Tensor, half: str,
                  ctx: SearchContext) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        loss, logits, extra = super().objective(x, target, indices, half, ctx)
        if half == "valid" and self.config.reg_type == "kl":
            kl = dirichlet_kl_to_uniform(self.concentration())
            extra = {**extra, "valid_loss": loss.detach(), "kl_reg": kl.detach()}
            loss = loss + self.config.reg_scale * kl
        return loss, logits, extra

    def op_probabilities(self) -> torch.Tensor:
        return self.edge_weights(training=False)[0].detach().cpu()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["dirichlet_rng"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state["dirichlet_rng"])

    def seed_state_dict(self, index: int) -> dict[str, Any]:
        return {**super().seed_state_dict(index), "dirichlet_rng": self.generators[index].get_state()}

    def load_seed_state_dict(self, index: int, state: dict[str, Any]) -> None:
        super().load_seed_state_dict(index, state)
        self.generators[index].set_state(state["dirichlet_rng"])

    def seed_view(self, index: int) -> DrNAS:
        """A plain instance with seed ``index``'s architecture (not its generator, which may
        live on the GPU: a view never draws)."""
        view = DrNAS(self.config, self.seeds[index])
        ArchParamMethod.load_state_dict(view, self.seed_state_dict(index))
        return view
