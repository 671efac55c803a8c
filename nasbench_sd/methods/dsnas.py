"""DSNAS: one sampled op per edge, credit-weighted score-function gradient for alpha.

Hu, Xie, Zheng, Liu, Shi, Liu, Lin, "DSNAS: Direct Neural Architecture Search
without Parameter Retraining", CVPR 2020. No NB201 code of DSNAS exists; the
published NB201 row (89.66 / 93.08 / 30.87 / 31.01 / 40.61 / 41.07) comes from
the DrNAS authors' unreleased re-implementation (METHODS.md Sec. 3). The
update follows the DSNAS authors' CIFAR code (SNAS-Series
``Analysis/snas/train_search.py --dsnas``), ported to the NB201 cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from nasbench_sd.cells import NUM_OPS
from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext, accuracy
from nasbench_sd.methods.drnas_protocol import DRNAS_FAMILY_SOURCES, drnas_family_overrides
from nasbench_sd.methods.sampling import categorical_sample, gumbel_noise
from nasbench_sd.seedbatch import SINGLE_PATH
from nasbench_sd.seeding import derive_seed

LEVELS = ("single", "bilevel")
HALVES = ("train", "both")
_SNAS = "SNAS-Series (@ 9a43adb) Analysis/snas/train_search.py"


@dataclass(frozen=True)
class DSNASConfig(MethodConfig):
    """DSNAS settings (SNAS-Series Analysis/snas/train_search.py --dsnas unless noted)."""

    # single: one train batch gives both the weight and the arch gradient (DSNAS paper and author code);
    # bilevel: weights on the train batch, alpha on the valid batch (what the DrNAS authors' NB201
    # re-implementation may have done: unknown, METHODS.md Sec. 3(g))
    level: str = "single"
    # single level only: the data it trains on. train = the step's train batch (the train half; what runs made
    # before this field did); both = the train batch, then the valid batch (both halves: the full training set
    # once per epoch, as the authors' code trains on all of CIFAR-10's training images; every preset)
    halves: str = "train"
    credit_clip: float = 5.0  # clamp of the credit dL/dZ to [-5, 5] (Analysis code); 0 = off
    alpha_grad_clip: float = 10.0  # max norm of alpha's gradient (Analysis code); 0 = off

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise UserError(f"unknown dsnas level {self.level!r} (choose from {', '.join(LEVELS)})")
        if self.halves not in HALVES:
            raise UserError(f"unknown dsnas halves {self.halves!r} (choose from {', '.join(HALVES)})")
        if self.halves == "both" and self.level != "single":
            raise UserError("dsnas halves=both is single-level training on both halves; bilevel needs the valid "
                            "half for alpha (set halves=train)")
        if not (self.credit_clip >= 0 and self.alpha_grad_clip >= 0):
            raise UserError("dsnas credit_clip and alpha_grad_clip must be >= 0 (0 = off)")


def credit_gradient(credit: torch.Tensor, active: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """DSNAS's alpha gradient ``c_e * (onehot(s_e) - p_e)`` per edge: the score
    function ``grad_alpha log p_e[s_e]`` of softmax probabilities ``probs`` ([E, K]),
    weighted by the credit ``c_e`` ([E]) of the sampled op ``s_e`` (``active``)."""
    return credit.unsqueeze(-1) * (F.one_hot(active, probs.shape[-1]).to(probs.dtype) - probs)


class DSNAS(ArchParamMethod):
    """One op per edge sampled from ``softmax(alpha)``; alpha learns from its credit.

    Per step (``level="single"``): draw ``s_e ~ Categorical(softmax(alpha_e))``
    by Gumbel-max from the method's own CPU generator (stream
    ``"dsnas-sample"``), one sample shared by all cells; build the one-hot
    leaf ``Z`` ([6, 5], requires grad) and run the train batch through the
    supernet's sampled mode with ``weights=Z, active=s``. This uses the
    supernet's general gate capability: in sampled mode the active op's output
    is multiplied by ``weights[e, s_e]`` in every cell, so ``Z.grad[e, s_e]`` is
    the credit ``c_e = dL/dZ_{e, s_e}`` summed over the cells (the other
    entries of ``Z.grad`` belong to the straight-through scalars and are
    ignored; a sampled ``none`` has credit 0). One backward gives the weight
    gradients and the credits; ``alpha.grad = clamp(c, +-credit_clip) *
    (onehot(s) - softmax(alpha))`` (:func:`credit_gradient`), clipped to norm
    ``alpha_grad_clip``; then the weight SGD step (grad-clipped) and the alpha
    Adam step. The valid statistics are those of the same child on the valid
    batch (no gradient). ``halves="both"`` (every preset): then a second such
    single-level update with a second child on the valid batch, so that an epoch
    trains on both halves (the authors' full training set, two updates per loop
    step, each of ``batch_size`` images); the valid statistics are that update's
    (its loss before the update, a training loss). ``level="bilevel"``: a weight step on the train batch
    with one sample, then an arch step with the credit of a new sample on the
    valid batch. No setting reduces DSNAS to DARTS-V1 (``ablation = None``).
    """

    name = "dsnas"
    description = "DSNAS: single-path sampling, alpha by credit-weighted score function (NB201 port)"
    paper = ("Hu, Xie, Zheng, Liu, Shi, Liu, Lin. DSNAS: Direct Neural Architecture Search without "
             "Parameter Retraining. CVPR 2020")
    Config = DSNASConfig
    sources: ClassVar[dict[str, str]] = {
        "level": "DSNAS paper / SNAS-Series Analysis/snas/train_search.py --dsnas: single level",
        "halves": f"{_SNAS} line 346: train_data = the whole CIFAR-10 training set (50k), lines 363-366: one "
                  "shuffled train_queue over it, line 489: every step trains on it (the valid_queue, line 368, "
                  "is the test set, for evaluation only): single level on the full training set = both halves",
        "credit_clip": "SNAS-Series Analysis/snas/train_search.py: credit clamped to [-5, 5]",
        "alpha_grad_clip": "SNAS-Series Analysis/snas/train_search.py: alpha grad norm clipped to 10",
        **{k: f"guess (the DSNAS NB201 protocol is unpublished): as SNAS/DrNAS, {v}"
           for k, v in DRNAS_FAMILY_SOURCES.items()},
    }
    seed_batching = SINGLE_PATH
    deviations: ClassVar[tuple[str, ...]] = (
        "no public NB201 code: the published row is the DrNAS authors' unreleased re-implementation, whose "
        "level (single or bilevel) and settings are unknown; the paper preset guesses the DrNAS code's "
        "settings (100 epochs, wd 3e-4, no Nesterov)",
        "alpha init 1e-3 * N(0, 1) (NB201 reference) instead of N(1, 0.01) (SNAS-Series); softmax is "
        "shift-invariant, only the initial spread differs",
        "batch 64 (NB201 protocol) instead of 96 (SNAS-Series CIFAR code)",
        "halves=both alternates a train-half and a valid-half batch within a loop step instead of one shuffle of "
        "the union; each sample is visited once per epoch either way; runs made before the setting "
        "(results/proxy, results/cpu) trained on the train half only (halves=train in their config.json reads so)",
        "halves=both draws the second update's child together with the first, from alpha before the first "
        "update's arch step (one read of the device per loop step); alpha moves by about a_lr per update, so "
        "the second draw's probabilities are one Adam step old",
    )

    def __init__(self, config: MethodConfig | None = None, seed: int = 0):
        super().__init__(config, seed)
        self.sample_generator = torch.Generator().manual_seed(derive_seed(self.seed, "dsnas-sample"))

    @classmethod
    def preset_config(cls, preset: str, epochs: int) -> DSNASConfig:
        """Every preset: single level on both halves (the authors' full training set)."""
        return DSNASConfig(halves="both")

    @classmethod
    def preset_search_overrides(cls, preset: str) -> dict[str, Any]:
        """A guess: the DrNAS NB201 code's settings (100 epochs under paper, wd 3e-4, no Nesterov)."""
        return drnas_family_overrides(preset)

    def sample(self) -> torch.Tensor:
        """[6] op ids, one per edge, drawn from ``softmax(alpha)`` (on alpha's device)."""
        return categorical_sample(self.alpha, gumbel_noise(self.alpha.shape, self.sample_generator))

    def edge_weights(self, training: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Training: a sampled child (one-hot weights, op ids). Not training: ``softmax(alpha)``, dense."""
        if not training:
            return F.softmax(self.alpha, dim=-1), None
        active = self.sample()
        return F.one_hot(active, NUM_OPS).to(self.alpha.dtype), active

    def samples(self, n: int) -> list[tuple[torch.Tensor, tuple[int, ...]]]:
        """``n`` children ``(op ids on alpha's device, the same as host ints)``, drawn in
        order, with ONE read of the device for all (the supernet needs the ids on the host)."""
        drawn = [self.sample() for _ in range(n)]
        ids = torch.stack(drawn).tolist()
        return [(active, tuple(row)) for active, row in zip(drawn, ids)]

    def _child(self, x: torch.Tensor, target: torch.Tensor, indices: torch.Tensor, half: str,
               child: tuple[torch.Tensor, tuple[int, ...]], ctx: SearchContext,
               gates: bool) -> tuple[torch.Tensor, ...]:
        """Loss, logits and the weight tensor of the child ``(active, host ids)`` on one batch."""
        active, ids = child
        z = F.one_hot(active, NUM_OPS).to(device=x.device, dtype=self.alpha.dtype)
        if gates:
            z.requires_grad_(True)
        logits = ctx.network(x, z, ids)
        return self.loss(logits, target, indices, half, ctx), logits, z

    def _arch_update(self, z: torch.Tensor, active: torch.Tensor) -> None:
        """Set alpha's gradient from the gate gradients ``z.grad`` and take the Adam step."""
        credit = z.grad.gather(-1, active.to(z.device).unsqueeze(-1)).squeeze(-1).to(self.alpha.device)
        if self.config.credit_clip > 0:
            credit = credit.clamp(-self.config.credit_clip, self.config.credit_clip)
        probs = F.softmax(self.alpha.detach(), dim=-1)
        self.alpha.grad = credit_gradient(credit, active.to(self.alpha.device), probs)
        if self.config.alpha_grad_clip > 0:
            torch.nn.utils.clip_grad_norm_([self.alpha], self.config.alpha_grad_clip)
        self.a_optimizer.step()

    def _weight_update(self, ctx: SearchContext) -> None:
        if ctx.search.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(ctx.network.parameters(), ctx.search.grad_clip)
        ctx.w_optimizer.step()

    def step(self, batch, ctx: SearchContext) -> dict[str, Any]:
        if self.config.halves == "both":
            children = self.samples(2)  # one host read for both updates (see deviations)
            stats = self.single_level_update(batch.x_train, batch.y_train, batch.idx_train, "train",
                                             children[0], ctx)
            valid = self.single_level_update(batch.x_valid, batch.y_valid, batch.idx_valid, "valid",
                                             children[1], ctx)
            return {**stats, "valid_loss": valid["train_loss"], "valid_acc": valid["train_acc"]}
        return self._step_one_half(batch, ctx)

    def single_level_update(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, half: str,
                            child: tuple[torch.Tensor, tuple[int, ...]], ctx: SearchContext) -> dict[str, Any]:
        """One single-level update on one batch with ``child``: one backward, the weight and the arch
        step; returns the batch's loss and accuracy before the update (as ``train_loss`` / ``train_acc``)."""
        assert self.a_optimizer is not None, "setup() was not called"
        ctx.w_optimizer.zero_grad(set_to_none=True)
        self.a_optimizer.zero_grad(set_to_none=True)
        loss, logits, z = self._child(x, y, idx, half, child, ctx, True)
        loss.backward()
        self._weight_update(ctx)
        self._arch_update(z, child[0])
        return {"train_loss": loss.detach(), "train_acc": accuracy(logits, y)}

    def _step_one_half(self, batch, ctx: SearchContext) -> dict[str, Any]:
        assert self.a_optimizer is not None, "setup() was not called"
        ctx.w_optimizer.zero_grad(set_to_none=True)
        self.a_optimizer.zero_grad(set_to_none=True)
        single = self.config.level == "single"
        # bilevel: the valid child is drawn from the same alpha (no arch update in between), so both
        # children are drawn here, in the order the steps use them, with one host read
        children = self.samples(1 if single else 2)
        loss, logits, z = self._child(batch.x_train, batch.y_train, batch.idx_train, "train", children[0], ctx,
                                      single)
        loss.backward()
        self._weight_update(ctx)
        stats: dict[str, Any] = {"train_loss": loss.detach(), "train_acc": accuracy(logits, batch.y_train)}
        if single:
            self._arch_update(z, children[0][0])
            with torch.no_grad():
                v_loss, v_logits, _ = self._child(batch.x_valid, batch.y_valid, batch.idx_valid, "valid",
                                                  children[0], ctx, False)
        else:
            v_loss, v_logits, z = self._child(batch.x_valid, batch.y_valid, batch.idx_valid, "valid",
                                              children[1], ctx, True)
            (z.grad,) = torch.autograd.grad(v_loss, [z])
            self._arch_update(z, children[1][0])
        stats.update(valid_loss=v_loss.detach(), valid_acc=accuracy(v_logits, batch.y_valid))
        return stats

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["sample_rng"] = self.sample_generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.sample_generator.set_state(state["sample_rng"])
