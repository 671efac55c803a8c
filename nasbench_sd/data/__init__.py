"""Data for the search: readers, search splits, and the step-wise search loader.

Importing this package loads no data and does not import torch; the names
below are imported from their modules on first use.

* :func:`resolve_data_root` - argument, else ``$NASBENCH_SD_DATA``, else ``~/.cache/nasbench-sd/data``
  (``$XDG_CACHE_HOME/nasbench-sd/data`` where set); missing CIFAR is downloaded on request (``download=True``).
* :func:`read_cifar10`, :func:`read_cifar100`, :func:`read_imagenet16`, :func:`read_source`:
  uint8 images [N,3,H,W], int64 labels.
* :data:`DATASETS`, :data:`SPLIT_PROTOCOLS`, :func:`search_split` - which samples train weights / alphas.
* :func:`load_search_data` -> :class:`SearchData`; :class:`SearchLoader` yields :class:`StepBatch`.
* :class:`BatchSource` (``SearchLoader.extra_batches()``): more batches of a half for methods that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DATA_ROOT_ENV": "root",
    "DEFAULT_DATA_ROOT": "root",
    "resolve_data_root": "root",
    "default_data_root": "root",
    "DATASETS": "datasets",
    "DatasetInfo": "datasets",
    "dataset_info": "datasets",
    "canonical_dataset": "datasets",
    "SPLIT_PROTOCOLS": "splits",
    "SearchSplit": "splits",
    "canonical_protocol": "splits",
    "search_split": "splits",
    "load_split_file": "splits",
    "read_cifar10": "cifar",
    "read_cifar100": "cifar",
    "read_imagenet16": "imagenet16",
    "read_source": "sources",
    "crop_flip": "augment",
    "random_crop_flip": "augment",
    "normalize": "augment",
    "SearchData": "search_data",
    "load_search_data": "search_data",
    "SearchLoader": "loader",
    "BatchSource": "extra",
    "ExtraBatch": "extra",
    "StepBatch": "loader",
    "STREAM_TRAIN_ORDER": "loader",
    "STREAM_VALID_ORDER": "loader",
    "STREAM_AUGMENT": "loader",
}

__all__ = [
    "BatchSource",
    "DATASETS",
    "DATA_ROOT_ENV",
    "DEFAULT_DATA_ROOT",
    "DatasetInfo",
    "ExtraBatch",
    "SPLIT_PROTOCOLS",
    "STREAM_AUGMENT",
    "STREAM_TRAIN_ORDER",
    "STREAM_VALID_ORDER",
    "SearchData",
    "SearchLoader",
    "SearchSplit",
    "StepBatch",
    "canonical_dataset",
    "canonical_protocol",
    "crop_flip",
    "dataset_info",
    "default_data_root",
    "load_search_data",
    "load_split_file",
    "normalize",
    "random_crop_flip",
    "read_cifar10",
    "read_cifar100",
    "read_imagenet16",
    "read_source",
    "resolve_data_root",
    "search_split",
]

if TYPE_CHECKING:  # pragma: no cover
    from nasbench_sd.data.augment import crop_flip, normalize, random_crop_flip
    from nasbench_sd.data.cifar import read_cifar10, read_cifar100
    from nasbench_sd.data.datasets import DATASETS, DatasetInfo, canonical_dataset, dataset_info
    from nasbench_sd.data.extra import BatchSource, ExtraBatch
    from nasbench_sd.data.imagenet16 import read_imagenet16
    from nasbench_sd.data.loader import (
        STREAM_AUGMENT,
        STREAM_TRAIN_ORDER,
        STREAM_VALID_ORDER,
        SearchLoader,
        StepBatch,
    )
    from nasbench_sd.data.root import DATA_ROOT_ENV, DEFAULT_DATA_ROOT, default_data_root, resolve_data_root
    from nasbench_sd.data.search_data import SearchData, load_search_data
    from nasbench_sd.data.sources import read_source
    from nasbench_sd.data.splits import (
        SPLIT_PROTOCOLS,
        SearchSplit,
        canonical_protocol,
        load_split_file,
        search_split,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
