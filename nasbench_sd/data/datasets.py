"""Static facts about the three NAS-Bench-201 data sets (no data is loaded here)."""

from __future__ import annotations

from dataclasses import dataclass

from nasbench_sd.errors import UserError


@dataclass(frozen=True)
class DatasetInfo:
    """Shape, classes and training-time normalisation of one data set.

    ``mean``/``std`` are per channel (RGB) on the [0, 1] scale; ``padding`` is
    the zero padding of the random crop (4 for 32x32 images, 2 for 16x16).
    ``train_size``/``test_size`` are the sizes of the full published sets
    (for ImageNet16-120 after keeping the first 120 classes; "test" is the
    val_data file there).
    """

    name: str
    num_classes: int
    image_size: int
    padding: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    train_size: int
    test_size: int


#: Canonical data-set names, as NAS-Bench-201 spells them.
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")

_INFO: dict[str, DatasetInfo] = {
    # mean/std: the reference NB201 code (xautodl get_datasets); the CIFAR-10
    # values also match the shared copy's train statistics to 4 decimals.
    "cifar10": DatasetInfo(
        name="cifar10",
        num_classes=10,
        image_size=32,
        padding=4,
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        train_size=50_000,
        test_size=10_000,
    ),
    "cifar100": DatasetInfo(
        name="cifar100",
        num_classes=100,
        image_size=32,
        padding=4,
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
        train_size=50_000,
        test_size=10_000,
    ),
    "ImageNet16-120": DatasetInfo(
        name="ImageNet16-120",
        num_classes=120,
        image_size=16,
        padding=2,
        mean=(122.68 / 255, 116.66 / 255, 104.01 / 255),
        std=(63.22 / 255, 61.26 / 255, 65.09 / 255),
        train_size=151_700,  # 120-class subset of train_data_batch_1..10
        test_size=6_000,  # 120-class subset of val_data
    ),
}


def canonical_dataset(name: str) -> str:
    """Return the canonical spelling of a data-set name (case-insensitive match).

    Raises:
        UserError: the name is not one of :data:`DATASETS`.
    """
    for known in DATASETS:
        if name.lower() == known.lower():
            return known
    raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")


def dataset_info(name: str) -> DatasetInfo:
    """Return the :class:`DatasetInfo` of a data set (name matched case-insensitively)."""
    return _INFO[canonical_dataset(name)]
