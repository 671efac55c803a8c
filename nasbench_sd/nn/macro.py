"""The NAS-Bench-201 macro skeleton shared by the search and evaluation networks.

``stem (Conv3x3 3->C, no bias; BN)`` -> stage 1: N cells at C ->
ResNet block C->2C (stride 2) -> stage 2: N cells at 2C -> ResNet block
2C->4C -> stage 3: N cells at 4C -> ``BN -> ReLU -> global average pool ->
Linear``. Submodule names follow the benchmark's TinyNetwork (``stem``,
``cells``, ``lastact``, ``global_pooling``, ``classifier``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nasbench_sd.cells import NUM_EDGES, NUM_OPS
from nasbench_sd.errors import UserError
from nasbench_sd.nn.ops import BN_EPS, ResNetBasicBlock

NUM_STAGES = 3


class MacroNet(nn.Module):
    """Stem, three stages of cells made by ``make_cell(channels)``, and the head.

    ``forward_cells(x, *cell_args)`` calls each cell as ``cell(h, *cell_args)``
    and each ResNet block as ``block(h)``; subclasses define ``forward``.
    """

    def __init__(
        self,
        make_cell: Callable[[int], nn.Module],
        channels: int,
        cells_per_stage: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        if channels < 1 or cells_per_stage < 0 or num_classes < 1:
            raise UserError(
                f"need channels >= 1, cells_per_stage >= 0, num_classes >= 1; got "
                f"{channels}, {cells_per_stage}, {num_classes}"
            )
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels, eps=BN_EPS),
        )
        cells: list[nn.Module] = []
        c_prev = channels
        for stage in range(NUM_STAGES):
            c = channels * 2**stage
            if stage > 0:
                cells.append(ResNetBasicBlock(c_prev, c))
            cells.extend(make_cell(c) for _ in range(cells_per_stage))
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev, eps=BN_EPS), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward_cells(self, x: torch.Tensor, *cell_args: Any) -> torch.Tensor:
        """Logits of ``x`` (``[B, 3, H, W]``), passing ``cell_args`` to every cell."""
        h = self.stem(x)
        for cell in self.cells:
            h = cell(h) if isinstance(cell, ResNetBasicBlock) else cell(h, *cell_args)
        h = self.global_pooling(self.lastact(h)).flatten(1)
        return self.classifier(h)


class SearchNet(MacroNet):
    """What the fast and the reference supernets share: the partial-channel
    check, ``config`` (construction args, for provenance) and the space's sizes."""

    def __init__(self, make_cell: Callable[[int, int], nn.Module], channels: int, cells_per_stage: int,
                 num_classes: int, partial_channels: int, **extra: Any) -> None:
        if partial_channels < 1 or channels % partial_channels:
            raise UserError(f"partial_channels must divide channels ({channels}), got {partial_channels}")
        super().__init__(lambda c: make_cell(c, partial_channels), channels, cells_per_stage, num_classes)
        self.config = {"channels": channels, "cells_per_stage": cells_per_stage, "num_classes": num_classes,
                       "partial_channels": partial_channels, **extra}
        self.num_edges = NUM_EDGES
        self.num_ops = NUM_OPS


def check_arch_inputs(weights: torch.Tensor, active: Any) -> list[int] | None:
    """Validate a supernet's ``weights`` ([6, 5]) and ``active`` op ids; return the ids on the host.

    ``active`` is None (dense), a sequence of 6 ints (no device read: what
    sampling methods pass on every step) or an integer tensor of shape [6]
    (read here; on a GPU that waits for the device)."""
    if weights.shape != (NUM_EDGES, NUM_OPS):
        raise UserError(f"weights must have shape ({NUM_EDGES}, {NUM_OPS}) (edge x op), got {tuple(weights.shape)}")
    if active is None:
        return None
    if isinstance(active, torch.Tensor):
        if active.shape != (NUM_EDGES,) or active.dtype.is_floating_point:
            raise UserError(
                f"active must be an integer tensor of shape ({NUM_EDGES},), got {active.dtype} {tuple(active.shape)}"
            )
        active = active.tolist()
    ids = list(active)
    if len(ids) != NUM_EDGES or not all(isinstance(a, int) and not isinstance(a, bool) for a in ids):
        raise UserError(f"active must hold {NUM_EDGES} integer op ids, got {ids!r}")
    if any(not 0 <= a < NUM_OPS for a in ids):
        raise UserError(f"active op ids must lie in 0..{NUM_OPS - 1}, got {ids}")
    return ids
