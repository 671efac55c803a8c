"""Seed-batched tensors: S runs' state stacked along a leading dimension, and its per-seed slices.

A seed-batched search (``nasbench-sd run --batch-seeds S``,
:func:`nasbench_sd.search.batched.run_seed_batch`) trains S seeds of one method
as one :class:`~nasbench_sd.nn.batched.BatchedSuperNet`. Every per-seed tensor
then has a leading dimension of size S (parameters, their gradients and
optimiser state, the method's architecture parameters, batches, losses and
step statistics), and each seed's slice is computed exactly as that seed's own
run computes it:

* the losses of the S seeds are summed before ``backward``, so each seed's
  gradients are its own loss's gradients;
* SGD (momentum, weight decay, Nesterov) and Adam act elementwise, so one
  optimiser over the stacked tensors steps every seed as its own optimiser
  would (its state is sliced per seed by :func:`seed_optimizer_state`);
* what takes a norm over a whole gradient is per seed: gradient clipping
  (:func:`clip_grad_norm_per_seed`).

Nothing here knows about methods or networks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch

from nasbench_sd.errors import UserError

#: Why single-path methods (one sampled op per edge and forward pass) run their seeds separately.
SINGLE_PATH = ("each forward pass runs one sampled op per edge and the seeds sample different ops, so one "
               "call cannot run every seed's structure (masking all five ops in would do the dense supernet's "
               "work, several times each seed's own)")


def clip_grad_norm_per_seed(params: Iterable[torch.Tensor], max_norm: float) -> None:
    """``torch.nn.utils.clip_grad_norm_`` (2-norm, the same formula) for each seed on
    its own: the norm of seed ``s`` is taken over the slices ``p.grad[s]`` of all
    ``params``, and only those slices are scaled."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), 2, dim=1) for g in grads])  # [P, S]
    total = torch.linalg.vector_norm(norms, 2, dim=0)  # [S]
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.to(g.dtype).view(-1, *([1] * (g.dim() - 1))))


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimiser's parameters in ``state_dict`` order (their ids there are 0, 1, ...)."""
    return [p for group in optimizer.param_groups for p in group["params"]]


def _per_seed(value: Any, param: torch.Tensor) -> bool:
    """Is this optimiser state entry shaped like its (stacked) parameter, i.e. per seed?"""
    return isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape == param.shape


def seed_optimizer_state(optimizer: torch.optim.Optimizer, index: int) -> dict[str, Any]:
    """The ``state_dict`` that seed ``index``'s own optimiser would have: every state
    entry shaped like its stacked parameter (momentum buffers, Adam moments) sliced,
    the others (Adam's step count) and the parameter groups as they are."""
    full = optimizer.state_dict()
    params = _params(optimizer)
    state = {}
    for pid, entry in full["state"].items():
        p = params[pid]
        state[pid] = {k: (v[index].clone() if _per_seed(v, p) else v.clone() if isinstance(v, torch.Tensor)
                          else copy.deepcopy(v)) for k, v in entry.items()}
    return {"state": state, "param_groups": copy.deepcopy(full["param_groups"])}


def load_seed_optimizer_state(optimizer: torch.optim.Optimizer, index: int, state: dict[str, Any]) -> None:
    """Load seed ``index``'s optimiser ``state_dict`` (:func:`seed_optimizer_state`, or
    that of a run of its own) into that seed's slices. Entries that are not per seed
    (Adam's step count) are shared: every seed of a batch has the same."""
    params = _params(optimizer)
    if len(state["param_groups"]) != len(optimizer.param_groups) or \
            sum(len(g["params"]) for g in state["param_groups"]) != len(params):
        raise UserError("the optimiser state does not fit this run (another method or network size?)")
    for pid, entry in state["state"].items():
        p = params[int(pid)]
        own = optimizer.state[p]
        for k, v in entry.items():
            if isinstance(v, torch.Tensor) and v.dim() >= 1:
                if tuple(v.shape) != tuple(p.shape[1:]):
                    raise UserError(f"optimiser state {k} has shape {tuple(v.shape)}, this run needs "
                                    f"{tuple(p.shape[1:])}")
                if k not in own:
                    own[k] = torch.zeros_like(p, memory_format=torch.preserve_format)
                with torch.no_grad():
                    own[k][index].copy_(v)
            else:
                own[k] = v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)


__all__ = ["SINGLE_PATH", "clip_grad_norm_per_seed", "load_seed_optimizer_state", "seed_optimizer_state"]
