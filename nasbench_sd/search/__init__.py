"""The search loop, its run directory and checkpoints.

``run_search(run_config, out_dir)`` runs or resumes one (method, seed) search.
The names are imported on first use, so that reading run directories
(``status``, ``table``: :mod:`nasbench_sd.search.rundir`) does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cosine_lr", "run_search"]


def __getattr__(name: str) -> Any:
    if name == "run_search":
        from nasbench_sd.search.loop import run_search

        return run_search
    if name == "cosine_lr":
        from nasbench_sd.search.schedule import cosine_lr

        return cosine_lr
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
