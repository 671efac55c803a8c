"""Where the data sets live on disk.

The data root holds one folder per data set, in the layout their authors
publish: ``cifar-10-batches-py/``, ``cifar-100-python/`` and ``ImageNet16/``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the data root when none is passed explicitly.
DATA_ROOT_ENV = "NASBENCH_SD_DATA"

#: Data root used when neither an argument nor the environment variable is given
#: (under ``$XDG_CACHE_HOME`` instead of ``~/.cache`` where that is set).
DEFAULT_DATA_ROOT = Path("~/.cache/nasbench-sd/data")


def default_data_root() -> Path:
    """``$XDG_CACHE_HOME/nasbench-sd/data`` if that variable is set, else ``~/.cache/nasbench-sd/data``."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    return Path(cache).expanduser() / "nasbench-sd" / "data" if cache else DEFAULT_DATA_ROOT.expanduser()


def resolve_data_root(data_root: str | Path | None = None) -> Path:
    """Return the data root: ``data_root`` if given, else ``$NASBENCH_SD_DATA``, else :func:`default_data_root`.

    The path is expanded (``~``) but not required to exist: the readers say
    which file is missing and how to get it.
    """
    if data_root is not None and str(data_root) != "":
        return Path(data_root).expanduser()
    env = os.environ.get(DATA_ROOT_ENV, "")
    if env:
        return Path(env).expanduser()
    return default_data_root()
