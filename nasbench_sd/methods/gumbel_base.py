"""The part GDAS and SNAS share: Gumbel noise from a generator the method owns,
and a temperature ``tau`` set at the start of each epoch; both are saved with
the method's state so that a resumed run draws the same noise at the same tau."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext
from nasbench_sd.methods.sampling import gumbel_noise
from nasbench_sd.seeding import derive_seed


class GumbelTemperatureMethod(ArchParamMethod):
    """An :class:`ArchParamMethod` with ``gumbel_generator`` (CPU, seeded from the
    stream ``gumbel_stream``) and ``tau`` (starts at ``config.tau_max``; each epoch
    it is :meth:`tau_at` of that epoch). Subclasses define :meth:`tau_at`."""

    gumbel_stream: ClassVar[str] = "gumbel"

    def __init__(self, config: MethodConfig | None = None, seed: int = 0, seeds: tuple[int, ...] | None = None):
        super().__init__(config, seed, seeds)
        self.gumbel_generator = torch.Generator().manual_seed(derive_seed(self.seed, self.gumbel_stream))
        #: seed-batched: each seed's own generator (``gumbel_generator`` is then the first seed's)
        self.gumbel_generators = [torch.Generator().manual_seed(derive_seed(s, self.gumbel_stream))
                                  for s in self.seeds or ()]
        self.tau = float(self.config.tau_max)

    def gumbel_like_alpha(self) -> torch.Tensor:
        """Gumbel noise of alpha's shape on the CPU, each seed's from its own generator."""
        if self.seeds is None:
            return gumbel_noise(self.alpha.shape, self.gumbel_generator)
        return torch.stack([gumbel_noise(self.alpha.shape[1:], g) for g in self.gumbel_generators])

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

    def seed_state_dict(self, index: int) -> dict[str, Any]:
        return {**super().seed_state_dict(index), "gumbel_rng": self.gumbel_generators[index].get_state(),
                "tau": self.tau}

    def load_seed_state_dict(self, index: int, state: dict[str, Any]) -> None:
        super().load_seed_state_dict(index, state)
        self.gumbel_generators[index].set_state(state["gumbel_rng"])
        self.tau = float(state["tau"])  # the same for every seed: a function of the epoch
