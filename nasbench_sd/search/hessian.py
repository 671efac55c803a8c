"""Dominant eigenvalue of the Hessian of the valid loss w.r.t. the architecture
parameters (SD-DARTS paper, Fig. 2), by power iteration on Hessian-vector
products computed with double back-propagation."""

from __future__ import annotations

from collections.abc import Callable

import torch


def dominant_eigenvalue(loss_fn: Callable[[], torch.Tensor], params: list[torch.Tensor], iters: int = 20,
                        generator: torch.Generator | None = None) -> float:
    """Largest-magnitude eigenvalue of d^2 loss / d params^2 (params flattened)."""
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    v = [torch.randn(p.shape, generator=generator).to(p.device, p.dtype) for p in params]
    norm = torch.sqrt(sum((x * x).sum() for x in v))
    v = [x / norm for x in v]
    eig = 0.0
    for i in range(iters):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=i < iters - 1)
        eig = float(sum((a * b).sum() for a, b in zip(hv, v)))
        norm = torch.sqrt(sum((x * x).sum() for x in hv))
        if float(norm) == 0.0:
            return 0.0
        v = [x / norm for x in hv]
    return eig
