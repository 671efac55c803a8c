"""The part GDAS and SNAS share: Gumbel noise from a generator the method owns,
and a temperature ``tau`` set at the start of each epoch; both are saved with
the method's state so that a resumed run draws the same noise at the same tau."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext
from nasbench_sd.seeding import derive_seed


class GumbelTemperatureMethod(ArchParamMethod):
    """An :class:`ArchParamMethod` with ``gumbel_generator`` (CPU, seeded from the
    stream ``gumbel_stream``) and ``tau`` (starts at ``config.tau_max``; each epoch
    it is :meth:`tau_at` of that epoch). Subclasses define :meth:`tau_at`."""

    gumbel_stream: ClassVar[str] = "gumbel"

    def __init__(self, config: MethodConfig | None = None, seed: int = 0):
        super().__init__(config, seed)
        self.gumbel_generator = torch.Generator().manual_seed(derive_seed(self.seed, self.gumbel_stream))
        self.tau = float(self.config.tau_max)

    def tau_at(self, epoch: int, epochs: int) -> float:
        """The temperature of (0-based) ``epoch`` of ``epochs``."""
        raise NotImplementedError

    def on_epoch_start(self, ctx: SearchContext) -> None:
        """Set this epoch's temperature."""
        self.tau = self.tau_at(ctx.epoch, ctx.epochs)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["gumbel_rng"] = self.gumbel_generator.get_state()
        state["tau"] = self.tau
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.gumbel_generator.set_state(state["gumbel_rng"])
        self.tau = float(state["tau"])
