"""A synthetic CIFAR-10 in the official "python version" layout, for tests.

:func:`write_cifar10` writes ``cifar-10-batches-py/`` (``data_batch_1..5``,
``test_batch``, ``batches.meta``, ``readme.html``) with the official keys
(``data`` uint8 N x 3072 in CHW order, ``labels``, ``batch_label``,
``filenames``), so every reader, split and loader runs on it as on the real
files. The images are not CIFAR's: each class has its own coarse colour
pattern under noise, so a short search learns something (a linear probe
separates the classes well). :func:`cifar10_archive` packs such a folder as
``cifar-10-python.tar.gz`` is packed, for download tests.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

FOLDER = "cifar-10-batches-py"
LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _class_patterns(rng: np.random.Generator) -> np.ndarray:
    """One 3 x 32 x 32 pattern per class: a random 4 x 4 colour grid, upsampled (float, about -1..1)."""
    coarse = rng.uniform(-1.0, 1.0, size=(10, 3, 4, 4))
    return coarse.repeat(8, axis=2).repeat(8, axis=3)


def _batch(rng: np.random.Generator, patterns: np.ndarray, n: int, label: str) -> dict[bytes, object]:
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    noise = rng.integers(-48, 49, size=(n, 3 * 32 * 32), dtype=np.int16)
    signal = (56 * patterns[labels]).reshape(n, -1).astype(np.int16)
    data = np.clip(128 + signal + noise, 0, 255).astype(np.uint8)
    return {b"batch_label": label.encode(), b"labels": [int(y) for y in labels], b"data": data,
            b"filenames": [f"synthetic_{i:05d}.png".encode() for i in range(n)]}


def write_cifar10(root: str | Path, per_batch: int = 10_000, n_test: int = 10_000, seed: int = 0,
                  protocol: int = 4) -> Path:
    """Write a synthetic ``cifar-10-batches-py/`` under ``root``; returns ``root``.

    ``per_batch`` images in each of the five training batches (10,000 as in
    CIFAR-10, which the official 25k/25k search split needs) and ``n_test`` in
    ``test_batch``. ``protocol`` is the pickle protocol (the official files
    are protocol-2 pickles; 4 is faster to write and read).
    """
    rng = np.random.default_rng(seed)
    patterns = _class_patterns(rng)
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    batches = [(f"data_batch_{i}", per_batch, f"training batch {i} of 5") for i in range(1, 6)]
    for name, n, label in [*batches, ("test_batch", n_test, "testing batch 1 of 1")]:
        with open(folder / name, "wb") as f:
            pickle.dump(_batch(rng, patterns, n, label), f, protocol=protocol)
    meta = {b"num_cases_per_batch": per_batch, b"label_names": [n.encode() for n in LABEL_NAMES], b"num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=protocol)
    (folder / "readme.html").write_text("<p>Synthetic CIFAR-10 for tests (not CIFAR's images).</p>\n")
    return Path(root)


def cifar10_archive(path: str | Path, per_batch: int = 60, n_test: int = 60, seed: int = 0) -> str:
    """Write a synthetic ``cifar-10-python.tar.gz``-style archive to ``path``; returns its MD5 (hex).

    The archive holds ``cifar-10-batches-py/`` with the official member names,
    written with pickle protocol 2 as the official files are.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_cifar10(tmp, per_batch, n_test, seed, protocol=2)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(Path(tmp) / FOLDER, arcname=FOLDER)
    Path(path).write_bytes(buf.getvalue())
    return hashlib.md5(buf.getvalue()).hexdigest()


__all__ = ["FOLDER", "LABEL_NAMES", "cifar10_archive", "write_cifar10"]
