"""iDARTS: the implicit hypergradient against closed forms and independent
computations, the two modes, presets (METHODS.md section 4 (f))."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from nasbench_sd.errors import UserError
from nasbench_sd.methods import SearchContext
from nasbench_sd.methods.darts import finite_difference_hvp
from nasbench_sd.methods.idarts import IDarts, IDartsConfig, double_backward_hvp, implicit_hypergradient
from nasbench_sd.nn.supernet import SuperNet
from nasbench_sd.presets import build_run_config
from nasbench_sd.testing import Harness, toy_search_config
from nasbench_sd.testing.contract import single_thread


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


# -- the quadratic bilevel toy: L_train = 1/2 w'Aw - w'B alpha, L_val = 1/2 |w - c|^2 + lam/2 |alpha|^2 ---------
def _toy(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    eig = torch.linspace(1.0, 4.0, 6, dtype=torch.float64)  # SPD, condition number 4
    a = q @ torch.diag(eig) @ q.T
    b = torch.randn(6, 3, generator=g, dtype=torch.float64)
    c = torch.randn(6, generator=g, dtype=torch.float64)
    alpha = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    return a, b, c, alpha, float(eig.max())


def _toy_parts(a, b, c, alpha, lam):
    w_star = torch.linalg.solve(a, b @ alpha.detach()).requires_grad_(True)

    def train_loss(w):
        return 0.5 * w @ a @ w - w @ b @ alpha

    def arch_grad_at(values):
        return list(torch.autograd.grad(train_loss(values[0]), [alpha]))

    v = (w_star - c).detach()
    g_alpha = (lam * alpha).detach()
    return w_star, train_loss, arch_grad_at, v, g_alpha


def test_toy_finite_difference_mixed_product_is_minus_b_transpose_u():
    a, b, c, alpha, _ = _toy()
    w_star, _, arch_grad_at, _, _ = _toy_parts(a, b, c, alpha, 0.1)
    u = torch.randn(6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (m,) = finite_difference_hvp(arch_grad_at, [w_star], [u], epsilon=0.01)
    torch.testing.assert_close(m, -b.T @ u, rtol=1e-9, atol=1e-12)


def test_toy_hypergradient_is_the_k_term_neumann_estimate_and_converges_to_the_exact_one():
    a, b, c, alpha, lam_max = _toy()
    lam, gamma = 0.1, 1.0 / lam_max
    w_star, train_loss, arch_grad_at, v, g_alpha = _toy_parts(a, b, c, alpha, lam)
    exact = lam * alpha.detach() + b.T @ torch.linalg.solve(a, v)  # implicit function theorem, closed form
    errors = []
    for k in (0, 1, 2, 5, 20, 200):
        hvp = double_backward_hvp(train_loss(w_star), [w_star])
        (h,), (s,), r_step = implicit_hypergradient([g_alpha], [v], hvp, arch_grad_at, [w_star], gamma, k, 0.01)
        m = torch.eye(6, dtype=torch.float64) - gamma * a
        series = sum(torch.linalg.matrix_power(m, j) for j in range(k + 1))
        torch.testing.assert_close(s, series @ v, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(h, lam * alpha.detach() + gamma * b.T @ series @ v, rtol=1e-8, atol=1e-10)
        assert float(r_step) == pytest.approx(0.01 / float(v.norm()), rel=1e-12)
        errors.append(float((h - exact).norm() / exact.norm()))
    assert all(e1 > e2 for e1, e2 in zip(errors, errors[1:])), errors
    assert errors[2] > 1e-3 and errors[-1] < 1e-10  # K = 2 is coarse; the series converges


# -- on the supernet ---------------------------------------------------------------------------------------
def _double_setup(mode: str, lr: float = 0.05, **config):
    torch.manual_seed(0)
    net = SuperNet(4, 1, 10).double()
    s = toy_search_config()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    ctx = SearchContext(net, opt, torch.device("cpu"), s, steps_per_epoch=1, num_classes=10,
                        num_train_keys=16, num_valid_keys=16, lr=lr)
    m = IDarts(IDartsConfig(mode=mode, **config), seed=0)
    m.alpha = torch.randn(6, 5, dtype=torch.float64).requires_grad_(True)  # away from uniform
    m.setup(ctx)
    b = Harness("darts-v1").batch(0, 0)
    b = dataclasses.replace(b, x_train=b.x_train.double(), x_valid=b.x_valid.double())
    return net, ctx, m, b


def _loss_at(net, values, alpha, x, y):
    names = [n for n, _ in net.named_parameters()]
    state = dict(zip(names, values))
    state.update({n: t.clone() for n, t in net.named_buffers()})
    return F.cross_entropy(functional_call(net, state, (x, F.softmax(alpha, -1))), y)


def _fd_hvp(net, w, alpha, x, y, u, eps=1e-5):
    """H u by central differences of the weight gradient (independent of double backward)."""
    scale = eps / float(torch.sqrt(sum((t * t).sum() for t in u)))

    def grad_w(values):
        values = [t.detach().requires_grad_(True) for t in values]
        return torch.autograd.grad(_loss_at(net, values, alpha, x, y), values)

    plus = grad_w([p + scale * d for p, d in zip(w, u)])
    minus = grad_w([p - scale * d for p, d in zip(w, u)])
    return [(a - b) / (2 * scale) for a, b in zip(plus, minus)]


def test_double_backward_hvp_equals_finite_difference_hvp_on_the_supernet():
    net, _, m, b = _double_setup("paper")
    params = list(net.parameters())
    alpha = m.alpha.detach()
    u = [torch.randn_like(p) for p in params]
    hvp = double_backward_hvp(_loss_at(net, params, alpha, b.x_train, b.y_train), params)(u)
    ref = _fd_hvp(net, [p.detach() for p in params], alpha, b.x_train, b.y_train, u)
    flat = torch.cat([t.flatten() for t in hvp])
    flat_ref = torch.cat([t.flatten() for t in ref])
    assert flat.abs().max() > 1e-3
    torch.testing.assert_close(flat, flat_ref, rtol=1e-5, atol=1e-7 * float(flat_ref.abs().max()))


def test_paper_mode_hypergradient_leaves_the_weights_exactly_unchanged():
    net, ctx, m, b = _double_setup("paper")
    before = [p.detach().clone() for p in net.parameters()]
    alpha_before = m.alpha.detach().clone()
    m.implicit_arch_step(b, ctx, (b.x_train, b.y_train, b.idx_train), residual=False)
    assert all(torch.equal(x, y) for x, y in zip(before, net.parameters()))  # (BN running stats move as in
    # every forward pass in training mode; they do not enter the search)
    assert not torch.equal(alpha_before, m.alpha.detach())


def test_notebook_step_moves_weights_by_minus_r_times_the_neumann_terms_and_sets_the_hypergradient():
    net, ctx, m, b = _double_setup("notebook", lr=0.05)
    w0 = [p.detach().clone() for p in net.parameters()]
    alpha0 = m.alpha.detach().clone().requires_grad_(True)
    # independent computation: v by autograd, H u by finite differences of the weight gradient
    wv = [t.clone().requires_grad_(True) for t in w0]
    v = torch.autograd.grad(_loss_at(net, wv, alpha0, b.x_valid, b.y_valid), wv)
    g_alpha = torch.autograd.grad(_loss_at(net, w0, alpha0, b.x_valid, b.y_valid), alpha0)[0]
    u, terms = list(v), []
    for _ in range(2):
        u = [a - 0.05 * h for a, h in zip(u, _fd_hvp(net, w0, alpha0.detach(), b.x_train, b.y_train, u))]
        terms.append(u)
    s = [a + t1 + t2 for a, t1, t2 in zip(v, *terms)]
    r = 0.01 / float(torch.sqrt(sum((t * t).sum() for t in v)))

    def arch_grad(values):
        return torch.autograd.grad(_loss_at(net, values, alpha0, b.x_train, b.y_train), alpha0)[0]

    # the notebook's central difference at w +- R s with R = r / ||v|| (on this tiny net the loss is too
    # curved at that radius for the exact mixed derivative to be a fair reference)
    mixed = (arch_grad([w + r * d for w, d in zip(w0, s)]) - arch_grad([w - r * d for w, d in zip(w0, s)])) / (2 * r)

    calls = []
    ctx.w_optimizer.step = lambda *a, **k: calls.append(1)  # the notebook takes no weight step
    m.step(b, ctx)
    assert not calls
    for p, w, t1, t2 in zip(net.parameters(), w0, *terms):
        torch.testing.assert_close(p.detach() - w, -r * (t1 + t2), rtol=1e-5, atol=1e-12)
    torch.testing.assert_close(m.alpha.grad, g_alpha - 0.05 * mixed, rtol=1e-4, atol=1e-9)


def test_finite_difference_hvp_option_agrees_with_double_backward():
    grads = []
    for hvp in ("exact", "finite-difference"):
        net, ctx, m, b = _double_setup("paper", hvp=hvp, fd_radius=1e-6)
        m.implicit_arch_step(b, ctx, (b.x_train, b.y_train, b.idx_train), residual=False)
        grads.append(m.alpha.grad.clone())
    assert grads[0].abs().max() > 1e-3
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("overrides, weight_steps", [
    ({"inner_steps": 3}, 3), ({"inner_steps": 1}, 1), ({"mode": "notebook"}, 0),
])
def test_weight_steps_per_iteration(overrides, weight_steps):
    h = Harness("idarts", overrides=overrides)
    calls = []
    step = h.ctx.w_optimizer.step
    h.ctx.w_optimizer.step = lambda *a, **k: (calls.append(1), step(*a, **k))[1]
    h.run(max_steps=2)
    assert len(calls) == 2 * weight_steps


def test_extra_batches_come_from_the_methods_generator():
    a = Harness("idarts", overrides={"inner_steps": 2})
    b = Harness("idarts", overrides={"inner_steps": 2})
    b.method.batch_generator.manual_seed(1)  # other extra batches, everything else equal
    ta, tb = a.run(max_steps=1), b.run(max_steps=1)
    assert any(not torch.equal(x, y) for x, y in zip(ta[0].network, tb[0].network))
    c = Harness("idarts", overrides={"inner_steps": 2})
    assert all(torch.equal(x, y) for x, y in zip(ta[0].network, c.run(max_steps=1)[0].network))


# -- presets and settings ----------------------------------------------------------------------------------
def test_presets():
    paper = build_run_config("idarts", "paper", 0)
    assert paper.search.epochs == 30 and paper.search.w_lr == 0.01 and paper.search.w_lr_min == 0.001
    assert paper.search.w_nesterov and paper.search.w_weight_decay == 5e-4 and paper.search.channels == 16
    # the notebook produced the published row (MODE_REASON): every preset runs it
    assert paper.method_config == IDartsConfig(mode="notebook")
    assert build_run_config("idarts", "paper", 0, {"epochs": "5"}).method_config == IDartsConfig(mode="notebook")
    cpu = build_run_config("idarts", "cpu", 0)
    assert cpu.search.epochs == 6 and cpu.search.w_lr == 0.01  # 1/5 of its 30 paper epochs and cpu.search.channels == 8
    assert cpu.method_config == IDartsConfig(mode="notebook", hvp="finite-difference")
    assert IDartsConfig().mode == "paper"  # a saved config reads as before (the field's default is unchanged)
    assert "T1_K2" in IDarts.sources["mode"] and "deepcopy(w_optimizer)" in IDarts.sources["mode"]
    # the control switches the implicit term off and takes a weight step in its place: first-order DARTS
    control = build_run_config("idarts", "cpu", 0, {f"method.{k}": str(v) for k, v in IDarts.control.items()})
    assert control.search == cpu.search
    assert control.method_config == IDartsConfig(mode="paper", inner_steps=1, implicit=False,
                                                  hvp="finite-difference")
    fields = {f.name for f in dataclasses.fields(IDartsConfig)} | set(IDarts.preset_search_overrides("paper"))
    assert set(IDarts.sources) <= fields and set(IDarts.preset_search_overrides("paper")) <= set(IDarts.sources)


@pytest.mark.parametrize("bad", [{"mode": "x"}, {"hvp": "x"}, {"inner_steps": 0}, {"neumann_terms": -1},
                                 {"fd_radius": 0.0}, {"mode": "notebook", "inner_steps": 4},
                                 {"mode": "notebook", "implicit": False}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(UserError):
        IDartsConfig(**bad)
