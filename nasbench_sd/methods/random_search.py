"""Random search baseline: one uniformly random NB201 cell, no supernet training.

Tells what chance gives in this space (the floor every search method must beat).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

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
    description = "Random search: a uniformly random cell, determined by the seed"
    paper = "Li, Talwalkar. Random Search and Reproducibility for Neural Architecture Search. UAI 2019"
    Config = RandomSearchConfig
    trains_supernet = False

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
