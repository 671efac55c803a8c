"""Parameter counts of NAS-Bench-201 evaluation networks, computed without torch.

The count is that of :class:`nasbench_sd.nn.evalnet.EvalNet` (and of the
benchmark's own network): stem conv + BN, ``3 x cells_per_stage`` cells whose
1x1 / 3x3 edges each hold a bias-free conv and an affine BN, two ResNet
blocks, the head BN and the linear classifier. ``params_mb(cell)`` for the
CIFAR-10 network equals the table's ``params_mb_cifar10``.
"""

from __future__ import annotations

from nasbench_sd.cells import Cell
from nasbench_sd.errors import UserError

#: (weight elements per c_in * c_out) of the parameterised ops; each also has an affine BN (2 * c_out)
CONV_KERNEL_AREA = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}


def _as_cell(cell: Cell | str) -> Cell:
    return cell if isinstance(cell, Cell) else Cell.from_string(cell)


def cell_params(cell: Cell | str, channels: int) -> int:
    """Parameters of one evaluation cell at ``channels`` channels."""
    return sum(
        CONV_KERNEL_AREA[op] * channels * channels + 2 * channels
        for op in _as_cell(cell).ops
        if op in CONV_KERNEL_AREA
    )


def resnet_block_params(c_in: int, c_out: int) -> int:
    """Parameters of the stride-2 ResNet basic block between stages."""
    conv_a = 9 * c_in * c_out + 2 * c_out
    conv_b = 9 * c_out * c_out + 2 * c_out
    shortcut = c_in * c_out  # 1x1 conv, no bias, after AvgPool2d(2, 2)
    return conv_a + conv_b + shortcut


def count_params(cell: Cell | str, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10) -> int:
    """Number of parameters of the evaluation network of ``cell`` (trainable tensors only)."""
    if channels < 1 or cells_per_stage < 0 or num_classes < 1:
        raise UserError(f"invalid network size: channels={channels}, cells_per_stage={cells_per_stage}, "
                        f"num_classes={num_classes}")
    cell = _as_cell(cell)
    total = 3 * 9 * channels + 2 * channels  # stem: conv3x3 (no bias) + affine BN
    c_prev = channels
    for stage in range(3):
        c = channels * 2**stage
        if stage > 0:
            total += resnet_block_params(c_prev, c)
        total += cells_per_stage * cell_params(cell, c)
        c_prev = c
    total += 2 * c_prev  # head BN
    total += c_prev * num_classes + num_classes  # classifier
    return total


def params_mb(cell: Cell | str, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10) -> float:
    """:func:`count_params` in millions (the benchmark's "params" unit, MB = 1e6 parameters)."""
    return count_params(cell, channels, cells_per_stage, num_classes) / 1e6
