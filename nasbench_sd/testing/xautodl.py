"""The NB201 authors' own networks (``xautodl`` 1.0.0, the optional ``reference``
extra) as an independent reference for ours, with their weights mapped.

* :func:`search_network`: ``TinyNetworkDarts`` (dense, DARTS) or
  ``TinyNetworkGDAS`` (sampled, GDAS) as the NB201 search code builds them
  (search cells with BN without affine parameters and batch statistics);
* :func:`eval_network`: ``TinyNetwork`` of one cell (``cell_infers``);
* :func:`copy_in_order`: copies every tensor of one network's ``state_dict``
  into another's, in registration order (the two layouts hold the same tensors
  in the same order under other names), checking every shape.

Install: ``pip install --no-deps xautodl==1.0.0 pyyaml`` (its wheel pins
``numpy<=1.19.5``, which cannot be installed on Python 3.11 / with numpy 2;
the networks need only torch). Everything here imports xautodl lazily.
"""

from __future__ import annotations

import torch
from torch import nn

from nasbench_sd.cells import OPS
from nasbench_sd.errors import UserError

#: xautodl's names for the network classes
KINDS = {"darts": "TinyNetworkDarts", "gdas": "TinyNetworkGDAS"}


def _import(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise UserError("the xautodl reference needs: pip install --no-deps xautodl==1.0.0 pyyaml") from None


def search_network(kind: str, channels: int, cells_per_stage: int, num_classes: int = 10) -> nn.Module:
    """xautodl's NB201 search network ``kind`` (``darts`` or ``gdas``): 4 nodes,
    our op order, ``affine=False``, ``track_running_stats=False`` (batch-statistics BN)."""
    searchs = _import("xautodl.models.cell_searchs")
    cls = getattr(searchs, KINDS[kind])
    return cls(channels, cells_per_stage, 4, num_classes, list(OPS), False, False)


def eval_network(cell: str, channels: int, cells_per_stage: int, num_classes: int = 10) -> nn.Module:
    """xautodl's ``TinyNetwork`` of the cell ``cell`` (an arch string); its forward
    returns ``(features, logits)``."""
    infers = _import("xautodl.models.cell_infers.tiny_network")
    genotypes = _import("xautodl.models.cell_searchs.genotypes")
    return infers.TinyNetwork(channels, cells_per_stage, genotypes.Structure.str2structure(cell), num_classes)


def copy_in_order(src: nn.Module, dst: nn.Module, skip: tuple[str, ...] = ("arch_parameters",)) -> None:
    """Copy ``src``'s state_dict tensors into ``dst``'s, pairing them in order (keys
    named in ``skip`` left out); raises if their number or any shape differs."""
    a = [(k, v) for k, v in src.state_dict().items() if k.split(".")[-1] not in skip]
    b = [(k, v) for k, v in dst.state_dict().items() if k.split(".")[-1] not in skip]
    if len(a) != len(b):
        raise ValueError(f"{len(a)} tensors in {type(src).__name__}, {len(b)} in {type(dst).__name__}")
    state = {}
    for (ka, va), (kb, vb) in zip(a, b):
        if va.shape != vb.shape:
            raise ValueError(f"{ka} {tuple(va.shape)} does not fit {kb} {tuple(vb.shape)}")
        state[kb] = va.detach().clone().to(vb.dtype)
    dst.load_state_dict(state, strict=False)


def logits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits of an xautodl network (they return ``(features, logits)``)."""
    return net(x)[1]
