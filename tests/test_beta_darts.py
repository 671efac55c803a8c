"""beta-DARTS: the regulariser's gradient equals finite differences and the closed form
``lam * softmax(alpha) / 6``; it enters the architecture loss only; lam follows the
authors' schedule; lam_max = 0 is DARTS-V1 bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods.beta_darts import BetaDarts, BetaDartsConfig, beta_decay_loss, lam_at
from nasbench_sd.presets import build_run_config
from nasbench_sd.testing import Harness

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("seed", [0, 1])
def test_regulariser_gradient_equals_finite_differences_and_closed_form(seed):
    g = torch.Generator().manual_seed(seed)
    alpha = (3 * torch.randn(6, 5, generator=g, dtype=torch.float64)).requires_grad_(True)
    lam = 7.5
    (grad,) = torch.autograd.grad(lam * beta_decay_loss(alpha), [alpha])
    h = 1e-5
    fd = torch.zeros_like(alpha)
    with torch.no_grad():
        for e in range(6):
            for k in range(5):
                step = torch.zeros_like(alpha)
                step[e, k] = h
                fd[e, k] = lam * (beta_decay_loss(alpha + step) - beta_decay_loss(alpha - step)) / (2 * h)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(grad, lam * F.softmax(alpha.detach(), -1) / 6, rtol=1e-12, atol=1e-14)
    # a constant added to one row: L_beta moves by c / 6 (mean over 6 edges), the softmax does not
    shifted = alpha.detach().clone()
    shifted[2] += 1.25
    assert float(beta_decay_loss(shifted) - beta_decay_loss(alpha.detach())) == pytest.approx(1.25 / 6, abs=1e-12)


def test_term_is_in_the_architecture_loss_only():
    """One step's alpha gradient = plain DARTS's CE gradient + lam * softmax(alpha) / 6; the
    weight loss is the plain cross-entropy; valid_loss reports the cross-entropy."""
    beta = Harness("beta-darts", contract=False)
    plain = Harness("darts-v1")
    for h in (beta, plain):
        h.ctx.epoch = 3
        h.method.on_epoch_start(h.ctx)
    assert beta.method.lam == pytest.approx(50 * 3 / 100)
    b = beta.batch(0, 0)
    losses, grads = {}, {}
    for name, h in (("beta", beta), ("plain", plain)):
        h.method.alpha.grad = None
        train, _, _ = h.method.objective(b.x_train, b.y_train, b.idx_train, "train", h.ctx)
        valid, _, stats = h.method.objective(b.x_valid, b.y_valid, b.idx_valid, "valid", h.ctx)
        valid.backward()
        losses[name], grads[name] = (train.detach(), stats.get("valid_loss")), h.method.alpha.grad.clone()
    assert torch.equal(losses["beta"][0], losses["plain"][0])
    ce = F.cross_entropy(plain.ctx.network(b.x_valid, F.softmax(plain.method.alpha, -1)), b.y_valid)
    assert float(losses["beta"][1]) == pytest.approx(float(ce.detach()), rel=1e-6)
    expected = grads["plain"] + beta.method.lam * F.softmax(beta.method.alpha.detach(), -1) / 6
    torch.testing.assert_close(grads["beta"], expected, rtol=1e-5, atol=1e-7)


def test_lam_schedule_and_presets():
    assert [lam_at(e, 50.0, 100) for e in (0, 1, 50, 99)] == pytest.approx([0.0, 0.5, 25.0, 49.5])
    paper = build_run_config("beta-darts", "paper", 0)
    assert paper.method_config == BetaDartsConfig(lam_max=50.0, lam_epochs=100, arch_first=True)
    s = paper.search
    assert (s.epochs, s.w_weight_decay, s.w_nesterov, s.split) == (100, 3e-4, False, "darts-half")
    # paper values are never scaled from a user's epochs (the code's slope: lam reaches 24.5 in 50 epochs)
    assert build_run_config("beta-darts", "paper", 0, {"epochs": "50"}).method_config.lam_epochs == 100
    cpu = build_run_config("beta-darts", "cpu", 0)
    # 1/5 of its 100 paper epochs under cpu, and lam's slope spans them
    assert cpu.search.epochs == 20 and cpu.method_config.lam_epochs == 20 and cpu.method_config.arch_first
    assert (cpu.search.w_weight_decay, cpu.search.w_nesterov) == (3e-4, False)
    assert set(BetaDarts.sources) >= {"lam_max", "lam_epochs", "arch_first", "epochs", "w_weight_decay",
                                      "w_nesterov", "split"}
    for bad in ({"lam_max": -1.0}, {"lam_epochs": 0}):
        with pytest.raises(UserError):
            BetaDartsConfig(**bad)


def test_lam_max_zero_is_darts_v1_bit_for_bit():
    ablated = Harness("beta-darts", overrides={"lam_max": 0.0}).run(until=2)
    ref = Harness("darts-v1").run(until=2)
    for p, q in zip(ablated, ref, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(p.arch + p.network, q.arch + q.network))
        assert {k: float(v) for k, v in p.stats.items() if k != "beta_reg"} == q.stats
    full = Harness("beta-darts").run(until=2)
    assert [torch.equal(p.arch[0], q.arch[0]) for p, q in zip(full, ref)] == [True, True, False, False]


def test_arch_first_runs_the_arch_step_before_the_weight_step():
    """arch_first (the authors' order) = DARTS-V1's two updates swapped, step for step."""
    ours = Harness("beta-darts", overrides={"lam_max": 0.0, "arch_first": True}).run(until=2)
    swapped = Harness("darts-v1")
    m = swapped.method
    m.step = lambda batch, ctx: {**m.arch_step(batch, ctx), **m.weight_step(batch, ctx)}
    ref = swapped.run(until=2)
    for p, q in zip(ours, ref, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(p.arch + p.network, q.arch + q.network))
    usual = Harness("darts-v1").run(max_steps=1)
    assert not all(torch.equal(a, b) for a, b in zip(ours[0].network, usual[0].network))
