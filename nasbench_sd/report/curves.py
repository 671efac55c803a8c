"""Per-epoch curves of an experiment, read from the runs' metrics.jsonl files.

A :class:`GroupCurves` holds, for one group (method or ablation setting), the
per-epoch records of each seed; :func:`band` reduces one quantity to mean and
sample std over the seeds that reached each epoch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import find_run_dirs
from nasbench_sd.presets import config_diff
from nasbench_sd.report.table import mean_std


@dataclass
class GroupCurves:
    label: str
    method: str
    preset: str
    epochs: int  # configured search epochs
    runs: dict[int, list[dict[str, Any]]]  # seed -> records (epoch 1..)

    @property
    def n(self) -> int:
        return len(self.runs)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Complete records of one run's metrics.jsonl (a torn last line is ignored)."""
    from nasbench_sd.search.rundir import RunDir

    return RunDir(run_dir).metrics()


def load_curves(results_dir: str | Path) -> list[GroupCurves]:
    """Curves of every group below ``results_dir`` that has per-epoch metrics."""
    out = []
    for label, dirs in find_run_dirs(results_dir).items():
        runs, config = {}, None
        for d in dirs:
            records = read_metrics(d)
            if not records:
                continue
            cfg_path = d / "config.json"
            cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
            if config is None:
                config = cfg
            elif config_diff(cfg, config, ignore=("seed", "device")):
                raise UserError(f"{label} mixes configurations ({d.name} differs); give each configuration its "
                                "own directory")
            runs[_seed_of(d, cfg)] = records
        if runs and config is not None:
            out.append(GroupCurves(label=label, method=config.get("method", label), preset=config.get("preset", "?"),
                                   epochs=int(config.get("search", {}).get("epochs", 0)), runs=runs))
    if not out:
        raise UserError(f"no per-epoch metrics below {results_dir} (expected <method>/seed-<n>/metrics.jsonl; "
                        "methods that train no supernet, like random, have none)")
    return out


def _seed_of(run_dir: Path, cfg: dict[str, Any]) -> int:
    """The seed of a run: from its ``seed-<n>`` name, else from its config."""
    name, _, number = run_dir.name.partition("-")
    if name == "seed" and number.isdigit():
        return int(number)
    return int(cfg.get("seed", 0))


def band(curves: GroupCurves, value: Callable[[dict[str, Any]], float | None]
         ) -> tuple[list[int], list[float], list[float], list[int]]:
    """(epochs, mean, sample std, n) of ``value(record)`` over seeds, per epoch;
    records where ``value`` is None or not finite are left out."""
    per_epoch: dict[int, list[float]] = {}
    for records in curves.runs.values():
        for r in records:
            v = value(r)
            if v is not None and math.isfinite(float(v)):
                per_epoch.setdefault(int(r["epoch"]), []).append(float(v))
    epochs = sorted(per_epoch)
    stats = [mean_std(per_epoch[e]) for e in epochs]
    return epochs, [m for m, _ in stats], [s for _, s in stats], [len(per_epoch[e]) for e in epochs]


def mean_op_probs(curves: GroupCurves) -> tuple[list[int], list[list[list[float]]]]:
    """Epochs and the seed-averaged [epoch][edge][op] probabilities."""
    per_epoch: dict[int, list[list[list[float]]]] = {}
    for records in curves.runs.values():
        for r in records:
            if r.get("op_probs"):
                per_epoch.setdefault(int(r["epoch"]), []).append(r["op_probs"])
    epochs = sorted(per_epoch)
    means = []
    for e in epochs:
        stack = per_epoch[e]
        means.append([[sum(p[i][k] for p in stack) / len(stack) for k in range(len(stack[0][i]))]
                      for i in range(len(stack[0]))])
    return epochs, means
