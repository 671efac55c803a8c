"""nasbench-sd: differentiable NAS on NAS-Bench-201, centred on SD-DARTS.

The Python API (what the ``nasbench-sd`` command calls)::

    import nasbench_sd as nb
    r = nb.search("sd-darts", preset="cpu", seed=0)      # one search -> a Run
    exp = nb.run(["sd-darts", "darts-v1"], seeds=5)       # many -> an Experiment
    exp.table(baseline="darts-v1")                        # a pandas DataFrame
    nb.query(r.cell)                                      # the six benchmark figures
    nb.load("runs/cpu").curves()                          # per-epoch records

Importing the package is cheap and has no side effects: these names are
loaded on first use (PEP 562), and torch, pandas and matplotlib only by the
functions that need them. ``nasbench_sd.search`` is also the subpackage that
holds the search loop; calling it runs :func:`nasbench_sd.api.runs.search`.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use).
_API = {
    "search": "nasbench_sd.search",  # the subpackage, callable: see nasbench_sd/search/__init__.py
    "run": "nasbench_sd.api.runs",
    "ablate": "nasbench_sd.api.runs",
    "query": "nasbench_sd.api.lookup",
    "load": "nasbench_sd.api.views",
    "Run": "nasbench_sd.api.views",
    "Experiment": "nasbench_sd.api.views",
    "UserError": "nasbench_sd.errors",
    "RunError": "nasbench_sd.errors",
}

__all__ = ["Experiment", "Run", "RunError", "UserError", "__version__", "ablate", "load", "query", "run", "search"]


class SearchPackage(types.ModuleType):
    """The class of the subpackage ``nasbench_sd.search`` (the search loop): calling it
    runs :func:`nasbench_sd.api.runs.search`, so ``nasbench_sd.search(...)`` is the API's
    search whether or not the subpackage was imported before."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from nasbench_sd.api.runs import search

        return search(*args, **kwargs)

    @property
    def __signature__(self) -> Any:  # inspect.signature, IPython's `?`
        import inspect

        from nasbench_sd.api.runs import search

        return inspect.signature(search)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'nasbench_sd' has no attribute {name!r}")
    module = importlib.import_module(_API[name])
    return module if name == "search" else getattr(module, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
