"""Small synthetic search data and configs shared by the search tests."""

from __future__ import annotations

import torch

from nasbench_sd.data import SearchData
from nasbench_sd.presets import build_run_config
from nasbench_sd.search.rundir import RunDir

TINY = {"channels": "4", "cells_per_stage": "1", "batch_size": "16", "epochs": "3"}


def tiny_data(n: int = 48, size: int = 8, seed: int = 0) -> SearchData:
    """Random 8x8 'images' whose label is readable from the mean colour."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (2 * n,), generator=g)
    images = torch.randint(0, 120, (2 * n, 3, size, size), generator=g, dtype=torch.uint8)
    images[:, 0] += (labels * 12).to(torch.uint8)[:, None, None]
    idx = torch.arange(2 * n)
    return SearchData(
        dataset="cifar10", split="official",
        train_images=images[:n], train_labels=labels[:n], train_index=idx[:n],
        valid_images=images[n:], valid_labels=labels[n:], valid_index=idx[n:],
        num_classes=10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), padding=1, limit=n,
    )


def tiny_config(method: str = "darts-v1", seed: int = 0, **sets: str):
    return build_run_config(method, "cpu", seed, {**TINY, **{k: str(v) for k, v in sets.items()}})


def run_search_process(out, method: str, sets: dict[str, str], resume: bool, env: dict[str, str] | None = None):
    """``run_search`` on :func:`tiny_data` in a fresh interpreter on one torch thread
    (for kills); returns the CompletedProcess."""
    import subprocess
    import sys
    from pathlib import Path

    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import torch; "
            "torch.set_num_threads(1); from searchkit import tiny_config, tiny_data; "
            "from nasbench_sd.search import run_search; "
            f"run_search(tiny_config({method!r}, **{sets!r}), {str(out)!r}, data=tiny_data(), quiet=True, "
            f"resume={resume!r})")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)


def same_state(a, b, path: str = "") -> str | None:
    """Where two checkpoint states (nested dicts/lists of tensors and numbers) differ
    bit for bit, or None."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        ok = (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
              and a.shape == b.shape and torch.equal(a, b))
        return None if ok else path or "<root>"
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(map(str, set(a) ^ set(b)))}"
        return next((d for k in a if (d := same_state(a[k], b[k], f"{path}/{k}")) is not None), None)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: length {len(a)} vs {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := same_state(x, y, f"{path}/{i}")) is not None),
                    None)
    return None if a == b else f"{path}: {a!r} vs {b!r}"


#: Checkpoint entries that must equal an uninterrupted run's bit for bit (not wall times).
STATE = ("epoch", "network", "w_optimizer", "method", "loader", "torch_rng")


def assert_same_end(a: RunDir, b: RunDir, keys: tuple[str, ...] = STATE) -> None:
    """Same cell, same final state bit for bit, same records except wall times."""
    assert a.result()["cell"] == b.result()["cell"]
    sa, sb = a.load_checkpoint(), b.load_checkpoint()
    for key in keys:
        assert same_state(sa[key], sb[key]) is None, f"{key}{same_state(sa[key], sb[key])}"
    assert sa["method"]["a_optimizer"]["state"] and sa["w_optimizer"]["state"]  # Adam moments, SGD momentum
    strip = lambda rs: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rs]  # noqa: E731
    assert strip(a.metrics()) == strip(b.metrics())
