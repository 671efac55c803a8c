"""Method-specific properties of the built-in search methods."""

from __future__ import annotations

import dataclasses
import io
import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from nasbench_sd.cells import Cell, random_cell
from nasbench_sd.config import CPU, PAPER, SCALED
from nasbench_sd.errors import UserError
from nasbench_sd.methods import SearchContext, get_method, registry
from nasbench_sd.methods.darts import DartsV2, DartsV2Config, finite_difference_hvp
from nasbench_sd.methods.gdas import GDAS, MAX_RESAMPLES
from nasbench_sd.methods.pcdarts import NODE_EDGES, PCDarts, PCDartsConfig, normalize_betas
from nasbench_sd.methods.random_search import RandomSearch
from nasbench_sd.methods.sddarts import SDDarts, SDDartsConfig, distillation_kl
from nasbench_sd.methods.teachers import CacheTeacher, EmaTeacher
from nasbench_sd.nn.supernet import SuperNet
from nasbench_sd.presets import build_run_config, config_diff
from nasbench_sd.seeding import derive_seed
from nasbench_sd.testing import Harness, toy_search_config
from nasbench_sd.testing.contract import single_thread


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def same(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_builtins_load_under_their_names():
    for name in registry.BUILTINS:
        assert get_method(name).name == name


# -- DARTS-V2 -------------------------------------------------------------------------------
def test_finite_difference_hvp_matches_exact_mixed_hessian():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = [torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True),
         torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)]
    v = [torch.randn(4, 5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)]

    def loss(ws):
        return (torch.tanh(torch.softmax(a, -1) @ ws[0]) * ws[1]).pow(2).sum()

    def grad_at(ws):
        return list(torch.autograd.grad(loss(ws), [a]))

    gw = torch.autograd.grad(loss(w), w, create_graph=True)
    exact = torch.autograd.grad(sum((x * y).sum() for x, y in zip(gw, v)), [a])[0]
    approx = finite_difference_hvp(grad_at, w, v, epsilon=1e-4)[0]
    torch.testing.assert_close(approx, exact, rtol=1e-7, atol=1e-9)
    assert finite_difference_hvp(grad_at, w, [torch.zeros_like(t) for t in v])[0].abs().sum() == 0


def _double_darts_v2(fd_epsilon: float):
    torch.manual_seed(0)
    net = SuperNet(4, 1, 10).double()
    s = toy_search_config()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    ctx = SearchContext(net, opt, torch.device("cpu"), s, steps_per_epoch=1, num_classes=10,
                        num_train_keys=16, num_valid_keys=16, lr=0.05)
    m = DartsV2(DartsV2Config(fd_epsilon=fd_epsilon), seed=0)
    m.alpha = (torch.randn(6, 5, dtype=torch.float64)).requires_grad_(True)  # away from uniform
    m.setup(ctx)
    h = Harness("darts-v1")
    b = h.batch(0, 0)
    b = dataclasses.replace(b, x_train=b.x_train.double(), x_valid=b.x_valid.double())
    m.weight_step(b, ctx)  # creates momentum buffers, which the virtual step must use
    return m, ctx, b


def _exact_unrolled_gradient(m, ctx, b) -> torch.Tensor:
    net, lr = ctx.network, ctx.w_optimizer.param_groups[0]["lr"]
    named = dict(net.named_parameters())

    def run(state, x):
        full = {**{k: t.clone() for k, t in net.named_buffers()}, **state}
        return functional_call(net, full, (x, F.softmax(m.alpha, -1), None))

    g = torch.autograd.grad(F.cross_entropy(run(named, b.x_train), b.y_train), list(named.values()),
                            create_graph=True)
    w_prime = {}
    for (k, p), gp in zip(named.items(), g):
        buf = ctx.w_optimizer.state[p]["momentum_buffer"]
        w_prime[k] = p.detach() - lr * (0.9 * buf + gp + 5e-4 * p.detach())
    return torch.autograd.grad(F.cross_entropy(run(w_prime, b.x_valid), b.y_valid), [m.alpha])[0]


