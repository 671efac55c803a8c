"""SNAS, DSNAS and DrNAS: their mathematics against independent computations
(METHODS.md Sec. 2(f), 3(f), 7(f)), the shared sampling module, the supernet's
gate capability DSNAS relies on, and their presets."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.cells import NUM_OPS
from nasbench_sd.methods import get_method
from nasbench_sd.methods.drnas import DrNAS, DrNASConfig
from nasbench_sd.methods.dsnas import credit_gradient
from nasbench_sd.methods.sampling import (
    categorical_sample,
    dirichlet_kl_to_uniform,
    dirichlet_rsample,
    gumbel_noise,
    linear_anneal,
)
from nasbench_sd.methods.snas import SNAS, SNASConfig
from nasbench_sd.nn.macro import ResNetBasicBlock
from nasbench_sd.nn.supernet import SuperNet
from nasbench_sd.presets import build_run_config
from nasbench_sd.testing import Harness


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


# -- the sampling module ----------------------------------------------------------------------
def test_gumbel_max_samples_follow_softmax():
    logits = torch.tensor([0.3, -1.0, 1.2, 0.0, -0.4])
    n = 400_000
    noise = gumbel_noise((n, 5), torch.Generator().manual_seed(0))
    ids = categorical_sample(logits.expand(n, 5), noise)
    freq = torch.bincount(ids, minlength=5).double() / n
    assert (freq - F.softmax(logits.double(), -1)).abs().max() < 3e-3


def test_gumbel_noise_is_the_reference_draw_from_an_owned_generator():
    torch.manual_seed(11)
    ref = -torch.empty(6, 5).exponential_().log()  # the NB201 / F.gumbel_softmax draw
    assert torch.equal(gumbel_noise((6, 5), torch.Generator().manual_seed(11)), ref)


def test_linear_anneal():
    assert linear_anneal(10, 1, 0, 100) == 10 and linear_anneal(10, 1, 1, 100) == pytest.approx(9.91)
    assert linear_anneal(10, 0.1, 4, 4) == pytest.approx(0.1) and linear_anneal(10, 1, 0, 0) == 10


def test_dirichlet_rsample_equals_torch_rsample_values_and_gradient():
    alpha = torch.randn(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    weights = torch.randn(6, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    a1, a2 = alpha.clone().requires_grad_(), alpha.clone().requires_grad_()
    ours = dirichlet_rsample(F.elu(a1) + 1, torch.Generator().manual_seed(5))
    torch.manual_seed(5)
    ref = torch.distributions.Dirichlet(F.elu(a2) + 1).rsample()
    assert torch.equal(ours, ref)
    (ours * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(a1.grad, a2.grad, rtol=0, atol=0)


def test_dirichlet_pathwise_gradient_matches_the_mean_gradient():
    """E[d theta_0 / d alpha] = d/d alpha [c_0 / sum c], c = ELU(alpha) + 1 (pathwise estimator unbiased)."""
    alpha = torch.tensor([0.4, -0.7, 1.3, 0.0, -2.0], dtype=torch.float64, requires_grad=True)
    n = 200_000
    c = (F.elu(alpha) + 1).expand(n, 5)
    theta = dirichlet_rsample(c, torch.Generator().manual_seed(0))
    (mc,) = torch.autograd.grad(theta[:, 0].mean(), [alpha])
    with torch.no_grad():
        cc = F.elu(alpha) + 1
        elu_prime = torch.where(alpha > 0, torch.ones_like(alpha), torch.exp(alpha))
        delta = torch.zeros(5, dtype=torch.float64)
        delta[0] = 1
        exact = elu_prime * (delta * cc.sum() - cc[0]) / cc.sum() ** 2
    torch.testing.assert_close(mc, exact, rtol=0, atol=2e-3)
    rows = theta.detach()
    assert (rows >= 0).all() and torch.allclose(rows.sum(-1), torch.ones(n, dtype=torch.float64))
    torch.testing.assert_close(rows.mean(0), cc / cc.sum(), rtol=0, atol=2e-3)


def test_dirichlet_kl_closed_form_equals_torch():
    c = torch.rand(6, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 3 + 0.05
    uniform = torch.distributions.Dirichlet(torch.ones(6, 5, dtype=torch.float64))
    ref = torch.distributions.kl_divergence(torch.distributions.Dirichlet(c), uniform).sum()
    torch.testing.assert_close(dirichlet_kl_to_uniform(c), ref)
    alpha = torch.zeros(6, 5, dtype=torch.float64, requires_grad=True)
    kl = dirichlet_kl_to_uniform(F.elu(alpha) + 1)
    (g,) = torch.autograd.grad(kl, [alpha])
    assert kl.abs() < 1e-12 and g.abs().max() < 1e-12


# -- SNAS -------------------------------------------------------------------------------------
def test_snas_weights_are_the_reference_gumbel_softmax():
    m = SNAS(seed=0)
    m.alpha = torch.randn(6, 5, generator=torch.Generator().manual_seed(4)).requires_grad_()
    m.tau = 3.7
    m.gumbel_generator.manual_seed(9)
    torch.manual_seed(9)
    ref = F.gumbel_softmax(m.alpha, tau=3.7, hard=False, dim=-1)  # the DrNAS code's call
    w, active = m.edge_weights(training=True)
    assert active is None
    torch.testing.assert_close(w, ref)
    w_eval, _ = m.edge_weights(training=False)
    torch.testing.assert_close(w_eval, F.softmax(m.alpha / 3.7, -1))


def test_snas_tau_schedule_follows_the_drnas_code():
    m, epochs = SNAS(), 100
    taus = [m.tau_at(e, epochs) for e in (0, 1, epochs - 1)]
    assert taus == pytest.approx([10.0, 10 - 9 / epochs, 10 - 9 * (epochs - 1) / epochs])
    assert m.tau_at(epochs - 1, epochs) > 1.0  # tau_min itself is never trained with
    h = Harness("snas")
    h.run(until=2)
    assert h.method.tau == pytest.approx(10 - 9 * 1 / 3)


def test_snas_large_tau_flattens_weights_and_scales_the_gradient_by_one_over_tau():
    torch.manual_seed(0)
    net = SuperNet(4, 1, 10).double()
    x, y = torch.randn(8, 3, 8, 8, dtype=torch.float64), torch.randint(0, 10, (8,))
    m = SNAS(seed=0)
    m.alpha = torch.randn(6, 5, dtype=torch.float64).requires_grad_()
    grads = {}
    for tau in (1e6, 2e6):
        m.tau = tau
        m.gumbel_generator.manual_seed(1)  # the same noise for both temperatures
        w, _ = m.edge_weights(training=True)
        torch.testing.assert_close(w, torch.full_like(w, 0.2), rtol=0, atol=2e-3)
        (grads[tau],) = torch.autograd.grad(F.cross_entropy(net(x, w), y), [m.alpha])
    assert (grads[2e6] * 2 - grads[1e6]).norm() < 1e-3 * grads[1e6].norm()


def test_snas_arch_first_takes_the_arch_step_on_the_weights_before_the_weight_step():
    cfg = {"noise": False, "tau_max": 1.0, "tau_min": 1.0, "arch_first": True}
    ours = Harness("snas", overrides=cfg)
    ours.run(max_steps=1)
    ref = Harness("darts-v1", contract=False)
    b = ref.batch(0, 0)
    ref.ctx.lr = ours.ctx.lr
    for group in ref.ctx.w_optimizer.param_groups:
        group["lr"] = ref.ctx.lr
    ref.method.arch_step(b, ref.ctx)
    ref.method.weight_step(b, ref.ctx)
    assert torch.equal(ours.method.alpha, ref.method.alpha)
    assert all(torch.equal(a, b) for a, b in zip(ours.network(), ref.network()))
    other = Harness("snas", overrides={**cfg, "arch_first": False})
    other.run(max_steps=1)
    assert not torch.equal(other.method.alpha, ours.method.alpha)


# -- presets (SNAS and DrNAS: DrNAS 201-space/train_search.py; DSNAS: the same, a guess) ----------
@pytest.mark.parametrize("name", ["snas", "drnas", "dsnas"])
def test_paper_preset_is_the_drnas_code_protocol_and_cpu_keeps_its_scale(name):
    paper = build_run_config(name, "paper", 0).search
    assert (paper.epochs, paper.w_weight_decay, paper.w_nesterov, paper.split) == (100, 3e-4, False, "darts-half")
    assert (paper.a_lr, paper.a_weight_decay, paper.batch_size, paper.channels) == (3e-4, 1e-3, 64, 16)
    cpu = build_run_config(name, "cpu", 0).search
    assert (cpu.epochs, cpu.channels, cpu.w_weight_decay, cpu.w_nesterov, cpu.split) == (20, 8, 3e-4, False,
                                                                                        "darts-half")  # 1/5 of 100
    user = build_run_config(name, "paper", 0, {"epochs": "50"})
    assert user.search.epochs == 50 and user.method_config == build_run_config(name, "paper", 0).method_config
    cls = type(build_run_config(name, "paper", 0).method_config)
    fields = {f.name for f in dataclasses.fields(cls)} | set(get_method(name).preset_search_overrides("paper"))
    method = get_method(name)
    assert set(method.sources) <= fields and method.deviations


def test_snas_paper_config_values():
    assert build_run_config("snas", "paper", 0).method_config == SNASConfig(10.0, 1.0, True, True)


# -- DSNAS ------------------------------------------------------------------------------------
def test_dsnas_estimator_is_unbiased_for_a_gate_linear_loss():
    """L(Z) = sum_k Z_k c_k: E_s[c_s (onehot(s) - p)] = grad_alpha sum_k p_k c_k."""
    gen = torch.Generator().manual_seed(0)
    alpha = torch.tensor([0.5, -0.3, 1.1, 0.2, -1.0], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([0.7, -1.2, 0.4, 2.0, -0.5], dtype=torch.float64)
    n = 400_000
    p = F.softmax(alpha.detach(), -1).expand(n, 5)
    s = categorical_sample(alpha.expand(n, 5), gumbel_noise((n, 5), gen).double())
    mc = credit_gradient(c[s], s, p).mean(0)
    (exact,) = torch.autograd.grad((F.softmax(alpha, -1) * c).sum(), [alpha])
    torch.testing.assert_close(mc, exact, rtol=0, atol=4e-3)
    biased = credit_gradient(torch.ones(n, dtype=torch.float64), s, p).mean(0)  # credit ignored
    assert (biased - exact).abs().max() > 2e-2


def test_supernet_gate_gradient_is_the_derivative_wrt_the_sampled_gate():
    """The capability DSNAS uses: in sampled mode, weights[e, active[e]] gates op active[e]
    in every cell, so its gradient equals a finite difference of the loss in that gate."""
    torch.manual_seed(0)
    net = SuperNet(4, 2, 10).double()
    x, y = torch.randn(8, 3, 8, 8, dtype=torch.float64), torch.randint(0, 10, (8,))
    active = torch.tensor([1, 3, 2, 4, 0, 3])

    def loss(z):
        return F.cross_entropy(net(x, z, active), y)

    z = F.one_hot(active, NUM_OPS).double().requires_grad_()
    (g,) = torch.autograd.grad(loss(z), [z])
    eps = 1e-7  # the supernet is piecewise smooth (ReLU): central differences need a small step
    for e in range(6):
        d = torch.zeros(6, NUM_OPS, dtype=torch.float64)
        d[e, active[e]] = eps
        fd = (loss(z.detach() + d) - loss(z.detach() - d)) / (2 * eps)
        torch.testing.assert_close(g[e, active[e]], fd, rtol=1e-6, atol=1e-8)
    assert g[4, 0] == 0  # a sampled 'none' computes nothing: credit 0


def _dsnas_harness(active: list[int], **overrides):
    h = Harness("dsnas", overrides=overrides)
    ids = torch.tensor(active)
    h.method.sample = lambda: ids.clone()
    return h


def test_dsnas_alpha_gradient_is_the_credit_weighted_score_function():
    """Independent form: the straight-through gradient of the selected op only,
    divided by its probability, i.e. autograd through Z_s = p_s / p_s.detach()."""
    active = [1, 3, 2, 4, 0, 3]
    h = _dsnas_harness(active, credit_clip=0.0, alpha_grad_clip=0.0)
    b = h.batch(0, 0)
    alpha = h.method.alpha.detach().clone().requires_grad_()
    p = F.softmax(alpha, -1)
    ids = torch.tensor(active)
    sel = p.gather(-1, ids[:, None])
    z = torch.zeros(6, NUM_OPS, dtype=p.dtype).scatter(-1, ids[:, None], sel / sel.detach())
    (ref,) = torch.autograd.grad(F.cross_entropy(h.ctx.network(b.x_train, z, ids), b.y_train), [alpha])
    h.run(max_steps=1)
    torch.testing.assert_close(h.method.alpha.grad, ref, rtol=1e-5, atol=1e-8)
    assert h.method.alpha.grad[4].abs().sum() == 0  # 'none' sampled on edge 4: no update of that row


def test_dsnas_credit_clip_bounds_the_credit():
    h = _dsnas_harness([1, 3, 2, 4, 2, 3], credit_clip=1e-4, alpha_grad_clip=0.0)
    h.run(max_steps=1)
    grad = h.method.alpha.grad
    assert grad.abs().max() <= 1e-4 and grad.abs().max() > 1e-5  # |c| <= 1e-4 and |onehot - p| <= 1
    free = _dsnas_harness([1, 3, 2, 4, 2, 3], credit_clip=0.0, alpha_grad_clip=0.0)
    free.run(max_steps=1)
    assert free.method.alpha.grad.abs().max() > 1e-3  # the clamp was active


def test_dsnas_runs_only_the_sampled_ops():
    active = [1, 3, 2, 4, 2, 3]
    h = _dsnas_harness(active)
    h.run(max_steps=1)
    cells = [c for c in h.ctx.network.cells if not isinstance(c, ResNetBasicBlock)]
    for cell in cells:
        for e, ops in enumerate(cell.edges):
            for o, op in enumerate(ops.ops):
                params = list(op.parameters())
                if not params:
                    continue
                has_grad = any(q.grad is not None and q.grad.abs().sum() > 0 for q in params)
                assert has_grad == (o == active[e]), f"edge {e} op {o}"


def test_dsnas_bilevel_takes_the_arch_step_on_the_valid_batch():
    h = Harness("dsnas", overrides={"level": "bilevel"})
    before = h.arch()
    trace = h.run(max_steps=2)
    assert not torch.equal(h.arch()[0], before[0]) and torch.isfinite(trace[-1].arch[0]).all()
    again = Harness("dsnas", overrides={"level": "bilevel"}).run(max_steps=2)
    assert torch.equal(again[-1].arch[0], trace[-1].arch[0])
    single = Harness("dsnas").run(max_steps=2)
    assert not torch.equal(single[-1].arch[0], trace[-1].arch[0])


# -- DrNAS ------------------------------------------------------------------------------------
def test_drnas_weights_are_the_reference_dirichlet_draw():
    m = DrNAS(seed=0)
    m.alpha = torch.randn(6, 5, generator=torch.Generator().manual_seed(4)).requires_grad_()
    m.generator.manual_seed(13)
    torch.manual_seed(13)
    ref = torch.distributions.Dirichlet(F.elu(m.alpha) + 1).rsample()  # the DrNAS code's draw
    w, active = m.edge_weights(training=True)
    assert active is None and torch.equal(w, ref)
    mean, _ = m.edge_weights(training=False)
    c = F.elu(m.alpha) + 1
    torch.testing.assert_close(mean, c / c.sum(-1, keepdim=True))
    assert torch.equal(mean.argmax(-1), m.alpha.argmax(-1))
    assert [int(i) for i in mean.argmax(-1)] == list(m.genotype().op_ids)


def test_drnas_kl_mode_adds_the_kl_term_and_drops_the_arch_weight_decay():
    h = Harness("drnas", overrides={"reg_type": "kl", "reg_scale": 0.5})
    assert all(g["weight_decay"] == 0.0 for g in h.method.a_optimizer.param_groups)
    b = h.batch(0, 0)
    loss, _, extra = h.method.objective(b.x_valid, b.y_valid, b.idx_valid, "valid", h.ctx)
    kl = dirichlet_kl_to_uniform(F.elu(h.method.alpha) + 1)
    torch.testing.assert_close(loss - extra["valid_loss"], 0.5 * kl)
    torch.testing.assert_close(extra["kl_reg"], kl.detach())
    l2 = Harness("drnas")
    assert all(g["weight_decay"] == 1e-3 for g in l2.method.a_optimizer.param_groups)
    assert "kl_reg" not in l2.method.objective(b.x_valid, b.y_valid, b.idx_valid, "valid", l2.ctx)[2]


def test_drnas_bad_settings_are_refused():
    from nasbench_sd.errors import UserError

    with pytest.raises(UserError):
        DrNASConfig(distribution="gamma")
    with pytest.raises(UserError):
        DrNASConfig(distribution="softmax", reg_type="kl")
    with pytest.raises(UserError):
        build_run_config("dsnas", "cpu", 0, {"method.level": "triple"})
