"""Our networks equal the NB201 authors' own (xautodl 1.0.0, the `reference` extra):
the supernet equals TinyNetworkDarts (dense) and TinyNetworkGDAS (the same
Gumbel sample), the evaluation network equals TinyNetwork, weights mapped in
order; logits and every gradient. Skipped where xautodl is not installed."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.cells import NUM_EDGES, NUM_OPS, random_cell
from nasbench_sd.methods.gdas import GDAS
from nasbench_sd.nn.evalnet import EvalNet
from nasbench_sd.nn.supernet import SuperNet

pytest.importorskip("xautodl")
from nasbench_sd.testing import xautodl  # noqa: E402

C, N, B, HW = 8, 1, 4, 16
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-3, atol=1e-5)}
pytestmark = pytest.mark.usefixtures("one_thread")


def pair(kind: str, dtype: torch.dtype):
    torch.manual_seed(0)
    ref = xautodl.search_network(kind, C, N).to(dtype)
    ours = SuperNet(C, N, 10).to(dtype)
    xautodl.copy_in_order(ref, ours)
    return ref, ours


def grads(loss, alpha, params):
    """Gradients w.r.t. alpha and ``params``; zeros for tensors no path uses (ops not sampled)."""
    wrt = [alpha, *params]
    return [torch.zeros_like(t) if g is None else g
            for t, g in zip(wrt, torch.autograd.grad(loss, wrt, allow_unused=True))]


def check(out_ours, out_ref, g_ours, g_ref, dtype, names):
    torch.testing.assert_close(out_ours, out_ref, **TOL[dtype])
    assert len(g_ours) == len(g_ref)
    for name, a, b in zip(names, g_ours, g_ref):
        torch.testing.assert_close(a, b, **TOL[dtype], msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_supernet_equals_xautodl_darts(dtype):
    ref, ours = pair("darts", dtype)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, 3, HW, HW, generator=g, dtype=dtype)
    y = torch.randint(0, 10, (B,), generator=g)
    for seed in range(2):
        alpha = torch.randn(NUM_EDGES, NUM_OPS, generator=torch.Generator().manual_seed(seed), dtype=dtype)
        with torch.no_grad():
            ref.arch_parameters.copy_(alpha)
        alpha = alpha.clone().requires_grad_(True)
        out_ref = xautodl.logits(ref, x)
        g_ref = grads(F.cross_entropy(out_ref, y), ref.arch_parameters, [p for n, p in ref.named_parameters()
                                                                        if n != "arch_parameters"])
        out = ours(x, F.softmax(alpha, dim=-1))
        g_ours = grads(F.cross_entropy(out, y), alpha, list(ours.parameters()))
        check(out, out_ref, g_ours, g_ref, dtype, ["alpha"] + [n for n, _ in ours.named_parameters()])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_supernet_with_gdas_sample_equals_xautodl_gdas(dtype):
    ref, ours = pair("gdas", dtype)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, 3, HW, HW, generator=g, dtype=dtype)
    y = torch.randint(0, 10, (B,), generator=g)
    for seed in range(3):
        alpha = torch.randn(NUM_EDGES, NUM_OPS, generator=torch.Generator().manual_seed(seed), dtype=dtype)
        with torch.no_grad():
            ref.arch_parameters.copy_(alpha)
        ref.set_tau(0.5 + 4 * seed)
        torch.manual_seed(100 + seed)  # xautodl draws its Gumbel noise from the global generator ...
        out_ref = xautodl.logits(ref, x)
        g_ref = grads(F.cross_entropy(out_ref, y), ref.arch_parameters, [p for n, p in ref.named_parameters()
                                                                        if n != "arch_parameters"])
        torch.manual_seed(100 + seed)  # ... which our GDAS is given here: the same sample
        noise = -torch.empty_like(alpha).exponential_().log()
        method = GDAS()
        method.alpha, method.tau = alpha.clone().requires_grad_(True), ref.get_tau()
        method.gumbel = lambda noise=noise: noise
        hardwts, active = method.edge_weights(training=True)
        out = ours(x, hardwts, active)
        g_ours = grads(F.cross_entropy(out, y), method.alpha, list(ours.parameters()))
        check(out, out_ref, g_ours, g_ref, dtype, ["alpha"] + [n for n, _ in ours.named_parameters()])


@pytest.mark.parametrize("seed", range(4))
def test_evalnet_equals_xautodl_tiny_network(seed):
    cell = random_cell(random.Random(seed))
    torch.manual_seed(seed)
    ref = xautodl.eval_network(str(cell), C, N).double()
    ours = EvalNet(cell, C, N).double()
    assert ours.num_params() == sum(p.numel() for p in ref.parameters())
    xautodl.copy_in_order(ref, ours)
    x = torch.randn(B, 3, HW, HW, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    for train in (True, False):  # batch statistics, then the running statistics the first pass left
        ref.train(train), ours.train(train)
        torch.testing.assert_close(ours(x), xautodl.logits(ref, x), **TOL[torch.float64])
    for (ka, a), (kb, b) in zip(ours.state_dict().items(), ref.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=f"{ka} vs {kb}")


def test_copy_in_order_refuses_other_shapes():
    with pytest.raises(ValueError):
        xautodl.copy_in_order(xautodl.search_network("darts", C, N), SuperNet(2 * C, N, 10))
