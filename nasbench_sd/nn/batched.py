"""S seeds' supernets as ONE network: :class:`BatchedSuperNet`.

``BatchedSuperNet(nets)`` holds the parameters and buffers of S
:class:`~nasbench_sd.nn.supernet.SuperNet` objects stacked along a new leading
dimension, under SuperNet's own ``state_dict`` names (``stem.0.weight`` is
``[S, C, 3, 3, 3]``), so seed ``i``'s SuperNet state is ``{k: v[i]}``
(:meth:`BatchedSuperNet.seed_state_dict`). ``forward(x, weights)`` takes
``x`` ``[S, B, 3, H, W]`` (each seed its own batch) and ``weights``
``[S, 6, 5]`` (each seed its own edge weights) and returns logits
``[S, B, classes]``: slice ``i`` is what seed ``i``'s SuperNet computes on
``x[i]`` with ``weights[i]``, up to floating-point rounding (tested against S
SuperNets, and so against the NB201 authors' network, in
``tests/test_batched.py``).

How: activations are ``[B, S*C, H, W]`` with the channels of seed ``s`` at
``s*C .. s*C+C-1``, in the nets' memory layout (channels-last by default, as
SuperNet). Every per-channel operation is then per seed by
construction: BatchNorm (batch statistics in the search cells; the stem's,
the ResNet blocks' and the head's running statistics live in the stacked
``[S, C]`` buffers, updated in place, so each seed keeps its own), ReLU and
pooling; a convolution with ``groups=S`` over the stacked weights
(``[S*C_out, C_in, k, k]``) is S independent convolutions in one call, and
the classifier is one batched matrix product. The cell mirrors SuperNet's
order of work and of summation (one ReLU and one pooling per source node, the
1x1 and the 3x3 convolutions of all edges leaving a node as one grouped
convolution each, the edge weight folded into the batch-statistics BN's
scale; partial channels with one concat and shuffle per node).

Dense mode only: sampled ops (``active``) differ per seed, so one call could
not run one structure for all seeds; the single-path methods run separately
(their cards say so).

Chosen over ``torch.func`` (``stack_module_state`` + ``functional_call`` +
``vmap`` of SuperNet itself), which computes the same function: on the CPU
vmap was 1.5x slower than S separate SuperNets (proxy size, S = 3: 7.0 s vs
4.8 s per forward+backward, one thread) as it has no batching rule for the
cell's in-place ``addcmul_`` (a per-seed loop) and moves the seed dimension
with copies around every operation; see benchmarks/results/seed_batch.md.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasbench_sd.cells import NUM_EDGES, NUM_NODES, NUM_OPS
from nasbench_sd.errors import UserError
from nasbench_sd.nn.ops import BN_EPS, ReLUConvBN, ResNetBasicBlock
from nasbench_sd.nn.supernet import CONV1, CONV3, EDGE_ID, POOL, SKIP, SearchCell, SuperNet, _Sum

#: SuperNet's submodules, in registration order (so parameters() keeps SuperNet's order)
PARTS = ("stem", "cells", "lastact", "global_pooling", "classifier")


class BatchedSuperNet(nn.Module):
    """S SuperNets of one size in one module (see the module docstring).

    Built from S SuperNets (each initialised as its own run initialises it);
    their tensors are copied, the nets themselves are not kept.
    ``parameters()`` yields the stacked parameters in SuperNet's order.
    """

    def __init__(self, nets: Sequence[SuperNet]) -> None:
        super().__init__()
        if not nets:
            raise UserError("a batched supernet needs at least one net")
        first = nets[0]
        if any(n.config != first.config for n in nets):
            raise UserError("the nets of a batched supernet must all have the same size")
        self.seeds = len(nets)
        self.partial_channels = int(first.config["partial_channels"])
        self.channels_last = bool(first.channels_last)
        #: SuperNet's construction args plus the number of seeds (provenance)
        self.config = {**first.config, "seeds": self.seeds}
        self.num_edges, self.num_ops = NUM_EDGES, NUM_OPS
        for part in PARTS:
            setattr(self, part, copy.deepcopy(getattr(first, part)))
        states = [n.state_dict() for n in nets]
        for prefix, module in self.named_modules():
            for kind in ("_parameters", "_buffers"):
                table = getattr(module, kind)
                for name, t in list(table.items()):
                    if t is None or module is self:
                        continue
                    key = f"{prefix}.{name}" if prefix else name
                    stacked = torch.stack([s[key] for s in states]).detach().clone()
                    table[name] = nn.Parameter(stacked, requires_grad=t.requires_grad) if kind == "_parameters" \
                        else stacked

    # -- per seed --------------------------------------------------------------------
    def seed_state_dict(self, index: int) -> dict[str, torch.Tensor]:
        """Seed ``index``'s SuperNet ``state_dict`` (copies, on this module's device)."""
        return {k: v[index].clone() for k, v in self.state_dict().items()}

    def load_seed_state_dict(self, index: int, state: dict[str, torch.Tensor]) -> None:
        """Load a SuperNet ``state_dict`` into seed ``index``'s slice (every key must be there)."""
        mine = self.state_dict()
        if set(state) != set(mine):
            raise UserError("the network state does not fit this batched supernet (another size or method?)")
        with torch.no_grad():
            for k, v in mine.items():
                if tuple(state[k].shape) != tuple(v.shape[1:]):
                    raise UserError(f"network tensor {k} has shape {tuple(state[k].shape)}, "
                                    f"this run needs {tuple(v.shape[1:])}")
                v[index].copy_(state[k])

    # -- forward --------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, weights: torch.Tensor, active=None) -> torch.Tensor:
        s = self.seeds
        if active is not None:
            raise UserError("a batched supernet runs dense (all ops mixed); sampled ops need separate runs")
        if x.dim() != 5 or x.shape[0] != s:
            raise UserError(f"x must have shape [{s}, B, C, H, W] (seeds first), got {tuple(x.shape)}")
        if tuple(weights.shape) != (s, NUM_EDGES, NUM_OPS):
            raise UserError(f"weights must have shape ({s}, {NUM_EDGES}, {NUM_OPS}), got {tuple(weights.shape)}")
        b = x.shape[1]
        h = x.transpose(0, 1).reshape(b, s * x.shape[2], *x.shape[3:])
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        h = self._bn(_conv(h, self.stem[0].weight, None, s), self.stem[1])
        for cell in self.cells:
            if isinstance(cell, ResNetBasicBlock):
                h = self._resnet(cell, h)
            else:
                h = self._cell(cell, h, weights)
        h = F.relu(self._bn(h, self.lastact[0]))
        h = h.mean((2, 3)).reshape(b, s, -1).transpose(0, 1)  # [S, B, C]
        w, bias = self.classifier.weight, self.classifier.bias  # [S, K, C], [S, K]
        return torch.baddbmm(bias.unsqueeze(1), h, w.transpose(1, 2))

    def _bn(self, x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
        """``bn`` (affine, running statistics) of every seed, as ``nn.BatchNorm2d`` computes it."""
        if self.training:
            bn.num_batches_tracked.add_(1)
        return F.batch_norm(x, bn.running_mean.view(-1), bn.running_var.view(-1), bn.weight.reshape(-1),
                            bn.bias.reshape(-1), self.training, bn.momentum, bn.eps)

    def _relu_conv_bn(self, block: ReLUConvBN, x: torch.Tensor) -> torch.Tensor:
        return self._bn(_conv(F.relu(x), block.conv.weight, None, self.seeds, block.conv.stride[0]), block.bn)

    def _resnet(self, block: ResNetBasicBlock, x: torch.Tensor) -> torch.Tensor:
        out = self._relu_conv_bn(block.conv_b, self._relu_conv_bn(block.conv_a, x))
        shortcut = _conv(F.avg_pool2d(x, 2, 2), block.downsample[1].weight, None, self.seeds)
        return out + shortcut

    def _cell(self, cell: SearchCell, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """SearchCell.forward for every seed (dense); tensors are viewed as [B, S, C, H, W]."""
        s, k, c_mix = self.seeds, self.partial_channels, cell.c_mix
        b, _, hgt, wid = x.shape
        acc = [_Sum() for _ in range(NUM_NODES)]
        h = x.view(b, s, -1, hgt, wid)
        unmixed: list[torch.Tensor] = []
        row_sums = weights.sum(-1) if k > 1 else None
        for src in range(NUM_NODES - 1):
            part = h[:, :, :c_mix] if k > 1 else h
            self._emit(cell, src, part, weights, acc)
            mixed = acc[src + 1].result(part)
            if k == 1:
                h = mixed
            else:
                unmixed.append(h[:, :, c_mix:])
                j = src + 1
                bypass = sum(_per_seed(row_sums[:, EDGE_ID[(j, i)]]) * unmixed[i] for i in range(j))
                h = _cat_shuffle(mixed, bypass, k)
        return h.reshape(b, -1, hgt, wid)

    def _emit(self, cell: SearchCell, src: int, x: torch.Tensor, weights: torch.Tensor, acc: list[_Sum]) -> None:
        """SearchCell._emit (dense) for every seed; ``x`` is [B, S, c_mix, H, W]."""
        out = cell.out_edges[src]
        rows = torch.stack([weights[:, e] for e, _ in out], dim=1)  # [S, n_out, ops]
        for n, (_, j) in enumerate(out):
            acc[j].add(x, _per_seed(rows[:, n, SKIP]))
        b, s, c, hgt, wid = x.shape
        flat = x.reshape(b, s * c, hgt, wid)
        p = F.avg_pool2d(flat, 3, 1, 1, count_include_pad=False).view(b, s, c, hgt, wid)
        for n, (_, j) in enumerate(out):
            acc[j].add(p, _per_seed(rows[:, n, POOL]))
        r = F.relu(flat)
        for op in (CONV1, CONV3):
            convs = [cell.edges[e].ops[op].conv for e, _ in out]
            weight = torch.cat([cv.weight for cv in convs], dim=1)  # [S, n_out * c, c, k, k]
            bias = torch.cat([cv.bias for cv in convs], dim=1)
            y = _conv(r, weight, bias, s)
            y = F.batch_norm(y, None, None, rows[:, :, op].repeat_interleave(c, dim=1).reshape(-1), None,
                             True, 0.0, BN_EPS)
            if self.channels_last and y.requires_grad:
                # unbind's backward (a stack) hands back a gradient in the default layout; BatchNorm's
                # backward with a channels-last input and such a gradient is several times slower
                y.register_hook(lambda g: g.contiguous(memory_format=torch.channels_last))
            ys = y.view(b, s, len(out), c, hgt, wid).unbind(2)  # unbind: its backward is one stack
            for y_n, (_, j) in zip(ys, out):
                acc[j].add(y_n)


def _per_seed(w: torch.Tensor) -> torch.Tensor:
    """[S] -> [1, S, 1, 1, 1]: one scalar per seed, broadcast over a [B, S, C, H, W] tensor."""
    return w.view(1, -1, 1, 1, 1)


def _conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, seeds: int,
          stride: int = 1) -> torch.Tensor:
    """S convolutions as one: ``x`` [B, S*C_in, H, W], stacked ``weight`` [S, C_out, C_in, k, k]."""
    w = weight.reshape(-1, *weight.shape[2:])
    return F.conv2d(x, w, None if bias is None else bias.reshape(-1), stride=stride,
                    padding=weight.shape[-1] // 2, groups=seeds)


def _cat_shuffle(mixed: torch.Tensor, bypass: torch.Tensor, groups: int) -> torch.Tensor:
    """:func:`nasbench_sd.nn.supernet.cat_shuffle` per seed: [B, S, n, H, W] and [B, S, (g-1) n, H, W]."""
    b, s, n, hgt, wid = mixed.shape
    m = mixed.unsqueeze(3)  # [B, S, n, 1, H, W]
    r = bypass.reshape(b, s, groups - 1, n, hgt, wid).transpose(2, 3)
    return torch.cat([m, r], dim=3).reshape(b, s, n * groups, hgt, wid)


__all__ = ["BatchedSuperNet"]