def test_darts_v2_gradient_matches_exact_unrolled_gradient():
    # A small finite-difference step: with the reference r = 0.01 the perturbation
    # crosses ReLU kinks of this tiny net and the approximation is off by O(1)
    # (a property of the reference method, not of this implementation).
    m, ctx, b = _double_darts_v2(1e-5)
    approx = m.unrolled_arch_gradients(b, ctx)[0][0]
    exact = _exact_unrolled_gradient(m, ctx, b)
    assert exact.abs().max() > 1e-3
    # tight enough to see momentum, weight decay (5e-4) and the sign of the Hessian term
    torch.testing.assert_close(approx, exact, rtol=1e-6, atol=1e-6 * float(exact.abs().max()))


def test_darts_v2_unrolled_computation_leaves_the_network_untouched():
    m, ctx, b = _double_darts_v2(0.01)
    state = {k: t.clone() for k, t in ctx.network.state_dict().items()}
    grads = [None if p.grad is None else p.grad.clone() for p in ctx.network.parameters()]
    opt_state = io.BytesIO()
    torch.save(ctx.w_optimizer.state_dict(), opt_state)
    m.unrolled_arch_step(b, ctx)
    assert all(torch.equal(state[k], t) for k, t in ctx.network.state_dict().items())
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad)
               for g, p in zip(grads, ctx.network.parameters()))
    after = io.BytesIO()
    torch.save(ctx.w_optimizer.state_dict(), after)
    assert opt_state.getvalue() == after.getvalue()


# -- GDAS -------------------------------------------------------------------------------------
def test_gdas_tau_schedule_endpoints():
    m = GDAS()
    assert m.tau_at(0, 250) == 10.0
    assert m.tau_at(249, 250) == pytest.approx(0.1, abs=1e-12)
    assert m.tau_at(0, 1) == 10.0
    h = Harness("gdas")
    h.run(until=3)
    assert h.method.tau == pytest.approx(0.1, abs=1e-12)  # epoch 2 of 3
    assert GDAS.preset_search_overrides("paper") == {"epochs": 250}
    assert build_run_config("gdas", "paper", 0).search.epochs == 250


def test_gdas_hardwts_one_hot_in_value_with_gradient_to_alpha():
    m = GDAS(seed=3)
    m.alpha = torch.randn(6, 5).requires_grad_(True)
    m.tau = 0.7
    for _ in range(20):
        hardwts, index = m.edge_weights(training=True)
        assert isinstance(index, tuple)  # host op ids: the supernet reads nothing from the device
        assert torch.equal(hardwts.detach(), F.one_hot(torch.tensor(index), 5).float())
    net = SuperNet(4, 1, 10)
    x = torch.randn(8, 3, 8, 8)
    F.cross_entropy(net(x, hardwts, index), torch.arange(8)).backward()
    assert torch.isfinite(m.alpha.grad).all() and (m.alpha.grad.abs().sum(-1) > 0).all()


def test_gdas_noise_comes_from_its_own_generator():
    a, b = GDAS(seed=5), GDAS(seed=5)
    torch.manual_seed(1)
    wa = [a.edge_weights()[1] for _ in range(5)]
    torch.manual_seed(2)
    wb = [b.edge_weights()[1] for _ in range(5)]
    assert wa == wb
    state = a.gumbel_generator.get_state()
    a.edge_weights(training=False)  # plots / Hessian: no draw
    assert torch.equal(state, a.gumbel_generator.get_state())


def test_gdas_resamples_non_finite_noise(monkeypatch):
    m = GDAS(seed=0)
    draws = []
    real = m.gumbel

    def flaky():
        draws.append(1)
        noise = real()
        if len(draws) == 1:
            noise[2, 1] = math.inf
        return noise

    monkeypatch.setattr(m, "gumbel", flaky)
    hardwts, _ = m.edge_weights(training=True)
    assert len(draws) == 2 and torch.isfinite(hardwts).all()
    monkeypatch.setattr(m, "gumbel", lambda: torch.full((6, 5), math.nan))
    with pytest.raises(FloatingPointError, match=str(MAX_RESAMPLES)):
        m.edge_weights(training=True)


