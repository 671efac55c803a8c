"""``torch.compile`` of the supernet, as the ``compile`` and ``compile_mode`` settings ask.

Used by both search loops (one run, a seed batch). The loops keep the plain module for
state dicts and checkpoints and step through the compiled one. ``reduce-overhead`` and
``max-autotune`` replay CUDA graphs (CUDA graph trees): a graph's outputs may be
overwritten when it runs again, so each search step begins with
``torch.compiler.cudagraph_mark_step_begin()`` (:func:`step_begin`); the loops keep no
network output across steps (statistics are accumulated into their own tensors). With
``drop_last=false`` the last, partial batch of an epoch has other shapes and is compiled
(and captured) once more. ``eager`` runs TorchDynamo's tracing with the eager backend: no
speed-up, a check that the step traces (and how often it recompiles) on any device.
"""

from __future__ import annotations

import torch

from nasbench_sd.config import SearchConfig

#: Modes that replay CUDA graphs (torch.compile's inductor with cudagraphs on).
GRAPH_MODES = ("reduce-overhead", "max-autotune")


def compiled(net: torch.nn.Module, s: SearchConfig) -> torch.nn.Module:
    """The module the loop steps through: ``net`` itself, or ``net`` compiled as ``s`` asks."""
    if not s.compile:
        return net
    if s.compile_mode == "eager":
        return torch.compile(net, backend="eager")
    return torch.compile(net, mode=s.compile_mode)


def step_begin(s: SearchConfig) -> None:
    """Start a step: under a CUDA-graph mode, outputs of the previous step's replays may be reused."""
    if s.compile and s.compile_mode in GRAPH_MODES:
        torch.compiler.cudagraph_mark_step_begin()
