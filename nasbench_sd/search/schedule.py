"""The weight learning-rate schedule of the search (one formula, used by the
loop and by the contract harness)."""

from __future__ import annotations

import math

from nasbench_sd.config import SearchConfig


def cosine_lr(s: SearchConfig, epoch: int) -> float:
    """Weight learning rate of (0-based) ``epoch``, constant within the epoch.

    ``w_lr_min + (w_lr - w_lr_min) * (1 + cos(pi * epoch / epochs)) / 2``: the NB201
    reference's cosine schedule with warm-up 0 (xautodl ``CosineAnnealingLR``,
    T_max = epochs, updated once per epoch; DrNAS and beta-DARTS also step
    their cosine once per epoch). Epoch 0 runs at ``w_lr``; the last epoch
    runs just above ``w_lr_min``, which ``epoch = epochs`` reaches.
    """
    t = epoch / s.epochs
    return s.w_lr_min + 0.5 * (s.w_lr - s.w_lr_min) * (1.0 + math.cos(math.pi * t))
