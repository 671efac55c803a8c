"""One entry point to the per-data-set readers: ``read_source(dataset, "train" | "test", ...)``."""

from __future__ import annotations

from pathlib import Path

import torch

from nasbench_sd.data.cifar import read_cifar10, read_cifar100
from nasbench_sd.data.datasets import canonical_dataset
from nasbench_sd.data.imagenet16 import read_imagenet16
from nasbench_sd.data.splits import SOURCES


def read_source(
    dataset: str, source: str, root: str | Path | None = None, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the ``train`` or ``test`` set of a data set: images uint8 [N,3,H,W], labels int64 [N].

    For ImageNet16-120, ``test`` is the val_data file (120 classes kept);
    ``download`` applies to CIFAR only.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    name = canonical_dataset(dataset)
    train = source == "train"
    if name == "cifar10":
        return read_cifar10(root, train=train, download=download)
    if name == "cifar100":
        return read_cifar100(root, train=train, download=download)
    return read_imagenet16(root, train=train, num_classes=120)