# -- PC-DARTS -----------------------------------------------------------------------------------
def test_pcdarts_edge_normalisation_sums_to_one_per_node():
    assert NODE_EDGES == ((0,), (1, 2), (3, 4, 5))
    m = PCDarts(seed=1)
    with torch.no_grad():
        m.betas.copy_(torch.randn(6))
    norm = normalize_betas(m.betas)
    for ids in NODE_EDGES:
        assert float(norm[list(ids)].sum().detach()) == pytest.approx(1.0, abs=1e-6)
    weights, active = m.edge_weights()
    assert active is None
    torch.testing.assert_close(weights.sum(-1), norm)
    off = PCDarts(PCDartsConfig(edge_normalization=False), seed=1)
    torch.testing.assert_close(off.edge_weights()[0], F.softmax(off.alpha, -1), rtol=0, atol=0)


def test_pcdarts_options_and_genotype_ignore_betas():
    m = PCDarts(PCDartsConfig(partial_channels=2))
    assert m.supernet_options() == {"partial_channels": 2}
    cell = m.genotype()
    with torch.no_grad():
        m.betas.copy_(torch.tensor([5.0, -5.0, 3.0, 0.0, 9.0, -9.0]))
    assert m.genotype() == cell
    with pytest.raises(UserError, match=r"partial_channels \(3\) must divide"):
        PCDartsConfig(partial_channels=3).validate_for(CPU)
    with pytest.raises(UserError, match="partial_channels must be >= 1"):
        PCDartsConfig(partial_channels=0)


def test_pcdarts_architecture_waits_for_its_warmup():
    """Epochs < arch_warmup train the weights only: alpha, betas and Adam's state stay put."""
    h = Harness("pc-darts", overrides={"arch_warmup": 2}, search=toy_search_config(epochs=3))
    start = h.arch()
    trace = h.run(until=2)
    for p in trace:
        assert same(p.arch, start), (p.epoch, p.step)
        assert {"valid_loss", "valid_acc", "train_loss"} <= set(p.stats)
    assert not h.method.a_optimizer.state  # Adam never stepped
    assert not same(trace[0].network, Harness("pc-darts").network())  # the weights trained
    after = h.run(until=3)
    assert not torch.equal(after[0].arch[0], start[0]) and not torch.equal(after[0].arch[1], start[1])


def test_pcdarts_arch_warmup_presets_and_validation():
    assert PCDarts.preset_config("paper", 50).arch_warmup == 15
    assert PCDarts.preset_config("cpu", 10).arch_warmup == 3
    with pytest.raises(UserError, match="arch_warmup"):
        PCDartsConfig(arch_warmup=50).validate_for(PAPER)
    with pytest.raises(UserError):
        PCDartsConfig(arch_warmup=-1)


# -- SD-DARTS -------------------------------------------------------------------------------------
def _no_stats(trace):
    return [(p.arch, p.network) for p in trace]


def _arch_first_darts() -> Harness:
    """First-order DARTS stepping alpha, then the weights (SD-DARTS Algorithm 1's order)."""
    h = Harness("darts-v1")
    m = h.method
    m.step = lambda batch, ctx: {**m.arch_step(batch, ctx), **m.weight_step(batch, ctx)}
    return h


@pytest.mark.parametrize("order", ["weights-first", "arch-first"])
@pytest.mark.parametrize("overrides", [{"lam": 0.0, "warmup": 1}, {"warmup": 3}],
                         ids=["lam0", "warmup-beyond-run"])
