"""Readers for CIFAR-10 and CIFAR-100 ("python version" pickles).

The pickles are read directly rather than through torchvision, whose md5
check rejects rebuilt but otherwise faithful copies (such as the shared
offline CIFAR-10). With ``download=True`` a data set missing under the data
root is fetched, verified and unpacked first (:mod:`nasbench_sd.data.download`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nasbench_sd.data.pickles import read_image_pickle
from nasbench_sd.data.root import DATA_ROOT_ENV, resolve_data_root
from nasbench_sd.errors import UserError

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILES = ("test_batch",)

CIFAR100_FOLDER = "cifar-100-python"
CIFAR100_TRAIN_FILES = ("train",)
CIFAR100_TEST_FILES = ("test",)


def read_cifar10(
    root: str | Path | None = None, train: bool = True, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read CIFAR-10: images uint8 [N,3,32,32] and labels int64 [N] in 0..9.

    ``train=True`` gives the 50,000 training images (data_batch_1..5 in
    order), ``train=False`` the 10,000 test images.

    Raises:
        UserError: files missing (and ``download`` off or failing) or corrupt.
    """
    files = CIFAR10_TRAIN_FILES if train else CIFAR10_TEST_FILES
    return _read_cifar("CIFAR-10", "cifar10", CIFAR10_FOLDER, files, "labels", 10, root, download)


def read_cifar100(
    root: str | Path | None = None, train: bool = True, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read CIFAR-100: images uint8 [N,3,32,32] and fine labels int64 [N] in 0..99.

    ``train=True`` gives the 50,000 training images, ``train=False`` the
    10,000 test images.

    Raises:
        UserError: files missing (and ``download`` off or failing) or corrupt.
    """
    files = CIFAR100_TRAIN_FILES if train else CIFAR100_TEST_FILES
    return _read_cifar("CIFAR-100", "cifar100", CIFAR100_FOLDER, files, "fine_labels", 100, root, download)


def _read_cifar(
    title: str,
    key: str,
    folder: str,
    files: tuple[str, ...],
    label_key: str,
    num_classes: int,
    root: str | Path | None,
    download: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    base = resolve_data_root(root)
    paths = [base / folder / name for name in files]
    missing = [p for p in paths if not p.is_file()]
    if missing and download and not (base / folder).exists():
        from nasbench_sd.data.download import OFFLINE_ENV, offline

        if offline():
            why = f"automatic download is off: {OFFLINE_ENV} is set"
        else:
            from nasbench_sd.data.download import fetch

            fetch(key, base)
            missing = [p for p in paths if not p.is_file()]
            why = "the downloaded archive lacks it"
    elif missing and download:
        why = f"{base / folder} exists but is incomplete; move it aside to download a fresh copy"
    else:
        why = "automatic download is off"
    if missing:
        raise UserError(
            f"{title} not found: {missing[0]} is missing ({why}); pass --data-root DIR holding {folder}/ "
            f"or set {DATA_ROOT_ENV} (download: {CIFAR_URL})"
        )
    parts = [read_image_pickle(p, label_key, 32, (0, num_classes - 1)) for p in paths]
    images = np.concatenate([im for im, _ in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([lb for _, lb in parts]) if len(parts) > 1 else parts[0][1]
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)

