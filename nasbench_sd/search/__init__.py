"""The search loop, its run directory and checkpoints; called, one search.

``run_search(run_config, out_dir)`` runs or resumes one (method, seed) search;
``run_seed_batch(run_configs, out_dirs)`` runs several seeds of one method as
one seed-batched supernet (:mod:`nasbench_sd.search.batched`).

This package is also the API's ``nasbench_sd.search``: calling it,
``nasbench_sd.search("sd-darts", preset="cpu", seed=0, epochs=2)``, runs
:func:`nasbench_sd.api.runs.search` (same arguments, same result; see
:class:`nasbench_sd.SearchPackage`). Its members load on first use: importing
it imports no torch, and reading run directories (``status``, ``table``:
:mod:`nasbench_sd.search.rundir`) does not either.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from nasbench_sd import SearchPackage

_LAZY = {"run_search": "nasbench_sd.search.loop", "run_seed_batch": "nasbench_sd.search.batched",
         "cosine_lr": "nasbench_sd.search.schedule"}

__all__ = ["cosine_lr", "run_search", "run_seed_batch"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = SearchPackage