def test_sddarts_ablation_equals_same_order_darts_bit_for_bit(overrides, order):
    """lam = 0 is first-order DARTS in the same update order: darts-v1 itself under weights-first."""
    sd = Harness("sd-darts", overrides={**overrides, "order": order}, contract=False, validate=False).run(until=3)
    ref = (Harness("darts-v1") if order == "weights-first" else _arch_first_darts()).run(until=3)
    assert len(sd) == len(ref) == 6
    for p, q in zip(sd, ref):
        assert same(p.arch, q.arch) and same(p.network, q.network), (p.epoch, p.step)
    assert ("kd_train" in sd[-1].stats) == (overrides.get("warmup") == 1)


def test_sddarts_steps_alpha_first_by_default():
    """Algorithm 1: the arch step of a step sees the weights from before that step's weight step."""
    assert SDDartsConfig().order == "arch-first"
    sd = Harness("sd-darts", overrides={"warmup": 3}, contract=False, validate=False).run(until=1)
    v1 = Harness("darts-v1").run(until=1)
    assert not same(sd[0].arch, v1[0].arch)


def test_sddarts_differs_after_warmup_only():
    sd = Harness("sd-darts", overrides={"warmup": 1, "K": 1, "order": "weights-first"}, contract=False).run(until=2)
    ref = Harness("darts-v1").run(until=2)
    diff = [not (same(p.arch, q.arch) and same(p.network, q.network)) for p, q in zip(sd, ref)]
    assert diff == [False, False, True, True]
    assert "kd_train" not in sd[1].stats and sd[2].stats["kd_train"] > 0 and sd[2].stats["kd_valid"] > 0


def _kl_by_hand(logits: torch.Tensor, teacher: torch.Tensor, direction: str, t: float) -> torch.Tensor:
    """Mean over samples of KL between the softened distributions, times T^2, in float64."""
    s = torch.softmax(logits.double() / t, -1)
    q = teacher.double() ** (1 / t)
    q = q / q.sum(-1, keepdim=True)
    p, r = (q, s) if direction == "teacher-student" else (s, q)
    return (p * (p / r).log()).sum(-1).mean() * t * t


@pytest.mark.parametrize("direction", ["teacher-student", "student-teacher"])
def test_sddarts_step_loss_is_ce_plus_lambda_kl(direction):
    lam, temperature = 0.3, 2.0
    h = Harness("sd-darts", overrides={"warmup": 1, "K": 1, "lam": lam, "temperature": temperature,
                                       "kl_direction": direction}, contract=False)
    store, recorded = h.method.teachers, {"train": {}, "valid": {}}
    real_record = store.record

    def record(half, indices, probs, epoch):  # what the store is given in epoch 0: the teachers of epoch 1
        if epoch == 0:
            recorded[half].update(zip(indices.tolist(), probs.clone()))
        real_record(half, indices, probs, epoch)

    store.record = record
    h.run(until=1)
    assert all(len(v) == 16 for v in recorded.values())  # every sample of both halves was recorded
    real_objective, seen = h.method.objective, {}

    def objective(x, target, indices, half, ctx):  # the expectation from the state before the call
        with torch.no_grad():
            logits = ctx.network(x, F.softmax(h.method.alpha, -1))
        teacher = torch.stack([recorded[half][i] for i in indices.tolist()])
        expected = F.cross_entropy(logits.double(), target) + lam * _kl_by_hand(logits, teacher, direction,
                                                                                temperature)
        loss, out, stats = real_objective(x, target, indices, half, ctx)
        seen[half] = (float(loss.detach()), float(expected), {k: float(v) for k, v in stats.items()})
        return loss, out, stats

    h.method.objective = objective
    h.run(max_steps=1)  # the first step of epoch 1, after the warm-up
    assert set(seen) == {"train", "valid"}
    for half, (loss, expected, stats) in seen.items():
        assert loss == pytest.approx(expected, rel=1e-5), half
        assert stats[f"kd_{half}"] > 0.0
        assert loss - stats[f"{half}_loss"] == pytest.approx(lam * stats[f"kd_{half}"], rel=1e-4), half


