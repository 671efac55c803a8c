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


def spread_note(ns: list[int]) -> str:
    """What a figure's bands are, with n, for its title: "one run per group (n=1),
    no spread" when every group has one seed (a band of one run would be a claim
    of a spread that was never measured), else "mean ± std over n=... seeds"."""
    ns = sorted(set(ns))
    if not ns or ns[-1] < 2:
        return "one run per group (n=1), no spread"
    counts = f"n={ns[0]}" if len(ns) == 1 else f"n={'/'.join(map(str, ns))} per group"
    single = " (no band where n=1)" if ns[0] == 1 else ""
    return f"mean ± std over seeds, {counts}{single}"


#: gid of the break mark drawn on a y axis that does not start at zero
AXIS_BREAK = "axis-break"


def mark_truncated_y(ax: Any) -> bool:
    """When the y axis of ``ax`` starts above zero, draw a break mark (two short
    slanted strokes) across its foot and say where it starts in the y label, so a
    zoomed axis is never read as starting at zero; returns whether it did."""
    low, high = ax.get_ylim()
    ax.set_ylim(low, high)  # fixed: the mark must not move the limits it describes
    if low <= 0:
        return False
    kw = {"transform": ax.transAxes, "color": "black", "linewidth": 1.0, "clip_on": False, "gid": AXIS_BREAK}
    for dy in (0.0, 0.025):
        ax.plot([-0.025, 0.025], [0.01 + dy, 0.035 + dy], **kw)
    ax.set_ylabel(f"{ax.get_ylabel()}\n(axis starts at {low:.4g}, not 0)")
    return True
