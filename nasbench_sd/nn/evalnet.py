"""The discrete NAS-Bench-201 evaluation network of one cell.

Every cell of the macro skeleton (:mod:`nasbench_sd.nn.macro`) is the given
cell: node ``j`` is the sum of ``op(node_i)`` over its incoming edges whose op
is not ``none``; a node that only receives ``none`` edges is zero; the cell
output is node 3. Ops use affine BN with running statistics and convs
without bias, as the benchmark trained them, so the parameter count equals
:func:`nasbench_sd.nn.params.count_params`.
"""

from __future__ import annotations

import torch
from torch import nn

from nasbench_sd.cells import NUM_NODES, Cell
from nasbench_sd.nn.macro import MacroNet
from nasbench_sd.nn.ops import make_op


class EvalCell(nn.Module):
    """One discrete cell; ``edges`` holds the ops of the non-``none`` edges, keyed by edge id."""

    def __init__(self, cell: Cell, channels: int) -> None:
        super().__init__()
        self.cell = cell
        self.edges = nn.ModuleDict()
        #: for node j (index j - 1): the (edge key, source node) pairs that feed it
        self.inputs: list[list[tuple[str, int]]] = [[] for _ in range(1, NUM_NODES)]
        for e, (j, i, op) in enumerate(cell.edges()):
            if op == "none":
                continue
            self.edges[str(e)] = make_op(op, channels, search=False)
            self.inputs[j - 1].append((str(e), i))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for feeds in self.inputs:
            total = None
            for key, i in feeds:
                out = self.edges[key](nodes[i])
                total = out if total is None else total + out
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]


class EvalNet(MacroNet):
    """The NB201 network of ``cell`` (a :class:`Cell` or an arch string): ``forward(x) -> logits``."""

    def __init__(self, cell: Cell | str, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10) -> None:
        cell = cell if isinstance(cell, Cell) else Cell.from_string(cell)
        super().__init__(lambda c: EvalCell(cell, c), channels, cells_per_stage, num_classes)
        self.cell = cell
        self.config = {
            "cell": str(cell),
            "channels": channels,
            "cells_per_stage": cells_per_stage,
            "num_classes": num_classes,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_cells(x)

    def num_params(self) -> int:
        """Number of parameter elements (what the benchmark's "params" column counts)."""
        return sum(p.numel() for p in self.parameters())
