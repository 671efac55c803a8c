"""The narrow benchmark interface every backend implements.

A search derives a cell; the benchmark answers what that cell's evaluation
network scored when the benchmark authors trained it. The six figures of the
SD-DARTS paper's Table 4 are (the NB201 paper's protocol; README, "Look up a cell"):

=================  ===============  ==========  ==================================
column             NB201 data set   metric      meaning
=================  ===============  ==========  ==================================
``c10_valid``      cifar10-valid    x-valid     trained on the 25k train half
``c10_test``       cifar10          ori-test    trained on all 50k
``c100_valid``     cifar100         x-valid     5k "xvalid" half of the test set
``c100_test``      cifar100         x-test      5k "xtest" half of the test set
``in16_valid``     ImageNet16-120   x-valid     3k "xvalid" half of the val set
``in16_test``      ImageNet16-120   x-test      3k "xtest" half of the val set
=================  ===============  ==========  ==================================

All at the 200-epoch schedule (hp='200'), averaged over the benchmark's trials
(is_random=False), in percent.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass

from nasbench_sd.cells import NUM_CELLS, Cell
from nasbench_sd.errors import UserError

#: Data sets a user may name, mapped to the short prefix of the table columns.
DATASETS: dict[str, str] = {"cifar10": "c10", "cifar100": "c100", "imagenet16-120": "in16"}
SPLITS: tuple[str, ...] = ("valid", "test")
#: The six Table-4 columns, in table order.
COLUMNS: tuple[str, ...] = tuple(f"{p}_{s}" for p in DATASETS.values() for s in SPLITS)
#: Human labels for the columns (used by tables and plots).
COLUMN_LABELS: dict[str, str] = {
    "c10_valid": "CIFAR-10 valid",
    "c10_test": "CIFAR-10 test",
    "c100_valid": "CIFAR-100 valid",
    "c100_test": "CIFAR-100 test",
    "in16_valid": "ImageNet16-120 valid",
    "in16_test": "ImageNet16-120 test",
}
#: (NB201 data set name, NB201 metric name) behind each column; hp='200', is_random=False.
OFFICIAL_QUERIES: dict[str, tuple[str, str]] = {
    "c10_valid": ("cifar10-valid", "x-valid"),
    "c10_test": ("cifar10", "ori-test"),
    "c100_valid": ("cifar100", "x-valid"),
    "c100_test": ("cifar100", "x-test"),
    "in16_valid": ("ImageNet16-120", "x-valid"),
    "in16_test": ("ImageNet16-120", "x-test"),
}


def column_for(dataset: str, split: str) -> str:
    """The column name of (dataset, split); unknown names raise :class:`UserError`."""
    key = dataset.strip().lower().replace("_", "-")
    if key == "imagenet16" or key == "in16":
        key = "imagenet16-120"
    if key not in DATASETS:
        raise UserError(f"unknown data set {dataset!r} (choose from {', '.join(DATASETS)})")
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    return f"{DATASETS[key]}_{split}"


@dataclass(frozen=True)
class Record:
    """The six Table-4 figures of one cell (accuracy in %), its index and params."""

    cell: str
    index: int
    c10_valid: float
    c10_test: float
    c100_valid: float
    c100_test: float
    in16_valid: float
    in16_test: float
    params_mb_cifar10: float | None = None

    def figures(self) -> dict[str, float]:
        """The six accuracies keyed like the table's columns."""
        return {c: getattr(self, c) for c in COLUMNS}

    def to_dict(self) -> dict:
        return asdict(self)


def parse_cell_or_index(text: str, benchmark: Benchmark | None = None) -> Cell:
    """A cell from an arch string or (all digits) an NB201 index 0..15624."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < NUM_CELLS:
            raise UserError(f"index {index} out of range 0..{NUM_CELLS - 1}")
        if benchmark is None:
            from nasbench_sd.benchmark import get_benchmark

            benchmark = get_benchmark()
        return benchmark.cell(index)
    return Cell.from_string(text)


class Benchmark(abc.ABC):
    """A source of NB201 figures. Implementations never download and never
    parse printed output; a missing package or file raises :class:`UserError`."""

    name: str = "abstract"

    @abc.abstractmethod
    def index(self, cell: Cell) -> int:
        """The NB201 architecture index of ``cell`` (the benchmark's numbering)."""

    @abc.abstractmethod
    def cell(self, index: int) -> Cell:
        """The cell with NB201 index ``index``."""

    @abc.abstractmethod
    def _column(self, index: int, column: str) -> float:
        """One figure (a name in :data:`COLUMNS`) of the cell with this index."""

    def params_mb(self, index: int) -> float | None:
        """Parameters (millions) of the CIFAR-10 evaluation network, if known."""
        return None

    @abc.abstractmethod
    def provenance(self) -> dict:
        """Where the figures come from (source, version, hp, averaging)."""

    def query(self, cell: Cell, dataset: str, split: str) -> float:
        """Accuracy (%) of ``cell`` on ``dataset`` ('cifar10', 'cifar100',
        'imagenet16-120') and ``split`` ('valid' or 'test'), as in Table 4."""
        return self._column(self.index(cell), column_for(dataset, split))

    def figure(self, index: int, fig) -> float:
        """One figure (a :class:`~nasbench_sd.benchmark.figures.Figure`: data set,
        split, hp) of the cell with this index."""
        raise UserError(f"the {self.name} backend cannot answer {fig.name}")

    def figures_at(self, index: int, hp: str) -> dict[str, float]:
        """The six Table-4 figures of the cell with this index at schedule ``hp``."""
        if hp == "200":
            return {c: self._column(index, c) for c in COLUMNS}
        raise UserError(f"the {self.name} backend has no hp={hp} figures")

    def record(self, cell: Cell) -> Record:
        """All six Table-4 figures of ``cell`` plus its index and params."""
        index = self.index(cell)
        figures = {c: self._column(index, c) for c in COLUMNS}
        return Record(cell=str(cell), index=index, params_mb_cifar10=self.params_mb(index), **figures)

    def best(self) -> dict[str, Record]:
        """For each column, the record of the cell that maximises it."""
        best: dict[str, tuple[float, int]] = {}
        for index in range(NUM_CELLS):
            for c in COLUMNS:
                v = self._column(index, c)
                if c not in best or v > best[c][0]:
                    best[c] = (v, index)
        return {c: self.record(self.cell(i)) for c, (_, i) in best.items()}
