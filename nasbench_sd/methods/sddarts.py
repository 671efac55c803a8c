"""SD-DARTS: DARTS regularised by self-distillation from the supernet's own past.

Zhu, Li, Liu, Wang, "Improving Differentiable Architecture Search via
Self-Distillation", Neural Networks 2023, arXiv 2302.05629. See
docs/SD-DARTS.md: for epochs >= the warm-up xi, ``lam * KL`` between the
supernet's output probabilities and the mean of its probabilities at epochs
t-1..t-K ("voting teachers") is added to BOTH the weight loss (train batch)
and the architecture loss (valid batch); before the warm-up it is plain
first-order DARTS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import MethodConfig, SearchContext
from nasbench_sd.methods.darts import DartsV1
from nasbench_sd.methods.teachers import TEACHER_KINDS, TeacherStore, make_teacher_store

KL_DIRECTIONS = ("teacher-student", "student-teacher")


@dataclass(frozen=True)
class SDDartsConfig(MethodConfig):
    """SD-DARTS settings (paper Table 1 / Sec. 4.1 unless noted)."""

    warmup: int = 25  # xi: epochs of plain DARTS before distillation (0-based epochs < warmup); of E = 50
    lam: float = 1.0  # lambda: weight of the distillation term
    K: int = 2  # time window: number of voting teachers (K = 1: single teacher)
    teacher: str = "cache"  # cache (paper Sec. 3.3: stored probabilities) | snapshot (K frozen nets) | ema
    ema_decay: float = 0.5  # ema only: weight of the old average (authors' future work; our choice)
    # teacher-student = KL(f_T || f_S), the usual knowledge-distillation direction (Hinton et al. 2015):
    # mass-covering, finite where the student is confident, so it is the DEFAULT.
    # student-teacher = sum f_S log(f_S / f_T), the paper's H(f_S, f_T) as written.
    kl_direction: str = "teacher-student"
    temperature: float = 1.0  # softening T of both distributions; the term is scaled by T^2 (Hinton et al.)

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
        if not 0 <= self.ema_decay < 1:
            raise UserError(f"sd-darts ema_decay must be in [0, 1), got {self.ema_decay}")

    def validate_for(self, search) -> None:
        if self.warmup >= search.epochs:
            raise UserError(f"sd-darts warmup ({self.warmup}) must be < epochs ({search.epochs}), "
                            "else no epoch is distilled")


def distillation_kl(logits: torch.Tensor, teacher_probs: torch.Tensor, mask: torch.Tensor,
                    direction: str = "teacher-student", temperature: float = 1.0) -> torch.Tensor:
    """Mean over the masked samples of the KL term, times T^2 (0 if none is masked).

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
    return (per_sample * m).sum() / m.sum().clamp_min(1.0) * (t * t)


class SDDarts(DartsV1):
    """DARTS-V1 plus self-distillation from voting teachers.

    * :meth:`objective` (each half of each step): the forward pass, the
      cross-entropy, and for ``ctx.epoch >= warmup`` the teacher of the batch
      from the store and ``lam * KL`` added to the loss; then the batch's
      detached probabilities are recorded in the store (all epochs).
    * :meth:`on_epoch_end`: the store rolls over (snapshot / EMA update).
    Step statistics: ``train_loss``/``valid_loss`` stay the cross-entropy (as
    for the other methods); ``kd_train``/``kd_valid`` are the KL terms
    (before ``lam``, reported from the warm-up on, also when ``lam = 0``).
    With ``lam = 0`` or ``warmup >= epochs`` the updates equal DARTS-V1 bit
    for bit. The teacher store is part of :meth:`state_dict`.
    """

    name = "sd-darts"
    description = "SD-DARTS: DARTS-V1 with self-distillation from the supernet of the K previous epochs"
    paper = ("Zhu, Li, Liu, Wang. Improving Differentiable Architecture Search via Self-Distillation. "
             "Neural Networks 2023 (arXiv 2302.05629)")
    Config = SDDartsConfig
    ablation = {"lam": 0.0}
    ablation_equals = "darts-v1"
    contract_overrides = {"warmup": 0}

    def __init__(self, config: MethodConfig | None = None, seed: int = 0):
        super().__init__(config, seed)
        self.teachers: TeacherStore | None = None

    @classmethod
    def preset_config(cls, preset: str, epochs: int) -> SDDartsConfig:
        """Warm-up and window scaled from the paper's 25 and 2 of 50 epochs."""
        return SDDartsConfig(warmup=round(25 * epochs / 50), K=max(1, round(2 * epochs / 50)))

    @classmethod
    def preset_search_overrides(cls, preset: str) -> dict[str, Any]:
        """The paper's weight decay (Table 1: 3e-4) under ``paper``."""
        return {"w_weight_decay": 3e-4} if preset == "paper" else {}

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        c = self.config
        self.teachers = make_teacher_store(c.teacher, K=c.K, ema_decay=c.ema_decay, ctx=ctx)

    def objective(self, x: torch.Tensor, target: torch.Tensor, indices: torch.Tensor, half: str,
                  ctx: SearchContext) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        assert self.teachers is not None, "setup() was not called"
        c = self.config
        logits = self.forward(x, ctx)
        ce = self.loss(logits, target, indices, half, ctx)
        loss, stats = ce, {f"{half}_loss": float(ce.detach())}
        if ctx.epoch >= c.warmup:
            teacher, mask = self.teachers.teacher(half, indices, x, ctx)
            kd = distillation_kl(logits, teacher, mask, c.kl_direction, c.temperature)
            if c.lam > 0:
                loss = ce + c.lam * kd
            stats[f"kd_{half}"] = float(kd.detach())
        self.teachers.record(half, indices, F.softmax(logits.detach(), dim=-1), ctx.epoch)
        return loss, logits, stats

    def on_epoch_end(self, ctx: SearchContext) -> None:
        assert self.teachers is not None, "setup() was not called"
        self.teachers.end_epoch(ctx.epoch, self, ctx)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["teachers"] = None if self.teachers is None else self.teachers.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.teachers is not None and state.get("teachers") is not None:
            self.teachers.load_state_dict(state["teachers"])
