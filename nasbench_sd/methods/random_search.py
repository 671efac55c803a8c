"""The chance floor: one uniformly random NB201 cell, no supernet, no training.

Each of the 6 edges takes one of the 5 ops uniformly (15,625 cells, each with
probability 1/15,625). Its table row tells what chance gives in this space: the
floor every search method must beat. It is NOT Li & Talwalkar's random search
with weight sharing (RSPS, UAI 2019), which trains a supernet on random paths
and picks the best of sampled cells by supernet accuracy; that is ``rsps``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from nasbench_sd.cells import Cell, random_cell
from nasbench_sd.methods.base import MethodConfig, SearchContext, SearchMethod
from nasbench_sd.seeding import derive_seed


@dataclass(frozen=True)
class RandomSearchConfig(MethodConfig):
    """Random search has no settings: the seed determines the cell."""


class RandomSearch(SearchMethod):
    """The cell is drawn at construction from ``random.Random(derive_seed(seed, "random-cell"))``;
    the loop runs no steps (``trains_supernet = False``)."""

    name = "random"
    description = "Chance floor: one uniformly random cell (set by the seed), no training; not RSPS"
    paper = ("none: a chance baseline (each edge's op uniform over the 5 NB201 ops); "
             "for Li & Talwalkar's weight-sharing random search see rsps")
    sources: ClassVar[dict[str, str]] = {}
    deviations: ClassVar[tuple[str, ...]] = ()
    Config = RandomSearchConfig
    trains_supernet = False
    seed_batching = "it trains no supernet (each seed is one random draw, no steps)"
    deviations = (
        "A single uniformly random cell per seed (chance level), not the weight-sharing random search "
        "with a trained supernet (RSPS) of Li & Talwalkar; the shared settings are unused.",
    )

    def __init__(self, config: MethodConfig | None = None, seed: int = 0):
        super().__init__(config, seed)
        self.cell = random_cell(random.Random(derive_seed(self.seed, "random-cell")))

    def step(self, batch, ctx: SearchContext) -> dict[str, float]:
        raise RuntimeError("random search trains no supernet: the search loop must not call step()")

    def genotype(self) -> Cell:
        return self.cell

    def state_dict(self) -> dict[str, Any]:
        return {"cell": str(self.cell)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cell = Cell.from_string(state["cell"])