def test_cache_teacher_is_mean_of_previous_k_epochs():
    K, n, c = 2, 6, 4
    store = CacheTeacher(K, {"train": n, "valid": n}, c)
    ctx = SearchContext(None, None, torch.device("cpu"), None, 1, c, n, n)
    g = torch.Generator().manual_seed(0)
    recorded = {}
    for epoch in range(4):
        idx = torch.arange(n) if epoch != 2 else torch.tensor([0, 1, 2])  # samples 3..5 unseen in epoch 2
        probs = torch.softmax(torch.randn(len(idx), c, generator=g), -1)
        store.record("train", idx, probs, epoch)
        recorded[epoch] = dict(zip(idx.tolist(), probs))
    ctx.epoch = 4
    store.record("train", torch.tensor([0, 3]), torch.full((2, c), 1 / c), 4)  # earlier steps of this epoch
    teacher, mask = store.teacher("train", torch.arange(n), None, ctx)
    assert mask.all()
    for i in range(3):  # seen in epochs 3 and 2: epochs 0 and 1 dropped from the window
        torch.testing.assert_close(teacher[i], (recorded[2][i] + recorded[3][i]) / 2)
    for i in range(3, n):  # seen in epoch 3 only
        torch.testing.assert_close(teacher[i], recorded[3][i], rtol=0, atol=0)
    teacher, mask = store.teacher("valid", torch.arange(n), None, ctx)
    assert not mask.any() and torch.allclose(teacher, torch.full((n, c), 1 / c))
    ctx.epoch = 6  # window: epochs 4 and 5, in which only samples 0 and 3 were recorded
    teacher, mask = store.teacher("train", torch.arange(n), None, ctx)
    assert mask.tolist() == [True, False, False, True, False, False]
    torch.testing.assert_close(teacher[0], torch.full((c,), 1 / c), rtol=0, atol=0)
    ctx.epoch = 7  # epochs 5 and 6 recorded nothing: no teacher left in the window
    assert not store.teacher("train", torch.arange(n), None, ctx)[1].any()


def test_cache_memory_is_the_documented_6_2_mb():
    # CIFAR-10 official split (25,000 + 25,000 samples), K=2: the figure CacheTeacher's docstring promises
    store = CacheTeacher(2, {"train": 25_000, "valid": 25_000}, 10)
    assert store.memory_bytes() == 6_150_000
    assert sum(t.nbytes for d in (store.probs, store.seen) for t in d.values()) == 6_150_000


def test_ema_teacher_blends_epochs():
    store = EmaTeacher(0.25, {"train": 3, "valid": 3}, 2)
    ctx = SearchContext(None, None, torch.device("cpu"), None, 1, 2, 3, 3)
    p0, p1 = torch.tensor([[0.2, 0.8], [0.6, 0.4]]), torch.tensor([[0.5, 0.5], [0.9, 0.1]])
    store.record("train", torch.tensor([0, 1]), p0, 0)
    store.end_epoch(0, None, ctx)
    store.record("train", torch.tensor([0, 2]), p1, 1)
    ctx.epoch = 1
    teacher, mask = store.teacher("train", torch.tensor([0, 1, 2]), None, ctx)
    assert mask.tolist() == [True, True, False]  # sample 2 only gets a teacher after epoch 1 ends
    store.end_epoch(1, None, ctx)
    teacher, mask = store.teacher("train", torch.tensor([0, 1, 2]), None, ctx)
    torch.testing.assert_close(teacher, torch.stack([0.25 * p0[0] + 0.75 * p1[0], p0[1], p1[1]]))
    assert mask.all()


def test_kl_directions_match_hand_computation():
    logits = torch.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]], dtype=torch.float64)
    teacher = torch.tensor([[0.2, 0.5, 0.3], [0.3, 0.3, 0.4]], dtype=torch.float64)
    mask = torch.tensor([True, False])

    def by_hand(direction, t):
        z = [v / t for v in (1.0, 2.0, 0.5)]
        s = [math.exp(v) / sum(math.exp(u) for u in z) for v in z]
        tt = [p ** (1 / t) / sum(q ** (1 / t) for q in (0.2, 0.5, 0.3)) for p in (0.2, 0.5, 0.3)]
        p, q = (tt, s) if direction == "teacher-student" else (s, tt)
        return sum(a * math.log(a / b) for a, b in zip(p, q)) * t * t

    for direction in ("teacher-student", "student-teacher"):
        for t in (1.0, 2.0):
            got = float(distillation_kl(logits, teacher, mask, direction, t))
            assert got == pytest.approx(by_hand(direction, t), rel=1e-12)
    assert by_hand("teacher-student", 1.0) != pytest.approx(by_hand("student-teacher", 1.0), rel=1e-3)
    assert float(distillation_kl(logits, teacher, torch.tensor([False, False]))) == 0.0


