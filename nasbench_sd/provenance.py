"""Where a number came from: versions, code revision, machine, device, time."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nasbench_sd import __version__


@functools.lru_cache(maxsize=1)
def code_revision() -> str:
    """Git revision of the source tree this package runs from ("+dirty" if
    modified), or "unknown" for an installed copy outside a checkout.

    Read once per process, at the first call (a search makes it when it
    starts): a process runs the code it imported, so a commit or an edit to the
    checkout while a long run goes on must not change what its result reports.
    """
    return git_revision()


def git_revision(package: Path | None = None) -> str:
    """The checkout's revision now (uncached; see :func:`code_revision`).

    "+dirty" means the package's own files differ from that revision: a
    modified, added or deleted file below ``package`` (this package's folder by
    default; git-ignored files such as ``__pycache__`` aside). Changes elsewhere
    in the checkout do not count: a run's own output under ``results/``
    (experiment.json of an experiment committed there) is not code."""
    here = Path(package) if package is not None else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=normal", "--", "."],
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The processor's model name ("Intel(R) Xeon(R) Processor", "AMD EPYC ..."):
    /proc/cpuinfo on Linux, where ``platform.processor()`` is empty; else that,
    else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Processor", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_capability() -> str:
    """The instruction set of the CPU kernels torch dispatches to in this process
    (DEFAULT, AVX2, AVX512, ...; $ATEN_CPU_CAPABILITY lowers it). CPU results
    depend on it: the same run gives other floating-point sums on a machine
    whose kernels differ, so it is recorded with every result."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())  # torch >= 2.1, the floor


def device_name(device: Any) -> str:
    """Human name of a torch device (GPU model or CPU description)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_model()}, {platform.machine()}, {cpu_capability()} kernels, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads)"


def environment(device: Any = "cpu") -> dict[str, Any]:
    """Package versions, code revision, machine and device of this process."""
    import numpy
    import torch

    return {
        "nasbench_sd": __version__,
        "code_revision": code_revision(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cpu_capability": cpu_capability(),
        "device": str(device),
        "device_name": device_name(device),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
