"""Reader for ImageNet16-120, the NAS-Bench-201 authors' 16x16 ImageNet subset.

The folder ``ImageNet16/`` holds the benchmark authors' files (the
"downsampled ImageNet 16x16" pickles): ``train_data_batch_1..10`` and
``val_data``, each a dict with ``data`` (uint8, N x 768 = 3x16x16,
channel-major) and 1-based ``labels`` over 1000 classes. ImageNet16-120 keeps
the images with labels 1..120 and shifts them to 0..119. It cannot be
downloaded automatically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nasbench_sd.data.pickles import read_image_pickle
from nasbench_sd.data.root import DATA_ROOT_ENV, resolve_data_root
from nasbench_sd.errors import UserError

IMAGENET16_FOLDER = "ImageNet16"
IMAGENET16_TRAIN_FILES = tuple(f"train_data_batch_{i}" for i in range(1, 11))
IMAGENET16_TEST_FILES = ("val_data",)
IMAGENET16_URL = "https://github.com/D-X-Y/AutoDL-Projects (NAS-Bench-201 data, ImageNet16)"


def read_imagenet16(
    root: str | Path | None = None, train: bool = True, num_classes: int = 120
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read ImageNet16-``num_classes``: images uint8 [N,3,16,16], labels int64 [N] in 0..num_classes-1.

    ``train=True`` reads train_data_batch_1..10 (151,700 images for 120
    classes), ``train=False`` reads val_data (6,000 images for 120 classes).
    Order within and across files is preserved, so indices match the
    official split files.

    Raises:
        UserError: a file is missing or corrupt, or ``num_classes`` is not in 1..1000.
    """
    if not 1 <= num_classes <= 1000:
        raise UserError(f"ImageNet16 has 1..1000 classes, got num_classes={num_classes}")
    base = resolve_data_root(root) / IMAGENET16_FOLDER
    files = IMAGENET16_TRAIN_FILES if train else IMAGENET16_TEST_FILES
    paths = [base / name for name in files]
    for p in paths:
        if not p.is_file():
            raise UserError(
                f"ImageNet16-120 not found: {p} is missing; pass --data-root DIR holding "
                f"{IMAGENET16_FOLDER}/ or set {DATA_ROOT_ENV} (get the files from {IMAGENET16_URL})"
            )
    images, labels = [], []
    for p in paths:  # filter file by file to keep peak memory low
        im, lb = read_image_pickle(p, "labels", 16, (1, 1000))
        keep = lb <= num_classes
        images.append(im[keep])
        labels.append(lb[keep] - 1)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))
