"""The two halves of a search, loaded once: :class:`SearchData` and :func:`load_search_data`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nasbench_sd.data.datasets import dataset_info
from nasbench_sd.data.sources import read_source
from nasbench_sd.data.splits import canonical_protocol, search_split
from nasbench_sd.errors import UserError


@dataclass(frozen=True, eq=False)
class SearchData:
    """Images and labels of both search halves, resident on one device.

    ``*_images`` are uint8 [N,3,H,W]; ``*_labels`` int64 [N] (0-based);
    ``*_index`` int64 [N] are the samples' indices in their source set
    (``*_source``: "train" or "test" of the data set), usable as keys of a
    per-sample cache. ``limit`` is the per-half cap used for quick runs
    (None = full halves). ``mean``/``std`` (RGB, [0, 1] scale) and ``padding``
    (random-crop zero padding) are the training augmentation constants.
    """

    dataset: str
    split: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    train_index: torch.Tensor
    valid_images: torch.Tensor
    valid_labels: torch.Tensor
    valid_index: torch.Tensor
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    padding: int
    train_source: str = "train"
    valid_source: str = "train"
    limit: int | None = None

    @property
    def n_train(self) -> int:
        """Number of samples in the weights (train) half."""
        return int(self.train_labels.shape[0])

    @property
    def n_valid(self) -> int:
        """Number of samples in the architecture (valid) half."""
        return int(self.valid_labels.shape[0])

    @property
    def device(self) -> torch.device:
        """Device holding the tensors."""
        return self.train_images.device

    def provenance(self) -> dict[str, Any]:
        """What to record next to a result: data set, split protocol, sources, sizes, limit."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "train_source": self.train_source,
            "valid_source": self.valid_source,
            "n_train": self.n_train,
            "n_valid": self.n_valid,
            "limit": self.limit,
        }


def load_search_data(
    dataset: str,
    root: str | Path | None = None,
    split: str = "official",
    limit: int | None = None,
    device: str | torch.device = "cpu",
    download: bool = False,
) -> SearchData:
    """Read a data set and cut it into the search halves of ``split``.

    Args:
        dataset: "cifar10", "cifar100" or "ImageNet16-120" (case-insensitive).
        root: data root (see :func:`~nasbench_sd.data.root.resolve_data_root`).
        split: split protocol, see :mod:`nasbench_sd.data.splits`.
        limit: keep only the first ``limit`` samples of each half (quick CPU runs).
        device: where the halves will live (on CUDA the whole split sits on the GPU).
        download: fetch a missing CIFAR data set (verified; see :mod:`nasbench_sd.data.download`).

    Raises:
        UserError: unknown names, bad ``limit``, missing/corrupt files, or a
            data set too small for the split's indices.
    """
    info = dataset_info(dataset)
    protocol = canonical_protocol(split)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UserError(f"limit must be a positive integer or None, got {limit!r}")
    sets = {"train": read_source(info.name, "train", root, download)}
    sp = search_split(info.name, protocol, n_train=int(sets["train"][1].shape[0]))
    if "test" in (sp.train_source, sp.valid_source):
        sets["test"] = read_source(info.name, "test", root, download)
    halves = []
    for source, index in ((sp.train_source, sp.train_index), (sp.valid_source, sp.valid_index)):
        images, labels = sets[source]
        if index.size and int(index.max()) >= labels.shape[0]:
            raise UserError(
                f"{info.name} {source} set has {labels.shape[0]} images but split {protocol!r} "
                f"needs index {int(index.max())}; are the data files complete?"
            )
        idx = torch.from_numpy(index[:limit] if limit is not None else index)
        halves.append((images[idx].to(device), labels[idx].to(device), idx.to(device)))
    (ti, tl, tx), (vi, vl, vx) = halves
    return SearchData(
        dataset=info.name,
        split=protocol,
        train_images=ti,
        train_labels=tl,
        train_index=tx,
        valid_images=vi,
        valid_labels=vl,
        valid_index=vx,
        num_classes=info.num_classes,
        mean=info.mean,
        std=info.std,
        padding=info.padding,
        train_source=sp.train_source,
        valid_source=sp.valid_source,
        limit=None if limit is None else int(limit),
    )
