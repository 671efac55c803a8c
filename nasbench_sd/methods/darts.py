"""DARTS on NAS-Bench-201: first order (``darts-v1``) and second order (``darts-v2``).

Liu, Simonyan, Yang, "DARTS: Differentiable Architecture Search", ICLR 2019.
Both follow the NB201 reference code (D-X-Y/AutoDL-Projects): alpha is a
[6, 5] matrix shared by all cells, the supernet mixes the ops with
``softmax(alpha)`` and the cell is the argmax per edge. On NB201 both collapse
to the all-skip-connect cell (SD-DARTS paper, Table 4); that is the expected
result, not a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import functional_call

from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext, accuracy


@dataclass(frozen=True)
class DartsV1Config(MethodConfig):
    """DARTS-V1 has no settings of its own (optimisers live in SearchConfig)."""


class DartsV1(ArchParamMethod):
    """First-order DARTS: per step a weight step on the train batch, then an
    Adam step of alpha on the valid batch at the current weights (the default
    :class:`ArchParamMethod` step)."""

    name = "darts-v1"
    description = "DARTS, first order: alternate SGD weight steps and Adam alpha steps"
    paper = "Liu, Simonyan, Yang. DARTS: Differentiable Architecture Search. ICLR 2019"
    Config = DartsV1Config
    seed_batching = None  # the base class's steps work on a leading seed dimension (and so its subclasses')
    deviations = (
        "Gradient clipping covers the supernet weights only; the reference clips model.parameters(), "
        "which also holds alpha's (discarded) gradient of the weight loss, so only the clipping factor "
        "can differ.",
    )


@dataclass(frozen=True)
class DartsV2Config(MethodConfig):
    """Settings of second-order DARTS."""

    #: r of the finite-difference step R = r / ||grad_w' L_val(w')|| (DARTS code: 1e-2).
    fd_epsilon: float = 0.01

    def __post_init__(self) -> None:
        if not self.fd_epsilon > 0:
            raise UserError(f"darts-v2 fd_epsilon must be > 0, got {self.fd_epsilon}")


def finite_difference_hvp(grad_at: Callable[[list[torch.Tensor]], list[torch.Tensor]],
                          w: Sequence[torch.Tensor], v: Sequence[torch.Tensor],
                          epsilon: float = 0.01, per_seed: bool = False) -> list[torch.Tensor]:
    """Mixed second derivative ``(d^2 L / d alpha d w) v`` by central differences.

    ``grad_at(values)`` returns grad_alpha L at weights ``values``;
    R = epsilon / ||v|| and the result is
    ``(grad_at(w + R v) - grad_at(w - R v)) / (2 R)`` (DARTS, Eq. 8). ``w`` is
    never modified. A zero ``v`` gives a zero product; that case is decided on
    the device (``torch.where``), so the function never reads the device.
    ``per_seed=True``: every tensor has a leading seed dimension and each seed
    takes its own ``R`` from the norm of its own slices of ``v``.
    """
    if per_seed:
        norm = torch.sqrt(sum((t.detach() * t.detach()).flatten(1).sum(1) for t in v))  # [S]
    else:
        norm = torch.sqrt(sum((t.detach() * t.detach()).sum() for t in v))
    zero = norm == 0.0  # decided on the device: no host read (the two passes then differ by nothing)
    r = epsilon / torch.where(zero, torch.ones_like(norm), norm)

    def lead(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:  # [S] broadcast over a seed-batched tensor
        return x.view(-1, *([1] * (like.dim() - 1))) if per_seed else x

    plus = grad_at([p.detach() + lead(r, d) * d for p, d in zip(w, v)])
    minus = grad_at([p.detach() - lead(r, d) * d for p, d in zip(w, v)])
    return [torch.where(lead(zero, a), torch.zeros_like(a), (a - b) / (2 * lead(r, a))) for a, b in zip(plus, minus)]


class DartsV2(DartsV1):
    """Second-order DARTS as the NB201 reference runs it.

    Per step, FIRST the unrolled architecture step (on the weights before this
    step's weight update), THEN the ordinary weight step:

    1. virtual step ``w' = w - lr * (momentum * buf + grad_w L_train(w) + wd * w)``
       with the weight optimiser's current lr, momentum, weight decay and
       momentum buffer (zero before the first weight step); Nesterov and grad
       clipping are ignored here, as in the reference;
    2. ``dalpha = grad_alpha L_val(w')`` and ``v = grad_w' L_val(w')``;
    3. ``hvp`` = central finite difference of grad_alpha L_train around w along v
       (:func:`finite_difference_hvp`, R = 0.01 / ||v||);
    4. ``alpha.grad = dalpha - lr * hvp``; Adam step.

    Seed-batched, every seed's R comes from the norm of its own ``v``.

    All forward passes of steps 1-3 go through :func:`torch.func.functional_call`
    with copies of the network's buffers, so the network's parameters, gradients
    and BN running statistics are exactly as before the unrolled computation.
    """

    name = "darts-v2"
    description = "DARTS, second order: unrolled alpha gradient with a finite-difference Hessian term"
    Config = DartsV2Config
    sources = {
        "fd_epsilon": "DARTS paper Sec. 2.3 / NB201 reference DARTS-V2.py: R = 0.01 / ||grad_w' L_val||",
    }
    deviations = DartsV1.deviations + (
        "The virtual step ignores Nesterov and gradient clipping, as the NB201 reference's does.",
    )

    def step(self, batch, ctx: SearchContext) -> dict[str, Any]:
        """Unrolled arch step, then the weight step (NB201 reference order)."""
        stats = self.unrolled_arch_step(batch, ctx)
        stats.update(self.weight_step(batch, ctx))
        return stats

    def unrolled_arch_step(self, batch, ctx: SearchContext) -> dict[str, Any]:
        """Set the arch gradients from :meth:`unrolled_arch_gradients` and take an Adam step."""
        assert self.a_optimizer is not None, "setup() was not called"
        grads, stats = self.unrolled_arch_gradients(batch, ctx)
        self.a_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.arch_parameters(), grads):
            p.grad = g
        self.a_optimizer.step()
        return stats

    # -- the unrolled gradient ---------------------------------------------------------
    def _weight_hyper(self, ctx: SearchContext) -> tuple[float, dict[int, tuple[float, float]]]:
        """The one learning rate and, per parameter id, (momentum, weight decay)."""
        groups = ctx.w_optimizer.param_groups
        lrs = {float(g["lr"]) for g in groups}
        if len(lrs) != 1:
            raise UserError(f"darts-v2 needs one weight learning rate, the optimiser has {sorted(lrs)}")
        hyper = {id(p): (float(g.get("momentum", 0.0)), float(g.get("weight_decay", 0.0)))
                 for g in groups for p in g["params"]}
        return lrs.pop(), hyper

    def unrolled_arch_gradients(self, batch, ctx: SearchContext
                                ) -> tuple[list[torch.Tensor], dict[str, Any]]:
        """``d L_val(w'(alpha)) / d alpha`` (with the finite-difference Hessian
        term) for every arch parameter, and the step statistics on the valid
        batch at ``w'``. Changes nothing in the network or the optimisers."""
        net = ctx.network
        named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
        names = [n for n, _ in named]
        params = [p for _, p in named]
        buffers = dict(net.named_buffers())
        arch = self.arch_parameters()

        def run(values: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            state: dict[str, Any] = {n: b.clone() for n, b in buffers.items()}
            state.update(zip(names, values))
            weights, active = self.edge_weights(training=True)
            return functional_call(net, state, (x, weights.to(x.device), active))

        def grads(loss: torch.Tensor, wrt: Sequence[torch.Tensor]) -> list[torch.Tensor]:
            gs = torch.autograd.grad(loss.sum(), list(wrt), allow_unused=True)  # seed-batched: per-seed losses
            return [torch.zeros_like(t) if g is None else g for t, g in zip(wrt, gs)]

        # 1. virtual SGD step w' (momentum buffer and weight decay as the optimiser has them)
        lr, hyper = self._weight_hyper(ctx)
        train_loss = self.loss(run(params, batch.x_train), batch.y_train, batch.idx_train, "train", ctx)
        g_train = grads(train_loss, params)
        w_prime = []
        with torch.no_grad():
            for p, g in zip(params, g_train):
                momentum, wd = hyper[id(p)]
                buf = ctx.w_optimizer.state.get(p, {}).get("momentum_buffer")
                d = g + wd * p
                if buf is not None and momentum != 0.0:
                    d = d + momentum * buf
                w_prime.append((p - lr * d).requires_grad_(True))

        # 2. valid loss at w': gradients w.r.t. alpha and w'
        logits = run(w_prime, batch.x_valid)
        valid_loss = self.loss(logits, batch.y_valid, batch.idx_valid, "valid", ctx)
        g_valid = grads(valid_loss, [*arch, *w_prime])
        d_alpha, v = g_valid[: len(arch)], g_valid[len(arch):]

        # 3. mixed second derivative of the train loss along v, by finite differences
        def arch_grad_at(values: list[torch.Tensor]) -> list[torch.Tensor]:
            loss = self.loss(run(values, batch.x_train), batch.y_train, batch.idx_train, "train", ctx)
            return grads(loss, arch)

        hvp = finite_difference_hvp(arch_grad_at, params, v, self.config.fd_epsilon, ctx.seed_batch is not None)
        out = [(da - lr * h).detach() for da, h in zip(d_alpha, hvp)]
        return out, {"valid_loss": valid_loss.detach(), "valid_acc": accuracy(logits, batch.y_valid)}
