"""The NAS-Bench-201 supernet, driven by edge weights it does not own.

:class:`SuperNet` computes exactly the function of
:class:`nasbench_sd.nn.reference.ReferenceSuperNet` (same parameters, same
``state_dict`` layout) but shares work between the edges that leave a node:

* one ReLU per source node for all its outgoing convolutions;
* the 1x1 convolutions of all edges leaving a node as ONE convolution, and the
  3x3 ones likewise (weights concatenated along output channels);
* one batch-statistics BN per such convolution, whose per-channel scale is the
  edge's op weight (``w * BN(y)`` in one kernel);
* one 3x3 average pooling per source node;
* no work for ``none`` (it contributes zero) and, in sampled mode, no work
  for the ops that are not active;
* in partial-channel mode one concat and one channel shuffle per node
  instead of one per edge (the shuffle is linear, so it commutes with the sum).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasbench_sd.cells import EDGES, NUM_NODES, NUM_OPS, OPS
from nasbench_sd.nn.macro import SearchNet, check_arch_inputs
from nasbench_sd.nn.ops import BN_EPS, EdgeOps

EDGE_ID = {edge: e for e, edge in enumerate(EDGES)}
SKIP, CONV1, CONV3, POOL = (OPS.index(n) for n in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))


class SearchCell(nn.Module):
    """A search cell: node ``j = sum_{i<j} edge_{j<-i}(node_i)``, output node 3.

    Each edge mixes the five ops with its row of ``weights`` exactly as
    :class:`nasbench_sd.nn.reference.ReferenceSearchCell` describes (dense,
    sampled, partial-channel), computed source node by source node.
    """

    def __init__(self, channels: int, partial_channels: int = 1) -> None:
        super().__init__()
        self.channels = channels
        self.partial_channels = partial_channels
        self.c_mix = channels // partial_channels
        self.edges = nn.ModuleList(EdgeOps(self.c_mix) for _ in EDGES)
        #: for each source node, its outgoing edges as (edge id, target node)
        self.out_edges = [[(e, j) for e, (j, i) in enumerate(EDGES) if i == src] for src in range(NUM_NODES - 1)]

    def _convs(
        self, x: torch.Tensor, op: int, edge_ids: list[int], scale: torch.Tensor
    ) -> list[torch.Tensor]:
        """``scale[n] * BN(conv_op of edge edge_ids[n](x))`` for every n, with one conv and one BN."""
        convs = [self.edges[e].ops[op].conv for e in edge_ids]
        if len(convs) == 1:
            weight, bias = convs[0].weight, convs[0].bias
        else:
            weight = torch.cat([c.weight for c in convs])
            bias = torch.cat([c.bias for c in convs])
        y = F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2)
        y = F.batch_norm(y, None, None, scale.repeat_interleave(self.c_mix), None, True, 0.0, BN_EPS)
        return list(y.split(self.c_mix, dim=1))

    def _emit(
        self,
        src: int,
        x: torch.Tensor,
        weights: torch.Tensor,
        active: list[int] | None,
        acc: list[_Sum],
    ) -> None:
        """Add the contributions of source node ``src`` (its mixed channels ``x``) to ``acc[target]``."""
        out = self.out_edges[src]
        # basic indexing + stack, never indexing with a Python list: that would copy an index tensor from the
        # host to the device, a blocking copy that waits for the GPU, on every call
        rows = torch.stack([weights[e] for e, _ in out])
        chosen = [
            [(n, e, j) for n, (e, j) in enumerate(out) if active is None or active[e] == o] for o in range(NUM_OPS)
        ]
        for n, _, j in chosen[SKIP]:
            acc[j].add(x, rows[n, SKIP])
        if chosen[POOL]:
            p = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
            for n, _, j in chosen[POOL]:
                acc[j].add(p, rows[n, POOL])
        if chosen[CONV1] or chosen[CONV3]:
            r = F.relu(x)
            for op in (CONV1, CONV3):
                if chosen[op]:
                    ns = [n for n, _, _ in chosen[op]]
                    ys = self._convs(r, op, [e for _, e, _ in chosen[op]], torch.stack([rows[n, op] for n in ns]))
                    for y, (_, _, j) in zip(ys, chosen[op]):
                        acc[j].add(y)
        if active is not None:
            for n, (e, j) in enumerate(out):
                acc[j].add_scalar(torch.stack([rows[n, o] for o in range(NUM_OPS) if o != active[e]]).sum())

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active: list[int] | None) -> torch.Tensor:
        k, c_mix = self.partial_channels, self.c_mix
        acc = [_Sum() for _ in range(NUM_NODES)]
        h, unmixed = x, []
        row_sums = weights.sum(-1) if k > 1 else None
        for src in range(NUM_NODES - 1):
            part = h[:, :c_mix] if k > 1 else h
            self._emit(src, part, weights, active, acc)
            mixed = acc[src + 1].result(part)
            if k == 1:
                h = mixed
            else:
                # the unmixed channels of each incoming edge, times that edge's weight sum
                unmixed.append(h[:, c_mix:])
                j = src + 1
                bypass = sum(row_sums[EDGE_ID[(j, i)]] * unmixed[i] for i in range(j))
                h = cat_shuffle(mixed, bypass, k)
        return h


class _Sum:
    """A running sum of tensors (and 0-d scalars) that adds in place once it owns its tensor.

    Nothing it owns is saved by autograd (``t * w`` saves ``t`` and ``w``,
    ``addcmul_`` saves its operands, ``add_`` nothing), so in-place
    accumulation is safe and saves one allocation and one pass per term.
    """

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.owned = False
        self.scalars: list[torch.Tensor] = []

    def add(self, t: torch.Tensor, w: torch.Tensor | None = None) -> None:
        """Add ``w * t`` (or ``t``)."""
        if self.total is None:
            self.total, self.owned = (t, False) if w is None else (t * w, True)
        elif not self.owned:
            self.total = self.total + t if w is None else torch.addcmul(self.total, t, w)
            self.owned = True
        elif w is None:
            self.total.add_(t)
        else:
            self.total.addcmul_(t, w)

    def add_scalar(self, s: torch.Tensor) -> None:
        """Add a 0-d tensor to every element."""
        self.scalars.append(s)

    def result(self, like: torch.Tensor) -> torch.Tensor:
        """The sum; ``zeros_like(like) + scalars`` if no tensor was added."""
        total = torch.zeros_like(like) if self.total is None else self.total
        for s in self.scalars:
            total = total + s
        return total


def cat_shuffle(mixed: torch.Tensor, bypass: torch.Tensor, groups: int) -> torch.Tensor:
    """``channel_shuffle(cat([mixed, bypass], 1), groups)`` with a single copy.

    Channel ``i`` of ``mixed`` lands at ``i * groups``; channel ``(g-1) * n + i`` of
    ``bypass`` (group ``g >= 1`` of size ``n``) at ``i * groups + g``. Keeps
    the channels-last layout when ``mixed`` has it.
    """
    b, n, hgt, wid = mixed.shape
    if mixed.stride(1) == 1 and n > 1:  # channels-last layout
        m = mixed.permute(0, 2, 3, 1).unsqueeze(-1)  # [B, H, W, n, 1]
        r = bypass.permute(0, 2, 3, 1).reshape(b, hgt, wid, groups - 1, n).transpose(-1, -2)
        return torch.cat([m, r], dim=-1).reshape(b, hgt, wid, n * groups).permute(0, 3, 1, 2)
    m = mixed.unsqueeze(2)  # [B, n, 1, H, W]
    r = bypass.reshape(b, groups - 1, n, hgt, wid).transpose(1, 2)
    return torch.cat([m, r], dim=2).reshape(b, n * groups, hgt, wid)


class SuperNet(SearchNet):
    """The NB201 search network: ``forward(x, weights, active=None) -> logits``.

    ``weights`` ([6, 5], edges in ``cells.EDGES`` order, ops in ``cells.OPS``
    order) is shared by all cells and owned by the caller. ``active=None``
    mixes all ops (dense); ``active`` (6 op ids: a tuple of ints, or an integer
    tensor, which is then read from its device on every call) computes only op
    ``active[e]`` on edge ``e``, multiplied by ``weights[e, active[e]]``,
    and adds the other weights as scalars (straight-through). Gates: with a
    one-hot leaf tensor as ``weights`` in sampled mode, ``weights.grad[e,
    active[e]]`` is the derivative of the loss w.r.t. the gate of the active
    op of edge ``e``, summed over all cells (DSNAS's credit; ``none`` has
    credit 0); the other entries' gradients belong to the scalars. ``partial_channels = k > 1`` mixes only the first
    ``C/k`` channels of every edge and shuffles (PC-DARTS); the bypassed
    channels of edge ``e`` are multiplied by ``weights[e].sum()``, i.e. the edge
    computes ``sum_o w[e,o] * shuffle(cat[op_o(x[:C/k]), x[C/k:]])``. For
    softmax or straight-through weights that sum is 1 (a plain bypass); a
    method that folds a per-edge factor into the weights (PC-DARTS edge
    normalisation) thereby scales the whole edge output, as the original does.
    Search cells use batch-statistics BN without affine parameters.

    ``channels_last=True`` runs the network in the channels-last memory layout
    (converting the input), which oneDNN convolutions and pooling prefer on
    CPU; it changes speed only, not the function (logits come back as usual).
    """

    def __init__(
        self,
        channels: int = 16,
        cells_per_stage: int = 5,
        num_classes: int = 10,
        partial_channels: int = 1,
        channels_last: bool = True,
    ) -> None:
        super().__init__(SearchCell, channels, cells_per_stage, num_classes, partial_channels,
                         channels_last=channels_last)
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active=None) -> torch.Tensor:
        ids = check_arch_inputs(weights, active)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.forward_cells(x, weights, ids)
