"""SD-DARTS: DARTS regularised by self-distillation from the supernet's own past.

Zhu, Li, Liu, Wang, "Improving Differentiable Architecture Search via
Self-Distillation", Neural Networks 2023, arXiv 2302.05629 (Eq. 2, Algorithms
1 and 2): for epochs >= the warm-up xi, ``lam * KL`` between the supernet's
output probabilities and the mean of its probabilities at epochs t-1..t-K
("voting teachers") is added to BOTH the weight loss (train batch) and the
architecture loss (valid batch); before the warm-up it is plain first-order
DARTS. Each step updates alpha, then the weights (Algorithm 1; ``order``).
Two readings the paper allows are settings: what the warm-up trains
(``warmup_alpha``: alpha and weights, or the weights only as Algorithm 1
writes it) and how H is reduced over a batch (``kd_reduction``: the batch
mean, or Eq. 2's sum over the examples).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import MethodConfig, SearchContext, accuracy
from nasbench_sd.methods.darts import DartsV1
from nasbench_sd.methods.teachers import TEACHER_KINDS, TeacherStore, make_teacher_store

KL_DIRECTIONS = ("student-teacher", "teacher-student")
ORDERS = ("arch-first", "weights-first")
WARMUP_ALPHA = ("train", "frozen")
KD_REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class SDDartsConfig(MethodConfig):
    """SD-DARTS settings (paper Table 1 / Sec. 4.1 unless noted)."""

    warmup: int = 25  # xi: epochs of plain DARTS before distillation (0-based epochs < warmup); of E = 50
    lam: float = 1.0  # lambda: weight of the distillation term
    K: int = 2  # time window: number of voting teachers (K = 1: single teacher)
    teacher: str = "cache"  # cache (paper Sec. 3.3: stored probabilities) | snapshot (K frozen nets) | ema
    ema_decay: float = 0.5  # ema only: weight of the old average (authors' future work; our choice)
    # student-teacher = sum f_S log(f_S / f_T) = KL(f_S || f_T): the paper's H(f_S, f_T) (Eq. 2), the default.
    # teacher-student = KL(f_T || f_S), the usual knowledge-distillation direction (Hinton et al. 2015): an option.
    kl_direction: str = "student-teacher"
    temperature: float = 1.0  # softening T of both distributions; the term is scaled by T^2 (Hinton et al.)
    # arch-first: each step updates alpha (valid batch), then the weights (train batch): Algorithm 1.
    # weights-first: the NB201 reference's DARTS-V1 order (with lam = 0 it equals darts-v1 step for step).
    order: str = "arch-first"
    # what the warm-up (epochs < warmup) trains: train = weights and alpha (plain DARTS, as before this field);
    # frozen = the weights only, alpha unchanged until the distillation starts (Algorithm 1's reading)
    warmup_alpha: str = "train"
    # how H enters a batch's loss: mean over the batch's samples that have a teacher (as before this field)
    # | sum over them (Eq. 2 sums over the examples: lambda x batch size against the mean)
    kd_reduction: str = "mean"

    def __post_init__(self) -> None:
        if self.warmup < 0:
            raise UserError(f"sd-darts warmup must be >= 0 epochs, got {self.warmup}")
        if self.K < 1:
            raise UserError(f"sd-darts K (number of teachers) must be >= 1, got {self.K}")
        if not self.lam >= 0:
            raise UserError(f"sd-darts lam must be >= 0, got {self.lam}")
        if not self.temperature > 0:
            raise UserError(f"sd-darts temperature must be > 0, got {self.temperature}")
        if self.teacher not in TEACHER_KINDS:
            raise UserError(f"unknown sd-darts teacher {self.teacher!r} (choose from {', '.join(TEACHER_KINDS)})")
        if self.kl_direction not in KL_DIRECTIONS:
            raise UserError(f"unknown sd-darts kl_direction {self.kl_direction!r} "
                            f"(choose from {', '.join(KL_DIRECTIONS)})")
        if self.order not in ORDERS:
            raise UserError(f"unknown sd-darts order {self.order!r} (choose from {', '.join(ORDERS)})")
        if not 0 <= self.ema_decay < 1:
            raise UserError(f"sd-darts ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.warmup_alpha not in WARMUP_ALPHA:
            raise UserError(f"unknown sd-darts warmup_alpha {self.warmup_alpha!r} "
                            f"(choose from {', '.join(WARMUP_ALPHA)})")
        if self.kd_reduction not in KD_REDUCTIONS:
            raise UserError(f"unknown sd-darts kd_reduction {self.kd_reduction!r} "
                            f"(choose from {', '.join(KD_REDUCTIONS)})")

    def validate_for(self, search) -> None:
        if self.warmup >= search.epochs:
            raise UserError(f"sd-darts warmup ({self.warmup}) must be < epochs ({search.epochs}), "
                            "else no epoch is distilled")


def distillation_kl(logits: torch.Tensor, teacher_probs: torch.Tensor, mask: torch.Tensor,
                    direction: str = "student-teacher", temperature: float = 1.0,
                    reduction: str = "mean") -> torch.Tensor:
    """Mean (``reduction="mean"``) or sum (``"sum"``, Eq. 2) over the masked samples of
    the KL term, times T^2 (0 if none is masked); for seed-batched logits ``[S, B, C]``
    (and teachers, mask) one value per seed ``[S]``.

    Student ``f_S = softmax(logits / T)``; teacher ``f_T = softmax(log(p_T) / T)``
    (``p_T`` renormalised, sharpened or softened like the student).
    ``teacher-student``: ``sum f_T log(f_T / f_S)``; ``student-teacher``:
    ``sum f_S log(f_S / f_T)``. Gradients flow only into ``logits``.
    """
    t = float(temperature)
    log_s = F.log_softmax(logits / t, dim=-1)
    tiny = torch.finfo(teacher_probs.dtype).tiny
    log_t = F.log_softmax(teacher_probs.detach().clamp_min(tiny).log() / t, dim=-1).to(log_s.dtype)
    if direction == "teacher-student":
        per_sample = (log_t.exp() * (log_t - log_s)).sum(-1)
    elif direction == "student-teacher":
        per_sample = (log_s.exp() * (log_s - log_t)).sum(-1)
    else:
        raise UserError(f"unknown kl_direction {direction!r} (choose from {', '.join(KL_DIRECTIONS)})")
    m = mask.to(per_sample.dtype)
    if reduction == "sum":
        return (per_sample * m).sum(-1) * (t * t)
    if reduction != "mean":
        raise UserError(f"unknown kd_reduction {reduction!r} (choose from {', '.join(KD_REDUCTIONS)})")
    return (per_sample * m).sum(-1) / m.sum(-1).clamp_min(1.0) * (t * t)  # one per seed for [S, B] samples


class SDDarts(DartsV1):
    """DARTS-V1 plus self-distillation from voting teachers.

    * :meth:`objective` (each half of each step): the forward pass, the
      cross-entropy, and for ``ctx.epoch >= warmup`` the teacher of the batch
      from the store and ``lam * KL`` added to the loss; then the batch's
      detached probabilities are recorded in the store (all epochs).
    * :meth:`on_epoch_end`: the store rolls over (snapshot / EMA update).
    * ``warmup_alpha="frozen"``: a step of an epoch < warmup is the weight step
      alone, then a forward pass of the valid batch without gradient (its
      statistics, and the teachers' record of the valid half); alpha is not
      touched (nor its Adam state) until the distillation starts.
    Step statistics: ``train_loss``/``valid_loss`` stay the cross-entropy (as
    for the other methods); ``kd_train``/``kd_valid`` are the KL terms per
    sample (the mean over the samples with a teacher, under either
    ``kd_reduction``, so both readings' curves compare; before ``lam``,
    reported from the warm-up on, also when ``lam = 0``).
    :meth:`arch_first` follows ``order``: ``arch-first`` (Algorithm 1, the
    default) or ``weights-first``. With ``lam = 0`` (or ``warmup >= epochs``) the updates
    equal first-order DARTS in the same order bit for bit: DARTS-V1 itself
    under ``weights-first``. The teacher store is part of :meth:`state_dict`.
    """

    name = "sd-darts"
    description = "SD-DARTS: DARTS-V1 with self-distillation from the supernet of the K previous epochs"
    paper = ("Zhu, Li, Liu, Wang. Improving Differentiable Architecture Search via Self-Distillation. "
             "Neural Networks 2023 (arXiv 2302.05629)")
    Config = SDDartsConfig
    ablation = {"lam": 0.0, "order": "weights-first"}
    ablation_equals = "darts-v1"
    control = {"lam": 0.0}
    control_note = ("lam = 0: the same search without the distillation term (Algorithm 1's order, the same "
                    "warm-up reading and protocol; teachers are still recorded but unused): first-order DARTS "
                    "stepping alpha first (weights only during the warm-up under warmup_alpha=frozen)")
    contract_overrides = {"warmup": 0}
    sources = {
        "warmup": "SD-DARTS Table 1 / Sec. 4.1: xi = 25 of E = 50 epochs (best in the Fig. 5 sweep)",
        "lam": "SD-DARTS Table 1 / Sec. 4.1: lambda = 1",
        "K": "SD-DARTS Table 1 / Sec. 4.1: K = 2 voting teachers (best in the Fig. 6 sweep)",
        "teacher": "SD-DARTS Sec. 3.3: the teachers' output probabilities are stored, not their weights",
        "ema_decay": "not in the paper (the EMA teacher is the authors' future work); our choice, unused "
                     "by the cache teacher",
        "kl_direction": "SD-DARTS Eq. 2: H(f_S, f_T) = sum f_S log(f_S / f_T)",
        "temperature": "SD-DARTS Eq. 2 uses the plain softmax outputs (T = 1)",
        "order": "SD-DARTS Algorithm 1: update alpha, then the weights, in every step",
        "warmup_alpha": "train (default, as before this setting): SD-DARTS Sec. 5.1, 'alpha and w are randomly "
                        "initialised, so we warm up', read as plain DARTS for xi epochs; frozen: SD-DARTS "
                        "Algorithm 1, 'warm up supernet f for xi epochs', with alpha updated only in the loop "
                        "that follows (docs/SD-DARTS.md, 'Warm-up')",
        "kd_reduction": "mean (default, as before this setting): the batch mean of H, i.e. lambda / batch size "
                        "against Eq. 2; sum: SD-DARTS Eq. 2, H(f_S, f_T) = sum_i f_S(x_i) log(f_S(x_i) / "
                        "f_T(x_i)), a sum over the examples x_i; the text does not say for which scale lambda = 1 "
                        "was tuned (docs/SD-DARTS.md, 'Reduction of H')",
    }
    deviations = (
        "Weight decay 5e-4 with Nesterov, not the 3e-4 of Table 1 / Sec. 4.1: Sec. 4.4 runs NB201 with the "
        "settings of DARTS on NB201 (5e-4); 3e-4 is the DARTS search space's. No code by the authors "
        "settles it; this keeps the sd-darts and darts-v1 rows under one protocol (set w_weight_decay=3e-4 "
        "for the other reading).",
        "A cached teacher is the supernet's prediction on another augmentation of the image (the one of "
        "the epoch it was recorded in), made by the network of the step that saw it (mid-epoch), as the "
        "paper's stored probabilities are; teacher=snapshot runs end-of-epoch networks on the current view.",
    )

    @classmethod
    def preset_config(cls, preset: str, epochs: int) -> SDDartsConfig:
        """``paper``: the paper's values (warm-up 25, K 2) whatever the epochs; a scaled preset (``cpu``, ``proxy``):
        warm-up and window scaled from 25 and 2 of 50 epochs."""
        if preset == "paper":
            return SDDartsConfig()
        return SDDartsConfig(warmup=cls.scale_epochs(25, epochs), K=cls.scale_epochs(2, epochs, minimum=1))

    def arch_first(self) -> bool:
        """``order=arch-first`` (Algorithm 1): the arch step before the weight step."""
        return self.config.order == "arch-first"

    def __init__(self, config: MethodConfig | None = None, seed: int = 0, seeds: tuple[int, ...] | None = None):
        super().__init__(config, seed, seeds)
        self.teachers: TeacherStore | None = None
        #: seed-batched: one store per seed (``teachers`` stays None)
        self.seed_teachers: list[TeacherStore] = []

    @classmethod
    def seed_batching_refusal(cls, config: MethodConfig) -> str | None:
        if config.teacher == "snapshot":
            return ("with teacher=snapshot: its teachers are frozen copies of one seed's network (the cache "
                    "teacher, the default, and the ema teacher batch)")
        return None

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        c = self.config
        if self.seeds is None:
            self.teachers = make_teacher_store(c.teacher, K=c.K, ema_decay=c.ema_decay, ctx=ctx)
        else:
            self.seed_teachers = [make_teacher_store(c.teacher, K=c.K, ema_decay=c.ema_decay, ctx=ctx)
                                  for _ in self.seeds]

    def _stores(self) -> list[TeacherStore]:
        assert self.teachers is not None or self.seed_teachers, "setup() was not called"
        return [self.teachers] if self.teachers is not None else self.seed_teachers

    def _teacher(self, half: str, indices: torch.Tensor, x: torch.Tensor,
                 ctx: SearchContext) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's teacher probabilities and mask (each seed's from its own store)."""
        if self.teachers is not None:
            return self.teachers.teacher(half, indices, x, ctx)
        pairs = [t.teacher(half, indices[i], x[i], ctx) for i, t in enumerate(self.seed_teachers)]
        return torch.stack([p for p, _ in pairs]), torch.stack([m for _, m in pairs])

    def objective(self, x: torch.Tensor, target: torch.Tensor, indices: torch.Tensor, half: str,
                  ctx: SearchContext) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        self._stores()  # asserts setup() was called
        c = self.config
        logits = self.forward(x, ctx)
        ce = self.loss(logits, target, indices, half, ctx)
        loss, stats = ce, {f"{half}_loss": ce.detach()}
        if ctx.epoch >= c.warmup:
            teacher, mask = self._teacher(half, indices, x, ctx)
            kd = distillation_kl(logits, teacher, mask, c.kl_direction, c.temperature, c.kd_reduction)
            if c.lam > 0:
                loss = ce + c.lam * kd
            per_sample = kd if c.kd_reduction == "mean" else kd / mask.sum(-1).clamp_min(1)
            stats[f"kd_{half}"] = per_sample.detach()
        probs = F.softmax(logits.detach(), dim=-1)
        if self.teachers is not None:
            self.teachers.record(half, indices, probs, ctx.epoch)
        else:
            for i, store in enumerate(self.seed_teachers):
                store.record(half, indices[i], probs[i], ctx.epoch)
        return loss, logits, stats

    def step(self, batch, ctx: SearchContext) -> dict[str, Any]:
        """The DARTS step in ``order``; during a frozen warm-up the weight step alone."""
        if self.config.warmup_alpha == "frozen" and ctx.epoch < self.config.warmup:
            stats = self.weight_step(batch, ctx)
            with torch.no_grad():  # statistics and the teachers' record; no arch step
                loss, logits, extra = self.objective(batch.x_valid, batch.y_valid, batch.idx_valid, "valid", ctx)
            stats.update({"valid_loss": loss.detach(), "valid_acc": accuracy(logits, batch.y_valid), **extra})
            return stats
        return super().step(batch, ctx)

    def on_epoch_end(self, ctx: SearchContext) -> None:
        for store in self._stores():
            store.end_epoch(ctx.epoch, self, ctx)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["teachers"] = None if self.teachers is None else self.teachers.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.teachers is not None and state.get("teachers") is not None:
            self.teachers.load_state_dict(state["teachers"])

    def seed_state_dict(self, index: int) -> dict[str, Any]:
        state = super().seed_state_dict(index)
        state["teachers"] = self.seed_teachers[index].state_dict() if self.seed_teachers else None
        return state

    def load_seed_state_dict(self, index: int, state: dict[str, Any]) -> None:
        super().load_seed_state_dict(index, state)
        if self.seed_teachers and state.get("teachers") is not None:
            self.seed_teachers[index].load_state_dict(state["teachers"])
