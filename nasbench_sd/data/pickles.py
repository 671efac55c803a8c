"""Safe reading of the image pickles that CIFAR and ImageNet16 ship as.

The files are pickled dicts with ``data`` (uint8, N x 3*H*W, channel-major)
and a list of integer labels. Unpickling is restricted to the few numpy
objects such files contain, so a foreign or malicious file is rejected
instead of executed; every defect (missing key, truncation, wrong shape)
becomes a :class:`~nasbench_sd.errors.UserError` naming the file.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_sd.errors import UserError


def _multiarray() -> Any:
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


def _numeric() -> Any:
    try:  # numpy >= 2
        from numpy._core import numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import numeric
    return numeric


def _allowed() -> dict[tuple[str, str], Callable[..., Any]]:
    ma = _multiarray()
    allowed: dict[tuple[str, str], Callable[..., Any]] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = ma._reconstruct
        allowed[(module, "scalar")] = ma.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):  # arrays pickled with protocol 5
        allowed[(module, "_frombuffer")] = _numeric()._frombuffer
    import _codecs  # used by protocol-2 pickles written under Python 3

    allowed[("_codecs", "encode")] = _codecs.encode
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array/dtype/scalar constructors."""

    def __init__(self, file: Any) -> None:
        super().__init__(file, encoding="latin1")
        self._allowed = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}") from None


def load_pickle(path: Path) -> dict[str, Any]:
    """Unpickle a data file into a dict with ``str`` keys.

    Raises:
        UserError: the file cannot be read or is not a pickled dict.
    """
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f).load()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    except Exception as e:  # truncated/corrupt pickles raise many types
        detail = " ".join(str(e).split())  # keep the message on one line
        raise UserError(f"corrupt data file {path}: {type(e).__name__}: {detail}") from None
    if not isinstance(obj, dict):
        raise UserError(f"corrupt data file {path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_image_pickle(
    path: Path, label_key: str, image_size: int, label_range: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Read one image pickle; return images uint8 [N,3,H,W] and labels int64 [N] (as stored).

    Args:
        path: the pickle file.
        label_key: key of the label list (``labels`` or ``fine_labels``).
        image_size: H = W of the images; rows of ``data`` must be 3*H*W long.
        label_range: inclusive (low, high) bounds every stored label must lie in.

    Raises:
        UserError: missing keys, wrong dtype or shape, or labels out of range.
    """
    d = load_pickle(path)
    if "data" not in d or label_key not in d:
        raise UserError(f"corrupt data file {path}: needs keys 'data' and {label_key!r}")
    width = 3 * image_size * image_size
    data = d["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != width:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise UserError(f"corrupt data file {path}: 'data' must be uint8 N x {width}, got {got}")
    try:
        labels = np.asarray(d[label_key], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"corrupt data file {path}: {label_key!r} is not a list of integers") from None
    if labels.shape != (data.shape[0],):
        raise UserError(f"corrupt data file {path}: {data.shape[0]} images but {label_key!r} has shape {labels.shape}")
    low, high = label_range
    if labels.size and (labels.min() < low or labels.max() > high):
        raise UserError(
            f"corrupt data file {path}: labels must lie in [{low}, {high}], found [{labels.min()}, {labels.max()}]"
        )
    return data.reshape(-1, 3, image_size, image_size), labels
