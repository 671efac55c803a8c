"""Finished runs written as the search loop writes them (result.json and config.json),
with the fields the results scripts read: cell, parameter-free count, six figures,
wall time and provenance (machine and end time)."""

from __future__ import annotations

import json
from pathlib import Path

from nasbench_sd.benchmark import COLUMNS, get_benchmark
from nasbench_sd.cells import Cell
from nasbench_sd.presets import build_run_config

SKIP6 = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


def write_run(root: Path, group: str, seed: int, method: str = "darts-v1", cell: str = CONV,
              c10_test: float = 90.0, end: str = "2026-11-28T10:00:00+00:00", wall: float = 600.0,
              platform: str = "Linux-6.18.44-fc-v782-x86_64-with-glibc2.36", sets: dict | None = None,
              **provenance) -> dict:
    """One finished run below ``root/group/seed-<seed>``; figures other than CIFAR-10 test are c10_test - k."""
    cfg = build_run_config(method, "cpu", seed, {k: str(v) for k, v in (sets or {}).items()})
    figures = {c: c10_test - k for k, c in enumerate(COLUMNS)}
    figures["c10_test"] = c10_test
    result = {"method": method, "seed": seed, "preset": "cpu", "cell": cell, "index": 0,
              "num_parameter_free": Cell.from_string(cell).num_parameter_free, "benchmark": figures,
              "epochs": cfg.search.epochs, "wall_time_s": wall, "config": cfg.to_dict(),
              "provenance": {"benchmark": get_benchmark().provenance(), "platform": platform, "timestamp": end,
                             "code_revision": "abc123", "python": "3.11.7", "torch": "2.14.1", **provenance}}
    d = root / group / f"seed-{seed}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "result.json").write_text(json.dumps(result))
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    return result