@pytest.mark.parametrize("kind", ["snapshot", "ema", "cache"])
def test_teacher_stores_give_distributions_and_round_trip(kind):
    h = Harness("sd-darts", overrides={"teacher": kind, "K": 1, "warmup": 1}, contract=False)
    h.run(until=1)
    net_after_epoch0 = {k: t.clone() for k, t in h.ctx.network.state_dict().items()}
    weights0 = F.softmax(h.method.alpha.detach(), -1)
    h.ctx.epoch = 1
    b = h.batch(1, 0)
    teacher, mask = h.method.teachers.teacher("train", b.idx_train, b.x_train, h.ctx)
    assert mask.all() and (teacher >= 0).all()
    torch.testing.assert_close(teacher.sum(-1), torch.ones(len(teacher)))
    if kind == "snapshot":  # K=1: the softmax of the supernet as it was at the end of epoch 0
        net = SuperNet(4, 1, 10)
        net.load_state_dict(net_after_epoch0)
        with torch.no_grad():
            torch.testing.assert_close(teacher, F.softmax(net(b.x_train, weights0), -1))
    buf = io.BytesIO()
    torch.save(h.method.state_dict(), buf)
    fresh = Harness("sd-darts", overrides={"teacher": kind, "K": 1, "warmup": 1}, contract=False)
    fresh.method.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    fresh.ctx.epoch = 1
    again, mask2 = fresh.method.teachers.teacher("train", b.idx_train, b.x_train, fresh.ctx)
    assert torch.equal(mask, mask2) and torch.equal(teacher, again)
    with pytest.raises(UserError, match="teacher store"):
        other = "cache" if kind != "cache" else "ema"
        Harness("sd-darts", overrides={"teacher": other}).method.load_state_dict(h.method.state_dict())


def test_sddarts_presets_and_validation():
    assert SDDarts.preset_config("paper", 50) == SDDartsConfig(warmup=25, K=2)
    assert SDDarts.preset_config("cpu", 10) == SDDartsConfig(warmup=5, K=1)
    assert SDDarts.preset_config("cpu", 100) == SDDartsConfig(warmup=50, K=4)
    with pytest.raises(UserError, match="warmup"):
        SDDartsConfig(warmup=50).validate_for(PAPER)
    for bad in ({"K": 0}, {"lam": -1.0}, {"temperature": 0.0}, {"teacher": "oracle"},
                {"kl_direction": "both"}, {"warmup": -1}, {"ema_decay": 1.0}, {"order": "random"}):
        (field,) = bad
        with pytest.raises(UserError, match=f"sd-darts {field}|unknown sd-darts {field}"):
            SDDartsConfig(**bad)
    assert SDDarts.ablation == {"lam": 0.0, "order": "weights-first"} and SDDarts.ablation_equals == "darts-v1"


def test_sddarts_paper_defaults_are_the_papers_formula_and_weight_decay():
    """KL(f_S || f_T) as Eq. 2 prints it, and the NB201 DARTS weight decay (Sec. 4.4)."""
    c = SDDartsConfig()
    assert c.kl_direction == "student-teacher" and c.order == "arch-first"
    logits, teacher = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[0.2, 0.3, 0.5]])
    s = F.softmax(logits, -1)
    paper = (s * (s / teacher).log()).sum()
    torch.testing.assert_close(distillation_kl(logits, teacher, torch.tensor([True])), paper)
    run = build_run_config("sd-darts", "paper", 0)
    assert run.search.w_weight_decay == 5e-4 and run.method_config == c


