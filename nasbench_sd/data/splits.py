"""Search splits: which samples train the weights and which train the architecture.

Protocols (recorded with every result):

``official`` (default) - the NAS-Bench-201 authors' splits, bundled as package data:
    * cifar10: ``cifar-split.txt`` train / valid, interleaved 25k/25k halves of
      the 50k training set (the halves that define "cifar10-valid").
    * cifar100: weights on all 50k training images, architecture on the
      ``xvalid`` 5k of the test set (``cifar100-test-split.txt``).
    * ImageNet16-120: weights on all 151,700 training images, architecture on
      the ``xvalid`` 3k of val_data (``imagenet-16-120-test-split.txt``).
``darts-half`` - the DARTS-lineage split: first / last half of the training
    set (25k/25k for CIFAR); defined for cifar10 and cifar100 only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from nasbench_sd.data.datasets import DATASETS, canonical_dataset, dataset_info
from nasbench_sd.errors import UserError

__all__ = [
    "DATASETS",
    "SPLIT_PROTOCOLS",
    "SOURCES",
    "SearchSplit",
    "canonical_protocol",
    "load_split_file",
    "search_split",
]

#: Split protocol names; the first is the default.
SPLIT_PROTOCOLS: tuple[str, ...] = ("official", "darts-half")

#: Which published set of a data set an index refers to ("test" is val_data for ImageNet16).
SOURCES: tuple[str, ...] = ("train", "test")


@dataclass(frozen=True, eq=False)
class SearchSplit:
    """The two halves of a search: indices (int64, into ``*_source``) for weights and for alphas."""

    dataset: str
    protocol: str
    train_source: str
    train_index: np.ndarray
    valid_source: str
    valid_index: np.ndarray


def canonical_protocol(name: str) -> str:
    """Return the protocol name if known.

    Raises:
        UserError: unknown name (the message lists the choices).
    """
    if name in SPLIT_PROTOCOLS:
        return name
    raise UserError(f"unknown split protocol {name!r}; choose one of: {', '.join(SPLIT_PROTOCOLS)}")


def load_split_file(filename: str) -> dict[str, np.ndarray]:
    """Parse one bundled official split file (e.g. ``cifar-split.txt``) into int64 index arrays."""
    text = (resources.files("nasbench_sd") / "resources" / "splits" / filename).read_text()
    raw = json.loads(text)
    return {key: np.asarray([int(i) for i in value[1]], dtype=np.int64) for key, value in raw.items()}


def search_split(dataset: str, protocol: str = "official", n_train: int | None = None) -> SearchSplit:
    """Return the search split of ``dataset`` under ``protocol``.

    Args:
        dataset: one of :data:`DATASETS` (case-insensitive).
        protocol: one of :data:`SPLIT_PROTOCOLS`.
        n_train: size of the training set the full-set and darts-half splits
            range over; defaults to the published size.

    Raises:
        UserError: unknown dataset or protocol, or a protocol the data set does not define.
    """
    name = canonical_dataset(dataset)
    protocol = canonical_protocol(protocol)
    n = dataset_info(name).train_size if n_train is None else n_train
    if protocol == "darts-half":
        if name not in ("cifar10", "cifar100"):
            raise UserError(f"split 'darts-half' is defined for cifar10 and cifar100, not {name}; use 'official'")
        half = n // 2
        every = np.arange(n, dtype=np.int64)
        return SearchSplit(name, protocol, "train", every[:half], "train", every[half:])
    if name == "cifar10":
        halves = load_split_file("cifar-split.txt")
        return SearchSplit(name, protocol, "train", halves["train"], "train", halves["valid"])
    test_file = "cifar100-test-split.txt" if name == "cifar100" else "imagenet-16-120-test-split.txt"
    xvalid = load_split_file(test_file)["xvalid"]
    return SearchSplit(name, protocol, "train", np.arange(n, dtype=np.int64), "test", xvalid)
