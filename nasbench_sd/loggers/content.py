"""What a live log shows of an epoch record: scalars by name, the op
probabilities as an edge x op image, the cell as text (one source for every
logger kind, so TensorBoard and W&B show the same)."""

from __future__ import annotations

import json
import math
from typing import Any

from nasbench_sd.cells import EDGES, OPS

#: metrics.jsonl key -> scalar name; any other number of a record is the method's own
#: statistic (SD-DARTS's kd_train, beta-DARTS's beta_reg, ...), logged as ``method/<key>``.
SCALARS = {
    "train_loss": "loss/train", "valid_loss": "loss/valid",
    "train_acc": "supernet_acc/train", "valid_acc": "supernet_acc/valid",
    "num_parameter_free": "cell/parameter_free_ops",
    "hessian_eig": "hessian/top_eigenvalue",
    "lr_end": "schedule/w_lr", "epoch_seconds": "time/epoch_seconds",
}
NOT_SCALARS = ("epoch", "index")
#: Pixels per (edge, op) square of the op-probability image.
CELL_PIXELS = 16
OP_IMAGE_CAPTION = (f"op probabilities: rows = edges {', '.join(f'{t}<-{f}' for t, f in EDGES)}; "
                    f"columns = {', '.join(OPS)}; darker = more probable (0..1)")


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """Name -> value of every number of an epoch record: losses, supernet
    accuracies, the six benchmark figures of the derived cell (``nb201/<column>``),
    its parameter-free ops, the Hessian eigenvalue when computed, the method's own
    statistics, the learning rate and the epoch's seconds."""
    out: dict[str, float] = {}
    for key, value in record.items():
        if key in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(float(value)):
            out[SCALARS.get(key, f"method/{key}")] = float(value)
    for column, value in (record.get("benchmark") or {}).items():
        out[f"nb201/{column}"] = float(value)
    return out


def op_image(record: dict[str, Any]) -> Any:
    """The record's op probabilities as an [edges * px, ops * px, 3] uint8 image
    (white = 0, dark blue = 1), or None for a method without them."""
    import numpy as np

    probs = record.get("op_probs")
    if not probs:
        return None
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)[..., None]
    white, blue = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    rgb = (1.0 - p) * white + p * blue
    return np.kron(rgb, np.ones((CELL_PIXELS, CELL_PIXELS, 1))).round().astype(np.uint8)


def cell_text(record: dict[str, Any]) -> str:
    """The derived cell, its NB201 index and its parameter-free ops, as one line of Markdown."""
    return (f"`{record.get('cell')}` (NB201 index {record.get('index')}, "
            f"{record.get('num_parameter_free')} parameter-free ops)")


def config_text(config: dict[str, Any]) -> str:
    """The run's configuration as an indented JSON block (Markdown)."""
    return "```\n" + json.dumps(config, indent=2) + "\n```"


def run_name(config: dict[str, Any]) -> str:
    """``<method> seed <n>``: how the run is named in a W&B project."""
    return f"{config.get('method')} seed {config.get('seed')}"
