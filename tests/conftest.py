"""Shared fixtures: where ../shared/data lies, and skips where it does not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NASBENCH_SD_SHARED", REPO.parent / "shared")) / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the clone (skips the test where it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cifar10_root(shared_data: Path) -> Path:
    """A data root holding the real ``cifar-10-batches-py/`` (skips where absent)."""
    root = shared_data / "cifar10"
    if not (root / "cifar-10-batches-py" / "data_batch_1").is_file():
        pytest.skip(f"real CIFAR-10 not found under {root}")
    return root


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (restored afterwards)."""
    from nasbench_sd.testing.contract import single_thread

    with single_thread():
        yield
