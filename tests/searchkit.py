"""Small synthetic search data and configs shared by the search tests."""

from __future__ import annotations

import torch

from nasbench_sd.config import build_run_config
from nasbench_sd.data import SearchData

TINY = {"channels": "4", "cells_per_stage": "1", "batch_size": "16", "epochs": "3"}


def tiny_data(n: int = 48, size: int = 8, seed: int = 0) -> SearchData:
    """Random 8x8 'images' whose label is readable from the mean colour."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (2 * n,), generator=g)
    images = torch.randint(0, 120, (2 * n, 3, size, size), generator=g, dtype=torch.uint8)
    images[:, 0] += (labels * 12).to(torch.uint8)[:, None, None]
    idx = torch.arange(2 * n)
    return SearchData(
        dataset="cifar10", split="official",
        train_images=images[:n], train_labels=labels[:n], train_index=idx[:n],
        valid_images=images[n:], valid_labels=labels[n:], valid_index=idx[n:],
        num_classes=10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), padding=1, limit=n,
    )


def tiny_config(method: str = "darts-v1", seed: int = 0, **sets: str):
    return build_run_config(method, "cpu", seed, {**TINY, **{k: str(v) for k, v in sets.items()}})


