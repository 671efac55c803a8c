"""Which benchmark figure a (data set, split, hp) query means, in the official
API's terms and in the bundled table's.

Data-set names: the short ones (``cifar10``, ``cifar100``, ``imagenet16-120``)
and the official NB201 ones (``cifar10-valid``, ``cifar10``, ``cifar100``,
``ImageNet16-120``). Short ``cifar10`` is Table 4's CIFAR-10 pair: its
``valid`` is ``cifar10-valid`` x-valid (the official ``cifar10`` data set has
no validation split), its ``test`` is ``cifar10`` ori-test. Splits: ``valid``,
``test``, ``train`` (or the official metric names ``x-valid``, ``x-test``,
``ori-test``). ``hp``: the 200-epoch (``200``) or 12-epoch (``12``) schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from nasbench_sd.errors import UserError

HPS = ("200", "12")
DATASET_ALIASES = {
    "cifar10": "cifar10", "c10": "cifar10", "cifar10-valid": "cifar10-valid",
    "cifar100": "cifar100", "c100": "cifar100",
    "imagenet16-120": "ImageNet16-120", "imagenet16": "ImageNet16-120", "in16": "ImageNet16-120",
}
SPLIT_ALIASES = {"valid": "valid", "x-valid": "valid", "test": "test", "x-test": "test", "ori-test": "test",
                 "train": "train"}
#: (data set, split) -> (official data set, official metric, bundled column at hp=200 or None).
FIGURES: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("cifar10", "valid"): ("cifar10-valid", "x-valid", "c10_valid"),
    ("cifar10", "test"): ("cifar10", "ori-test", "c10_test"),
    ("cifar10", "train"): ("cifar10", "train", None),
    ("cifar10-valid", "valid"): ("cifar10-valid", "x-valid", "c10_valid"),
    ("cifar10-valid", "test"): ("cifar10-valid", "ori-test", "c10valid_oritest"),
    ("cifar10-valid", "train"): ("cifar10-valid", "train", "c10valid_train"),
    ("cifar100", "valid"): ("cifar100", "x-valid", "c100_valid"),
    ("cifar100", "test"): ("cifar100", "x-test", "c100_test"),
    ("cifar100", "train"): ("cifar100", "train", "c100_train"),
    ("ImageNet16-120", "valid"): ("ImageNet16-120", "x-valid", "in16_valid"),
    ("ImageNet16-120", "test"): ("ImageNet16-120", "x-test", "in16_test"),
    ("ImageNet16-120", "train"): ("ImageNet16-120", "train", "in16_train"),
}
#: Bundled columns that exist at hp=12 too (as ``hp12_<column>``): the six Table-4 columns.
HP12_COLUMNS = ("c10_valid", "c10_test", "c100_valid", "c100_test", "in16_valid", "in16_test")


@dataclass(frozen=True)
class Figure:
    """One benchmark figure: how to ask the official API and the bundled table."""

    dataset: str  # as the user named it, canonical (cifar10, cifar10-valid, cifar100, ImageNet16-120)
    split: str  # valid | test | train
    hp: str  # 200 | 12
    official_dataset: str
    metric: str
    column: str | None  # in the bundled table; None when the table does not hold it

    @property
    def name(self) -> str:
        return f"{self.dataset} {self.split} (official: {self.official_dataset} {self.metric}, hp={self.hp})"


def check_hp(hp: str | int) -> str:
    hp = str(hp).strip()
    if hp not in HPS:
        raise UserError(f"unknown hp {hp!r} (choose 200 or 12: the benchmark's 200- or 12-epoch schedule)")
    return hp


def canonical_dataset(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    if key not in DATASET_ALIASES:
        raise UserError(f"unknown data set {name!r} (choose from cifar10-valid, cifar10, cifar100, ImageNet16-120; "
                        "or the short imagenet16-120)")
    return DATASET_ALIASES[key]


def figure(dataset: str, split: str, hp: str | int = "200") -> Figure:
    """The figure a (data set, split, hp) query names; unknown names raise :class:`UserError`."""
    ds = canonical_dataset(dataset)
    key = split.strip().lower()
    if key not in SPLIT_ALIASES:
        raise UserError(f"unknown split {split!r} (choose from valid, test, train)")
    sp, hp = SPLIT_ALIASES[key], check_hp(hp)
    official_ds, metric, column = FIGURES[(ds, sp)]
    if hp == "12":
        column = f"hp12_{column}" if column in HP12_COLUMNS else None
    return Figure(ds, sp, hp, official_ds, metric, column)


#: Data set -> the bundled NATS-Bench tss test column (hp=200; differs from NB201 v1_1 for ~2.4k cells).
NATS_COLUMNS = {"cifar10": "c10_test_nats", "cifar100": "c100_test_nats", "ImageNet16-120": "in16_test_nats"}


def nats_figure(dataset: str, split: str = "test", hp: str | int = "200") -> Figure:
    """A NATS-Bench tss test figure of the bundled table (test split, hp=200 only)."""
    ds, hp = canonical_dataset(dataset), check_hp(hp)
    if SPLIT_ALIASES.get(split.strip().lower()) != "test" or hp != "200" or ds not in NATS_COLUMNS:
        raise UserError("the bundled table holds NATS-Bench tss figures for the test split of cifar10, cifar100 and "
                        "ImageNet16-120 at hp=200 only; query others with --benchmark nats --benchmark-path DIR")
    official_ds, metric, _ = FIGURES[(ds, "test")]
    return Figure(ds, "test", hp, official_ds, metric, NATS_COLUMNS[ds])


def table_columns(hp: str) -> dict[str, str]:
    """Table-4 column -> bundled column at ``hp``."""
    return {c: (c if hp == "200" else f"hp12_{c}") for c in HP12_COLUMNS}
