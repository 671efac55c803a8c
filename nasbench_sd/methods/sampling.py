"""Shared mathematics of the sampling methods (GDAS, SNAS, DSNAS, DrNAS).

Every random draw here takes a generator that the calling method owns (and
saves in its ``state_dict``), never torch's global RNG, so CPU runs are
deterministic and resumable:

* :func:`gumbel_noise` - Gumbel(0, 1) noise from a CPU generator;
* :func:`categorical_sample` - one op per edge by the Gumbel-max trick
  (exactly a draw from ``softmax(logits)``);
* :func:`dirichlet_rsample` - a reparameterised Dirichlet sample drawn from a
  given generator, with torch's own implicit-reparameterisation gradient
  (the sample and the gradient of ``torch.distributions.Dirichlet.rsample``);
* :func:`dirichlet_kl_to_uniform` - ``KL(Dir(c) || Dir(1, ..., 1))`` in closed form;
* :func:`linear_anneal` - a temperature falling linearly with the epoch.
"""

from __future__ import annotations

import torch


def gumbel_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Gumbel(0, 1) noise ``-log(E)``, ``E ~ Exp(1)``, drawn on the CPU from ``generator``.

    The same draw as the NB201 reference's ``-torch.empty_like(x).exponential_().log()``,
    but from an owned generator.
    """
    return -torch.empty(shape).exponential_(generator=generator).log()


def categorical_sample(logits: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Row-wise ``argmax(logits + noise)``: with Gumbel ``noise`` an exact sample of
    ``Categorical(softmax(logits))`` per row (Gumbel-max trick). Long tensor of ids."""
    return (logits.detach() + noise.to(logits.device, non_blocking=True)).argmax(dim=-1)  # no wait for the GPU


def linear_anneal(start: float, end: float, epoch: int, span: int) -> float:
    """``start - (start - end) * epoch / span`` (``start`` when ``span <= 0``).

    GDAS (NB201 reference) reaches ``end`` at the last epoch (``span = epochs - 1``);
    SNAS as DrNAS runs it decreases by ``(start - end) / epochs`` per epoch
    (``span = epochs``) and never trains at ``end``.
    """
    if span <= 0:
        return float(start)
    return float(start - (start - end) * epoch / span)


class _DirichletSample(torch.autograd.Function):
    """``torch._sample_dirichlet`` with a generator, differentiated like torch's
    ``Dirichlet.rsample`` (implicit reparameterisation, ``torch._dirichlet_grad``)."""

    @staticmethod
    def forward(ctx, concentration: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        x = torch._sample_dirichlet(concentration, generator=generator)
        ctx.save_for_backward(x, concentration)
        return x

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        x, concentration = ctx.saved_tensors
        total = concentration.sum(-1, True).expand_as(concentration)
        grad = torch._dirichlet_grad(x, concentration, total)
        return grad * (grad_output - (x * grad_output).sum(-1, True)), None


def dirichlet_rsample(concentration: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One reparameterised sample of ``Dirichlet(concentration)`` per row.

    ``generator`` must live on ``concentration``'s device. On CPU the draw equals
    ``torch.distributions.Dirichlet(concentration).rsample()`` after
    ``torch.manual_seed(s)`` when ``generator`` is seeded with ``s``, and so does
    its gradient. Torch clamps the Gamma draws to the smallest normal number, so
    rows stay finite and on the simplex even for concentrations near 0.
    """
    return _DirichletSample.apply(concentration, generator)


def dirichlet_kl_to_uniform(concentration: torch.Tensor) -> torch.Tensor:
    """``sum over rows of KL(Dir(c) || Dir(1, ..., 1))`` in closed form:
    ``lnG(C) - sum_k lnG(c_k) - lnG(K) + sum_k (c_k - 1)(psi(c_k) - psi(C))``, ``C = sum_k c_k``.
    0 (with zero gradient) at ``c = 1``. One sum per seed (``[S]``) for seed-batched ``[S, 6, 5]``."""
    c = concentration
    total = c.sum(-1)
    k = c.new_full((), float(c.shape[-1]))  # filled on the device: no blocking host-to-GPU copy
    kl = (torch.lgamma(total) - torch.lgamma(c).sum(-1) - torch.lgamma(k)
          + ((c - 1) * (torch.digamma(c) - torch.digamma(total).unsqueeze(-1))).sum(-1))
    return kl.sum(-1)


def owned_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(seed)
