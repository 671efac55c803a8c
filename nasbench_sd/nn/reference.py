"""A deliberately plain supernet: the correctness reference and speed baseline.

Every edge applies each of its five ops on its own (``none`` included, as
zeros times its weight) and sums ``weights[e, o] * op_o(h)``. Nothing is
shared or fused. :class:`nasbench_sd.nn.supernet.SuperNet` must compute the
same function; the two have the same ``state_dict`` layout, so
``fast.load_state_dict(ref.state_dict())`` (or :func:`copy_reference_weights`)
gives them the same parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from nasbench_sd.cells import EDGES, NUM_NODES, NUM_OPS
from nasbench_sd.nn.macro import SearchNet, check_arch_inputs
from nasbench_sd.nn.ops import EdgeOps, channel_shuffle


class ReferenceSearchCell(nn.Module):
    """One search cell computed edge by edge, op by op.

    Edge ``e`` (``j <- i``) maps node ``i`` to
    ``sum_o weights[e, o] * op_o(h)`` (dense) or
    ``weights[e, a] * op_a(h) + sum_{o != a} weights[e, o]`` (sampled, op ``a``).
    With ``partial_channels = k > 1`` only the first ``C/k`` channels are mixed;
    the rest bypass, and ``channel_shuffle(cat[mixed, bypass], k)`` is the
    edge output. Node ``j`` is the sum of its incoming edges; node 3 is the output.
    """

    def __init__(self, channels: int, partial_channels: int = 1) -> None:
        super().__init__()
        self.channels = channels
        self.partial_channels = partial_channels
        self.edges = nn.ModuleList(EdgeOps(channels // partial_channels) for _ in EDGES)

    def edge(self, e: int, h: torch.Tensor, w: torch.Tensor, active: int | None) -> torch.Tensor:
        """Output of edge ``e`` for input ``h`` and that edge's weights ``w`` ([5])."""
        k = self.partial_channels
        c_mix = self.channels // k
        x = h[:, :c_mix] if k > 1 else h
        ops = self.edges[e].ops
        if active is None:
            out = w[0] * ops[0](x)
            for o in range(1, NUM_OPS):
                out = out + w[o] * ops[o](x)
        else:
            out = w[active] * ops[active](x)
            for o in range(NUM_OPS):
                if o != active:
                    out = out + w[o]
        if k > 1:  # the bypassed channels are scaled by the edge's weight sum (see SuperNet)
            out = channel_shuffle(torch.cat([out, w.sum() * h[:, c_mix:]], dim=1), k)
        return out

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active: list[int] | None) -> torch.Tensor:
        nodes = [x]
        for j in range(1, NUM_NODES):
            total = None
            for e, (to, src) in enumerate(EDGES):
                if to != j:
                    continue
                out = self.edge(e, nodes[src], weights[e], None if active is None else active[e])
                total = out if total is None else total + out
            nodes.append(total)
        return nodes[-1]


class ReferenceSuperNet(SearchNet):
    """The NB201 search network with :class:`ReferenceSearchCell` cells.

    ``forward(x, weights, active=None)`` returns logits; ``weights`` ([6, 5],
    edge x op) is shared by all cells; ``active`` ([6] op ids) selects the
    sampled mode. The network owns no architecture parameters.
    """

    def __init__(
        self,
        channels: int = 16,
        cells_per_stage: int = 5,
        num_classes: int = 10,
        partial_channels: int = 1,
    ) -> None:
        super().__init__(ReferenceSearchCell, channels, cells_per_stage, num_classes, partial_channels)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_cells(x, weights, check_arch_inputs(weights, active))


def copy_reference_weights(ref: nn.Module, fast: nn.Module) -> None:
    """Give ``fast`` the parameters and buffers of ``ref`` (same layout; strict)."""
    fast.load_state_dict(ref.state_dict(), strict=True)
