"""DARTS-: the auxiliary skip folded into the skip weight equals an explicit ``beta * x``
added on every edge (per-edge reference network), beta's schedule is the authors'
linear decay, partial channels are refused, and beta0 = 0 is DARTS-V1 bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods.darts_minus import DartsMinus, DartsMinusConfig, beta_at
from nasbench_sd.nn.macro import SearchNet
from nasbench_sd.nn.reference import ReferenceSearchCell, ReferenceSuperNet
from nasbench_sd.nn.supernet import SuperNet
from nasbench_sd.presets import build_run_config
from nasbench_sd.testing import Harness

pytestmark = pytest.mark.usefixtures("one_thread")


class ExplicitAuxCell(ReferenceSearchCell):
    """The reference cell with ``beta * h`` added to every edge's output (DARTS-'s MixedOp)."""

    beta = 0.0

    def edge(self, e, h, w, active):
        return super().edge(e, h, w, active) + self.beta * h


class ExplicitAuxNet(ReferenceSuperNet):
    def __init__(self, channels: int, cells_per_stage: int, num_classes: int) -> None:
        SearchNet.__init__(self, ExplicitAuxCell, channels, cells_per_stage, num_classes, 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_folded_skip_equals_explicit_beta_x_on_every_edge(seed):
    g = torch.Generator().manual_seed(seed)
    beta = float(torch.rand((), generator=g))
    ExplicitAuxCell.beta = beta
    torch.manual_seed(seed)
    ref = ExplicitAuxNet(4, 2, 10).double()
    fast = SuperNet(4, 2, 10).double()
    fast.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (6,), generator=g)

    method = DartsMinus(DartsMinusConfig(), seed=seed)
    method.beta = beta
    method.alpha = torch.randn(6, 5, generator=g, dtype=torch.float64).requires_grad_(True)
    folded, active = method.edge_weights()
    assert active is None
    loss_f = F.cross_entropy(fast(x, folded), y)
    (grad_f,) = torch.autograd.grad(loss_f, [method.alpha])

    alpha = method.alpha.detach().clone().requires_grad_(True)
    loss_r = F.cross_entropy(ref(x, F.softmax(alpha, -1)), y)  # aux path: a constant, no alpha
    (grad_r,) = torch.autograd.grad(loss_r, [alpha])
    torch.testing.assert_close(loss_f, loss_r, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_f, grad_r, rtol=1e-8, atol=1e-12)
    assert beta > 0 and not torch.equal(folded, F.softmax(method.alpha, -1))


def test_beta_schedule_is_the_authors_linear_decay():
    assert [beta_at(e, 1.0, 50) for e in (0, 1, 25, 49, 50, 70)] == pytest.approx([1.0, 0.98, 0.5, 0.02, 0.0, 0.0])
    h = Harness("darts-minus", contract=False, search=None)
    h.run(until=2)  # toy run: 3 epochs, decay over the default 50
    assert h.method.beta == pytest.approx(0.98) and h.method.state_dict()["beta"] == pytest.approx(0.98)


def test_presets_paper_fixed_cpu_scaled():
    paper = build_run_config("darts-minus", "paper", 0, {"epochs": "20"})
    # never scaled under paper; the authors' order (arch first: DARTS- src/search/train_search.py::train)
    assert paper.method_config == DartsMinusConfig(beta0=1.0, decay_epochs=50, arch_first=True)
    assert paper.search.epochs == 20 and paper.search.w_nesterov and paper.search.w_weight_decay == 5e-4
    cpu = build_run_config("darts-minus", "cpu", 0)
    assert cpu.method_config.decay_epochs == cpu.search.epochs == 10 and cpu.method_config.arch_first
    assert DartsMinusConfig().arch_first is False  # a saved config without the field reads as before
    assert set(DartsMinus.sources) >= {"beta0", "decay_epochs", "arch_first"} and DartsMinus.deviations
    assert "architect.step" in DartsMinus.sources["arch_first"]
    with pytest.raises(UserError):
        DartsMinusConfig(beta0=-1.0)
    with pytest.raises(UserError):
        DartsMinusConfig(decay_epochs=0)


def test_partial_channel_supernet_is_refused():
    h = Harness("darts-minus", contract=False)
    ctx = h.ctx
    ctx.network = SuperNet(4, 1, 10, partial_channels=2)
    with pytest.raises(UserError, match="partial_channels=2"):
        DartsMinus().setup(ctx)


def test_beta0_zero_is_darts_v1_bit_for_bit_stats_included():
    ablated = Harness("darts-minus", overrides={"beta0": 0.0}, contract=False).run(until=2)
    ref = Harness("darts-v1").run(until=2)
    for p, q in zip(ablated, ref, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(p.arch + p.network, q.arch + q.network))
        assert p.stats == q.stats
    full = Harness("darts-minus", contract=False).run(max_steps=1)
    assert not torch.equal(full[0].network[0], ref[0].network[0]) or not torch.equal(full[0].arch[0], ref[0].arch[0])
