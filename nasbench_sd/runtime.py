"""Process-level settings of a run: the device and the number of CPU threads.

Both are passed in explicitly (nothing is set at import time). On CPU the
thread count changes floating-point reduction order, hence results, so every
command fixes it (default 1) and it is recorded in each result's provenance.
"""

from __future__ import annotations

from typing import Any

from nasbench_sd.errors import UserError

DEFAULT_THREADS = 1


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; validates explicit names."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not (name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise UserError(f"unknown device {name!r} (auto, cpu, cuda, cuda:N)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available (use --device cpu)")
    return name


def set_threads(threads: int | None) -> None:
    """Limit torch's intra-op CPU threads in this process (None/0: leave as is)."""
    if not threads:
        return
    if threads < 0:
        raise UserError(f"--threads must be >= 1, got {threads}")
    import torch

    if torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))


def default_preset(device: str) -> str:
    """The preset used without ``--preset``: ``paper`` (the published protocol) on a
    CUDA device, ``cpu`` (the scaled-down one) elsewhere."""
    return "paper" if device.startswith("cuda") else "cpu"


def choice_line(preset: str, preset_given: bool, device: str, device_given: bool) -> str:
    """One line saying which preset and device a command uses, and why."""
    if preset_given:
        p_why = "--preset"
    elif preset == "paper":
        p_why = "default on CUDA: the published protocol"
    else:
        p_why = "default without CUDA: scaled down to run on a CPU; --preset paper for the published protocol"
    if device_given:
        d_why = "--device"
    else:
        d_why = "auto: CUDA is available" if device.startswith("cuda") else "auto: no CUDA device found"
    return f"preset {preset} ({p_why}), device {device} ({d_why})"


def host_read(t: Any) -> Any:
    """``t.tolist()`` of a tensor that lives on the host by design (e.g. a draw from a
    method's own CPU generator), never of one on the run's device: a read there
    would make the host wait for the GPU. Refuses a tensor on another device.
    The host-read counter (:mod:`nasbench_sd.testing.hostreads`) does not count it."""
    if t.device.type != "cpu":
        raise ValueError(f"host_read of a tensor on {t.device}: read device tensors once per epoch instead")
    return t.tolist()
