"""Shared fixtures: where ../shared/data lies, a synthetic CIFAR-10 where it does not."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NASBENCH_SD_SHARED", REPO.parent / "shared")) / "data"


def _real_cifar10() -> Path | None:
    root = SHARED_DATA / "cifar10"
    return root if (root / "cifar-10-batches-py" / "data_batch_1").is_file() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the clone (skips the test where it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cifar10_root(shared_data: Path) -> Path:
    """A data root holding the real ``cifar-10-batches-py/`` (skips where absent):
    only for tests of facts about the real files (counts, class balance, statistics)."""
    root = _real_cifar10()
    if root is None:
        pytest.skip(f"real CIFAR-10 not found under {shared_data / 'cifar10'}")
    return root


@pytest.fixture(scope="session")
def nb201_csv() -> Path:
    """The bundled NB201 v1_1 table (``nb201_v1_1.csv.gz``; equal to ../shared's copy, see
    test_benchmark), for tests that feed its raw rows to a fake official API."""
    from importlib import resources

    return Path(str(resources.files("nasbench_sd.resources").joinpath("nb201_v1_1.csv.gz")))


@pytest.fixture(scope="session")
def cifar10_format(tmp_path_factory) -> Path:
    """A data root with CIFAR-10 in the official python-version format: the real
    files where ../shared has them, else a synthetic copy written once per session
    (50k + 10k images with learnable class structure, see nasbench_sd.testing.synthetic)."""
    real = _real_cifar10()
    if real is not None:
        return real
    from nasbench_sd.testing.synthetic import write_cifar10

    return write_cifar10(tmp_path_factory.mktemp("cifar10-synthetic"))


@pytest.fixture(scope="session", autouse=True)
def offline():
    """No test downloads a data set by accident (tests of downloading unset this)."""
    before = os.environ.get("NASBENCH_SD_OFFLINE")
    os.environ["NASBENCH_SD_OFFLINE"] = "1"
    yield
    if before is None:
        os.environ.pop("NASBENCH_SD_OFFLINE", None)
    else:
        os.environ["NASBENCH_SD_OFFLINE"] = before


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_reaches_python():
    """The tests of Ctrl-C expect Python's own SIGINT handler. A shell without job
    control (``nohup pytest &``, a script's ``&``) starts pytest with SIGINT ignored,
    and every process it starts inherits that, so Ctrl-C would do nothing there:
    give this process Python's handler back (its children then start with the default)."""
    before = signal.getsignal(signal.SIGINT)
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (restored afterwards)."""
    from nasbench_sd.testing.contract import single_thread

    with single_thread():
        yield
