"""DARTS-: first-order DARTS plus an auxiliary skip connection whose weight decays to 0.

Chu, Wang, Zhang, Lu, Wei, Yan, "DARTS-: Robustly Stepping out of Performance
Collapse Without Indicators", ICLR 2021 (arXiv 2009.01027). Every edge computes
``sum_k softmax(alpha_e)_k * o_k(x) + beta * x``: an identity path outside the
competition of the ops, with a coefficient ``beta`` that takes no gradient and
falls linearly from ``beta0`` to 0 (authors' code, Meituan-AutoML/DARTS-:
``src/utils.py::DecayScheduler`` with ``--decay linear``, stepped at the start of
every epoch by ``src/search/train_search.py``). Otherwise first-order DARTS; the
cell is the argmax of alpha (the auxiliary path is no part of it).

The authors released DARTS-space code only; on NB201 every search-cell edge has
stride 1 and equal widths, and ``skip_connect`` is the parameter-free identity,
so the auxiliary path is folded into the supernet's edge weights: the supernet
is linear in each op's weight, hence ``softmax(alpha) + beta * e_skip`` in the
dense mode computes exactly ``sum_k p_k o_k(x) + beta * x`` (and alpha's
gradient is unchanged, beta being a constant). This uses no capability beyond
the dense supernet; the folding is exact only there, so the method refuses a
partial-channel supernet (whose bypass would be scaled by ``1 + beta``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from nasbench_sd.cells import OPS
from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import MethodConfig, SearchContext
from nasbench_sd.methods.darts import DartsV1

SKIP = OPS.index("skip_connect")

#: The schedule length of the paper preset (DARTS- src/search/args.py: T_max = T_stop = 50 epochs).
PAPER_DECAY_EPOCHS = 50


@dataclass(frozen=True)
class DartsMinusConfig(MethodConfig):
    """DARTS- settings (authors' code, scripts/run_darts_minus.sh and src/search/args.py)."""

    beta0: float = 1.0  # --skip_beta 1: weight of the auxiliary skip at epoch 0
    # epochs over which beta falls linearly to 0 (DecayScheduler T_max = T_stop = 50, T_start = 0);
    # beta = beta0 * (1 - e / decay_epochs) for e <= decay_epochs, 0 afterwards
    decay_epochs: int = PAPER_DECAY_EPOCHS
    # order of a step's two updates: False = weight step first (the NB201 reference order; what runs made
    # before this field did, and darts-v1 when beta0 = 0); True = arch step first (the authors' code; every preset)
    arch_first: bool = False

    def __post_init__(self) -> None:
        if not self.beta0 >= 0:
            raise UserError(f"darts-minus beta0 must be >= 0, got {self.beta0}")
        if self.decay_epochs < 1:
            raise UserError(f"darts-minus decay_epochs must be >= 1, got {self.decay_epochs}")


def beta_at(epoch: int, beta0: float, decay_epochs: int) -> float:
    """``beta0 * (decay_epochs - epoch) / decay_epochs``, held at 0 after ``decay_epochs``
    (the authors' linear DecayScheduler with T_start = 0, T_stop = T_max)."""
    return float(beta0) * max(0.0, (decay_epochs - epoch) / decay_epochs)


class DartsMinus(DartsV1):
    """DARTS-V1 whose edge weights are ``softmax(alpha) + beta * onehot(skip_connect)``.

    * :meth:`on_epoch_start` sets ``beta`` for the epoch (:func:`beta_at`).
    * :meth:`edge_weights` folds ``beta`` into the skip weight (training and
      evaluation alike: the Hessian diagnostic sees the supernet that is searched).
    * :meth:`setup` refuses a partial-channel supernet (the folding is exact in
      the dense mode only).
    * :meth:`arch_first` follows ``arch_first`` (the presets: the authors' order).
    ``beta0 = 0`` with ``arch_first=False`` is DARTS-V1 bit for bit.
    """

    name = "darts-minus"
    description = "DARTS-: DARTS-V1 with an auxiliary skip connection on every edge, its weight decaying 1 -> 0"
    paper = ("Chu, Wang, Zhang, Lu, Wei, Yan. DARTS-: Robustly Stepping out of Performance Collapse "
             "Without Indicators. ICLR 2021 (arXiv 2009.01027)")
    Config = DartsMinusConfig
    ablation = {"beta0": 0.0}
    ablation_equals = "darts-v1"
    control_note = ("beta0 = 0: no auxiliary skip, the same order (arch first under the presets) and protocol: "
                    "first-order DARTS in the authors' order")
    sources: ClassVar[dict[str, str]] = {
        "beta0": "DARTS- repo (Meituan-AutoML/DARTS-), scripts/run_darts_minus.sh, --skip_beta 1",
        "decay_epochs": "DARTS- repo, src/search/args.py (linear DecayScheduler, T_max = T_stop = 50, T_start = 0)",
        "arch_first": "DARTS- repo (Meituan-AutoML/DARTS- @ adb81a8), src/search/train_search.py::train: "
                      "architect.step(...) at line 366 before the weight step's optimizer.step() at line 375; "
                      "no source for its NB201 runs says otherwise",
    }
    deviations: ClassVar[tuple[str, ...]] = (
        "The authors published no NB201 code; their NB201 row used NB201's DARTS search settings as recalled "
        "from the paper (not confirmed against the PDF): here the toolkit's NB201 DARTS protocol (50 epochs, "
        "weight decay 5e-4, Nesterov) is left unchanged.",
        "The auxiliary skip is folded into the skip_connect weight: exact on NB201's stride-1 search edges "
        "in the dense supernet; partial channels are refused.",
    )

    def __init__(self, config: MethodConfig | None = None, seed: int = 0, seeds: tuple[int, ...] | None = None):
        super().__init__(config, seed, seeds)
        self.beta = float(self.config.beta0)

    @classmethod
    def preset_config(cls, preset: str, epochs: int) -> DartsMinusConfig:
        """``paper``: the authors' 50-epoch schedule whatever ``epochs`` is; a scaled preset (``cpu``, ``proxy``):
        the schedule spans the run (50 * epochs / 50). Every preset: the authors' order, arch step first."""
        if preset == "paper":
            return DartsMinusConfig(arch_first=True)
        return DartsMinusConfig(decay_epochs=max(1, round(PAPER_DECAY_EPOCHS * epochs / 50)), arch_first=True)

    def arch_first(self) -> bool:
        """``arch_first`` (the authors' order under every preset)."""
        return bool(self.config.arch_first)

    def setup(self, ctx: SearchContext) -> None:
        config = getattr(ctx.network, "config", {})
        k = config.get("partial_channels", 1) if isinstance(config, dict) else 1
        if k != 1:
            raise UserError(f"darts-minus folds its auxiliary skip into the edge weights, which is exact only "
                            f"in the dense supernet; got partial_channels={k}")
        super().setup(ctx)

    def on_epoch_start(self, ctx: SearchContext) -> None:
        """Set this epoch's auxiliary-skip weight."""
        self.beta = beta_at(ctx.epoch, self.config.beta0, self.config.decay_epochs)

    def edge_weights(self, training: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        weights = F.softmax(self.alpha, dim=-1)
        if self.beta == 0.0:
            return weights, None
        aux = torch.zeros_like(weights)
        aux[..., SKIP] = self.beta  # [..., 6, 5]: also seed-batched weights
        return weights + aux, None

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["beta"] = self.beta
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.beta = float(state["beta"])

    def seed_state_dict(self, index: int) -> dict[str, Any]:
        return {**super().seed_state_dict(index), "beta": self.beta}

    def load_seed_state_dict(self, index: int, state: dict[str, Any]) -> None:
        super().load_seed_state_dict(index, state)
        self.beta = float(state["beta"])  # the same for every seed: a function of the epoch
