"""The Hessian of the valid loss w.r.t. the architecture parameters (SD-DARTS
Fig. 2; R-DARTS's dominant-eigenvalue diagnostic), exactly.

alpha has 30 entries, so the whole 30x30 Hessian costs 30 Hessian-vector
products (double back-propagation through one forward pass); it is
symmetrised and its largest eigenvalue taken with ``torch.linalg.eigvalsh``.
No power iteration: no iteration count, no sign ambiguity, no random start.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def exact_hessian(loss_fn: Callable[[], torch.Tensor], param: torch.Tensor) -> torch.Tensor:
    """The [n, n] Hessian d^2 loss / d param^2 (``param`` flattened, n = numel), symmetrised.

    Row i is the Hessian-vector product with the i-th unit vector; all rows
    come from one forward pass and one gradient graph. Returned in float64."""
    loss = loss_fn()
    (grad,) = torch.autograd.grad(loss, [param], create_graph=True)
    flat = grad.reshape(-1)
    n = flat.numel()
    rows = []
    for i in range(n):
        if flat.grad_fn is None:  # the loss does not depend on param twice: a zero Hessian
            rows.append(torch.zeros(n, dtype=torch.float64))
            continue
        (row,) = torch.autograd.grad(flat[i], [param], retain_graph=i < n - 1, allow_unused=True)
        rows.append(torch.zeros(n, dtype=torch.float64) if row is None
                    else row.detach().reshape(-1).to("cpu", torch.float64))
    h = torch.stack(rows)
    return 0.5 * (h + h.T)


def top_hessian_eigenvalue(loss_fn: Callable[[], torch.Tensor], param: torch.Tensor) -> float:
    """Largest (algebraic) eigenvalue of the exact, symmetrised Hessian of ``loss_fn`` w.r.t. ``param``."""
    return float(torch.linalg.eigvalsh(exact_hessian(loss_fn, param))[-1])