def test_paper_sddarts_differs_from_darts_v1_only_in_method_fields():
    sd, v1 = build_run_config("sd-darts", "paper", 0), build_run_config("darts-v1", "paper", 0)
    assert sd.search == v1.search
    diff = config_diff(sd.to_dict(), v1.to_dict())
    assert "method" in diff and all(k == "method" or k.startswith("method_config.") for k in diff)


def test_paper_preset_never_scales_method_settings_from_epochs():
    run = build_run_config("sd-darts", "paper", 0, {"epochs": "100"})
    assert run.search.epochs == 100 and (run.method_config.warmup, run.method_config.K) == (25, 2)
    assert build_run_config("pc-darts", "paper", 0, {"epochs": "100"}).method_config.arch_warmup == 15
    with pytest.raises(UserError, match="warmup"):  # the paper's warm-up no longer fits: said, not scaled
        build_run_config("sd-darts", "paper", 0, {"epochs": "20"})
    cpu = build_run_config("sd-darts", "cpu", 0, {"epochs": "20"})
    assert (cpu.method_config.warmup, cpu.method_config.K) == (10, 1)
    assert build_run_config("pc-darts", "cpu", 0).method_config.arch_warmup == 3


def test_cpu_preset_keeps_its_scale_but_takes_a_methods_other_paper_settings(monkeypatch):
    monkeypatch.setattr(SDDarts, "preset_search_overrides",
                        classmethod(lambda cls, preset: {"epochs": 100, "w_nesterov": False}))
    paper, cpu = build_run_config("sd-darts", "paper", 0), build_run_config("sd-darts", "cpu", 0)
    assert (paper.search.epochs, paper.search.w_nesterov) == (100, False)
    # a 100-epoch paper runs twice the epochs of a 50-epoch one under a scaled preset
    assert (cpu.search.epochs, cpu.search.w_nesterov) == (2 * CPU.epochs, False)
    assert cpu.search.channels == CPU.channels and cpu.search.train_limit == CPU.train_limit
    assert cpu.method_config.warmup == round(25 * cpu.search.epochs / 100)  # scaled by the paper's 100 epochs


@pytest.mark.parametrize("preset", ["cpu", "proxy"])
def test_scaled_presets_give_every_method_the_same_fraction_of_its_paper_budget(preset):
    fraction = SCALED[preset].epochs / PAPER.epochs
    for name in registry.BUILTINS:
        paper = build_run_config(name, "paper", 0).search.epochs
        scaled = build_run_config(name, preset, 0).search.epochs
        assert scaled == max(1, round(paper * fraction)), name
    assert build_run_config("gdas", "cpu", 0).search.epochs == 5 * build_run_config("darts-v1", "cpu", 0).search.epochs
    assert build_run_config("gdas", preset, 0, {"epochs": "7"}).search.epochs == 7  # --set wins
    assert build_run_config("darts-v1", "paper", 0).search.epochs == PAPER.epochs


# -- random search --------------------------------------------------------------------------------
def test_random_search_cell_comes_from_its_stream():
    m = RandomSearch(seed=11)
    assert m.genotype() == random_cell(random.Random(derive_seed(11, "random-cell")))
    assert isinstance(m.genotype(), Cell) and not RandomSearch.trains_supernet
    with pytest.raises(RuntimeError, match="must not call step"):
        m.step(None, None)


def test_methods_command_shows_each_paper(capsys):
    from nasbench_sd.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["methods"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    lines = out.splitlines()
    for name in registry.BUILTINS:
        cls = get_method(name)
        i = next(k for k, line in enumerate(lines) if line.split()[0] == name)
        assert cls.description in lines[i] and lines[i + 1].strip() == f"paper: {cls.paper}"
    # random is a chance floor, not Li & Talwalkar's weight-sharing random search (that is rsps)
    assert "chance" in RandomSearch.paper and not RandomSearch.paper.startswith("Li, Talwalkar")
