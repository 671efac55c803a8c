"""Building blocks of NAS-Bench-201 networks, written to match the benchmark.

* the five candidate operations (:data:`nasbench_sd.cells.OPS` order):
  ``none`` (zeros), ``skip_connect`` (identity), ``nor_conv_1x1`` and
  ``nor_conv_3x3`` (ReLU -> Conv2d(k, stride 1, pad k//2) -> BN) and
  ``avg_pool_3x3`` (AvgPool2d(3, 1, 1, count_include_pad=False));
* the stride-2 ResNet basic block between stages;
* the channel shuffle of partial-channel (PC-DARTS) edges.

Search cells use BN with ``affine=False`` and batch statistics
(``track_running_stats=False``); as in the benchmark's ReLUConvBN, their
convolution then carries a bias. Evaluation cells use affine BN and convs
without bias.
"""

from __future__ import annotations

import torch
from torch import nn

from nasbench_sd.cells import OPS
from nasbench_sd.errors import UserError

#: BatchNorm epsilon of every BN in the benchmark's networks (PyTorch default).
BN_EPS = 1e-5


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d(k, stride, pad k//2) -> BatchNorm2d.

    The conv has a bias exactly when the BN is not affine (the benchmark's
    ReLUConvBN); ``search=True`` means BN without affine parameters that
    normalises with the statistics of the current batch.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, search: bool = False) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=search)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS, affine=not search, track_running_stats=not search)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.relu(x)))


class Zero(nn.Module):
    """The ``none`` operation: a tensor of zeros shaped like the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def avg_pool_3x3() -> nn.AvgPool2d:
    """The ``avg_pool_3x3`` operation (padding not counted in the average)."""
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


def make_op(name: str, channels: int, search: bool) -> nn.Module:
    """One candidate operation of a cell on ``channels`` channels (stride 1)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, search=search)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, search=search)
    if name == "avg_pool_3x3":
        return avg_pool_3x3()
    raise UserError(f"unknown op {name!r}")


class ResNetBasicBlock(nn.Module):
    """The stride-2 block between stages (affine BN, running statistics).

    ``relu-conv3x3(s2)-bn -> relu-conv3x3-bn`` plus the shortcut
    ``AvgPool2d(2, 2) -> Conv1x1`` (no bias), summed.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave ``groups`` channel groups: channel ``g*n + i`` moves to ``i*groups + g``."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class EdgeOps(nn.Module):
    """The five candidate operations of one search edge, in OPS order.

    Holds the modules (and so the parameters) only; how their outputs are
    mixed is decided by the cell that owns the edge. Keeping this one class
    for every search cell gives the fast and the reference supernets the same
    ``state_dict`` layout (``...edges.<e>.ops.<o>.conv.weight``).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, channels, search=True) for name in OPS)
