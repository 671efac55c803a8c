"""What every figure of the report shares: the matplotlib handle (Agg, imported
on use), the file writer, the colour cycle, the benchmark label and the best
cells' accuracies drawn as reference lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BENCH = "NAS-Bench-201 v1_1, hp=200"
DATASETS = (("c10", "CIFAR-10"), ("c100", "CIFAR-100"), ("in16", "ImageNet16-120"))


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, folder: Path, name: str) -> list[Path]:
    """Write ``fig`` as <name>.png and <name>.pdf (atomically) and close it. The PDF
    carries no creation date, so the same figure is the same bytes (redrawing a
    committed experiment changes only the figures whose content changed)."""
    import io

    from nasbench_sd.io import atomic_write_bytes

    paths = []
    for ext, kwargs in (("png", {"dpi": 150}), ("pdf", {"metadata": {"CreationDate": None}})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, bbox_inches="tight", **kwargs)
        atomic_write_bytes(folder / f"{name}.{ext}", buf.getvalue())
        paths.append(folder / f"{name}.{ext}")
    pyplot().close(fig)
    return paths


def group_color(i: int) -> Any:
    colors = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    return colors[i % len(colors)]


def best_accuracy(split: str) -> dict[str, float]:
    """Best accuracy per data set on ``split`` over all cells of the bundled table."""
    from nasbench_sd.benchmark import get_benchmark

    top = get_benchmark("table").best()
    return {p: top[f"{p}_{split}"].figures()[f"{p}_{split}"] for p, _ in DATASETS}
