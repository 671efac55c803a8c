"""SuperNet computes the function of the per-edge ReferenceSuperNet, in every mode.

Tolerances: float64 runs compare logits and all gradients with rtol 1e-9 /
atol 1e-10 (the two nets sum in different orders; nothing else differs);
float32 runs use atol 1e-5 on logits and rtol 1e-3 / atol 1e-5 on gradients.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.cells import EDGES, NUM_EDGES, NUM_OPS, OPS
from nasbench_sd.errors import UserError
from nasbench_sd.nn.ops import channel_shuffle
from nasbench_sd.nn.reference import ReferenceSuperNet, copy_reference_weights
from nasbench_sd.nn.supernet import SuperNet, cat_shuffle

C, N, B, HW = 8, 1, 4, 16
TOL = {torch.float64: dict(rtol=1e-9, atol=1e-10), torch.float32: dict(rtol=1e-3, atol=1e-5)}
CONV1, CONV3 = OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")


# Tiny tensors: one intra-op thread is faster and immune to a busy second core.
pytestmark = pytest.mark.usefixtures("one_thread")


def pair(k: int = 1, dtype: torch.dtype = torch.float64, **kw) -> tuple[ReferenceSuperNet, SuperNet]:
    torch.manual_seed(0)
    ref = ReferenceSuperNet(C, N, 10, k).to(dtype)
    fast = SuperNet(C, N, 10, k, **kw).to(dtype)
    copy_reference_weights(ref, fast)
    return ref, fast


def arch(mode: str, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """``(weights, active, alpha)``: random dense weights, or straight-through
    one-hot weights of ``softmax(alpha)`` plus the sampled ops (as GDAS makes them)."""
    g = torch.Generator().manual_seed(seed)
    alpha = torch.randn(NUM_EDGES, NUM_OPS, generator=g, dtype=dtype, requires_grad=True)
    if mode == "dense":
        return alpha, None, alpha
    probs = alpha.softmax(-1)
    active = torch.randint(0, NUM_OPS, (NUM_EDGES,), generator=g)
    hard = F.one_hot(active, NUM_OPS).to(dtype) - probs.detach() + probs
    return hard, active, alpha


def logits_and_grads(net, x, weights, active, wrt_leaf):
    out = net(x, weights, active)
    loss = (out * torch.linspace(-1, 1, out.shape[1], dtype=out.dtype)).square().sum()
    grads = torch.autograd.grad(loss, [wrt_leaf, *net.parameters()], allow_unused=True, retain_graph=True)
    return out, grads


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("mode", ["dense", "sampled"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_supernet_equals_reference(k: int, mode: str, dtype: torch.dtype) -> None:
    ref, fast = pair(k, dtype)
    x = torch.randn(B, 3, HW, HW, generator=torch.Generator().manual_seed(1), dtype=dtype)
    for seed in range(2):
        weights, active, leaf = arch(mode, dtype, seed)
        out_r, g_r = logits_and_grads(ref, x, weights, active, leaf)
        out_f, g_f = logits_and_grads(fast, x, weights, active, leaf)
        torch.testing.assert_close(out_f, out_r, **TOL[dtype])
        names = ["weights"] + [n for n, _ in ref.named_parameters()]
        for name, a, b in zip(names, g_r, g_f):
            if a is None or b is None:  # an op that no path to the output uses: None or zero
                assert all(g is None or torch.count_nonzero(g) == 0 for g in (a, b)), name
                continue
            torch.testing.assert_close(b, a, **TOL[dtype], msg=lambda m, name=name: f"{name}: {m}")


def test_same_state_dict_layout() -> None:
    ref, fast = pair(2)
    assert list(ref.state_dict()) == list(fast.state_dict())
    with pytest.raises(RuntimeError, match="size mismatch"):
        copy_reference_weights(ReferenceSuperNet(C, N, 10, 1), fast)  # different op widths


def test_channels_last_layout_is_an_implementation_detail() -> None:
    torch.manual_seed(0)
    a = SuperNet(C, N, 10, 2, channels_last=True).double()
    b = SuperNet(C, N, 10, 2, channels_last=False).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(B, 3, HW, HW, dtype=torch.float64)
    weights, _, _ = arch("dense", torch.float64)
    torch.testing.assert_close(a(x, weights), b(x, weights), **TOL[torch.float64])
    weights, active, _ = arch("sampled", torch.float64)
    torch.testing.assert_close(a(x, weights, active), b(x, weights, active), **TOL[torch.float64])


@pytest.mark.parametrize("k", [1])  # with k > 1 an edge's weight sum, none included, scales its bypass
def test_none_weight_has_no_effect_in_dense_mode(k: int) -> None:
    _, fast = pair(k)
    x = torch.randn(B, 3, HW, HW, dtype=torch.float64)
    weights = torch.rand(NUM_EDGES, NUM_OPS, dtype=torch.float64, requires_grad=True)
    other = weights.detach().clone()
    other[:, OPS.index("none")] = torch.tensor([5.0, -3.0, 0.0, 7.0, 1e3, -1.0], dtype=torch.float64)
    out = fast(x, weights)
    torch.testing.assert_close(fast(x, other), out, rtol=0, atol=0)
    out.sum().backward()
    assert torch.count_nonzero(weights.grad[:, OPS.index("none")]) == 0
    assert torch.count_nonzero(weights.grad[:, 1:]) > 0


def test_sampled_mode_runs_only_the_active_op() -> None:
    _, fast = pair(1)
    x = torch.randn(B, 3, HW, HW, dtype=torch.float64)
    active = torch.tensor([CONV3, CONV1, 0, 1, 4, CONV3])
    weights = F.one_hot(active, NUM_OPS).double().requires_grad_()
    fast(x, weights, active).square().sum().backward()
    for cell in (m for m in fast.cells if hasattr(m, "edges")):
        for e, edge in enumerate(cell.edges):
            for op in (CONV1, CONV3):
                conv = edge.ops[op].conv
                if int(active[e]) == op:
                    assert conv.weight.grad is not None and torch.count_nonzero(conv.weight.grad) > 0
                else:
                    assert conv.weight.grad is None, (e, OPS[op])


@pytest.mark.parametrize("k", [1, 4])
def test_straight_through_gradient_reaches_every_weight(k: int) -> None:
    """Ops that are not run still pass their (zero-valued) weight's gradient, as in GDAS.

    Every entry gets a gradient except that of an active ``none`` (its output is zero).
    """
    _, fast = pair(k)
    x = torch.randn(B, 3, HW, HW, dtype=torch.float64)
    active = torch.tensor([CONV3, CONV1, 0, 1, 4, CONV3])
    weights = F.one_hot(active, NUM_OPS).double().requires_grad_()
    fast(x, weights, active).square().sum().backward()
    expect_zero = torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.bool)
    expect_zero[2, 0] = k == 1  # with k > 1 the weight sum also scales the bypassed channels
    assert torch.equal(weights.grad == 0, expect_zero), weights.grad


@pytest.mark.parametrize("k", [2, 4])
def test_partial_channel_shapes_and_op_widths(k: int) -> None:
    ref, fast = pair(k)
    x = torch.randn(B, 3, HW, HW, dtype=torch.float64)
    weights, _, _ = arch("dense", torch.float64)
    assert fast(x, weights).shape == (B, 10)
    cells = [m for m in fast.cells if hasattr(m, "edges")]
    assert [c.edges[0].ops[CONV3].conv.in_channels for c in cells] == [C // k, 2 * C // k, 4 * C // k]
    # every edge holds a 1x1 and a 3x3 conv (with bias) on c/k channels
    expect = sum(N * NUM_EDGES * ((c // k) ** 2 * (1 + 9) + 2 * (c // k)) for c in (C, 2 * C, 4 * C))
    assert sum(p.numel() for n, p in fast.named_parameters() if ".edges." in n) == expect


def test_partial_channel_bypass_is_shuffled_identity() -> None:
    """With all weight on ``none`` (row sum 1) a partial-channel edge is shuffle(cat[0, bypass])."""
    torch.manual_seed(0)
    k = 4
    cell = SuperNet(C, N, 10, k).cells[0]
    x = torch.randn(B, C, HW, HW, dtype=torch.float64)
    cell = cell.double()
    only_none = torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.float64)
    only_none[:, OPS.index("none")] = 1.0
    out = cell(x, only_none, None)
    zero_mix = torch.zeros(B, C // k, HW, HW, dtype=torch.float64)
    n1 = channel_shuffle(torch.cat([zero_mix, x[:, C // k:]], 1), k)
    n2 = channel_shuffle(torch.cat([zero_mix, x[:, C // k:] + n1[:, C // k:]], 1), k)
    n3 = channel_shuffle(torch.cat([zero_mix, x[:, C // k:] + n1[:, C // k:] + n2[:, C // k:]], 1), k)
    torch.testing.assert_close(out, n3, rtol=0, atol=0)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_cat_shuffle_equals_cat_then_shuffle(layout: torch.memory_format) -> None:
    for k in (2, 4):
        mixed = torch.randn(2, 3, 5, 4).to(memory_format=layout)
        bypass = torch.randn(2, 3 * (k - 1), 5, 4).to(memory_format=layout)
        expect = channel_shuffle(torch.cat([mixed, bypass], 1), k)
        torch.testing.assert_close(cat_shuffle(mixed, bypass, k), expect, rtol=0, atol=0)


def test_edges_order_matches_cells_module() -> None:
    """Edge e of the weights is the edge cells.EDGES[e]: putting weight only on
    skip of edge 3<-0 and 'none' elsewhere makes every cell the identity."""
    _, fast = pair(1)
    weights = torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.float64)
    weights[EDGES.index((3, 0)), OPS.index("skip_connect")] = 1.0
    cell = fast.cells[0]
    x = torch.randn(B, C, HW, HW, dtype=torch.float64)
    torch.testing.assert_close(cell(x, weights, None), x, rtol=0, atol=0)
    weights2 = torch.zeros_like(weights)
    weights2[EDGES.index((2, 0)), OPS.index("skip_connect")] = 1.0  # node 2 = x, but node 3 ignores it
    assert torch.count_nonzero(cell(x, weights2, None)) == 0


def test_bad_inputs_are_user_errors() -> None:
    _, fast = pair(1)
    x = torch.randn(B, 3, HW, HW, dtype=torch.float64)
    with pytest.raises(UserError, match="shape"):
        fast(x, torch.zeros(5, 6, dtype=torch.float64))
    with pytest.raises(UserError, match="active"):
        fast(x, torch.zeros(6, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 4, 5]))
    with pytest.raises(UserError, match="partial_channels"):
        SuperNet(8, 1, 10, 3)


def test_config_and_sizes() -> None:
    net = SuperNet(8, 2, 7, 2)
    assert net.config == {
        "channels": 8, "cells_per_stage": 2, "num_classes": 7, "partial_channels": 2, "channels_last": True
    }
    ref = ReferenceSuperNet(8, 2, 7, 2)
    assert ref.config == {"channels": 8, "cells_per_stage": 2, "num_classes": 7, "partial_channels": 2}
    assert (net.num_edges, net.num_ops) == (NUM_EDGES, NUM_OPS)
    assert list(net.parameters()) and not any(p.shape == (NUM_EDGES, NUM_OPS) for p in net.parameters())
    assert len(net.cells) == 3 * 2 + 2


def test_partial_channel_edge_factor_scales_whole_edge_output() -> None:
    """Folding a per-edge factor b into the weights multiplies that edge's whole
    output (mixed and bypassed channels) by b, as PC-DARTS edge normalisation does."""
    import torch

    from nasbench_sd.nn.reference import ReferenceSearchCell

    torch.manual_seed(0)
    cell = ReferenceSearchCell(8, partial_channels=4).double()
    h = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    w = torch.softmax(torch.randn(5, dtype=torch.float64), -1)
    plain = cell.edge(0, h, w, None)
    assert torch.allclose(cell.edge(0, h, 0.3 * w, None), 0.3 * plain, atol=1e-12)
