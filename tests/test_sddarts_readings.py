"""SD-DARTS's two untested readings as settings (issue 26, item 4): what the warm-up trains
(``warmup_alpha``) and how H is reduced over a batch (``kd_reduction``). The defaults are
the behaviour before the settings existed, so runs already made stay the same runs."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError
from nasbench_sd.methods import get_method
from nasbench_sd.methods.sddarts import SDDartsConfig, distillation_kl
from nasbench_sd.presets import build_run_config, config_diff
from nasbench_sd.testing.contract import Harness


def test_defaults_are_the_behaviour_before_the_settings():
    assert SDDartsConfig().warmup_alpha == "train" and SDDartsConfig().kd_reduction == "mean"
    for preset in ("paper", "cpu", "proxy"):
        new = build_run_config("sd-darts", preset, 0).to_dict()
        old = json.loads(json.dumps(new))
        del old["method_config"]["warmup_alpha"], old["method_config"]["kd_reduction"]
        assert config_diff(old, new) == []  # a run saved before the fields is this preset's run
    for bad in ({"warmup_alpha": "x"}, {"kd_reduction": "max"}):
        with pytest.raises(UserError):
            SDDartsConfig(**bad)
    sources = get_method("sd-darts").sources
    assert "Algorithm 1" in sources["warmup_alpha"] and "Eq. 2" in sources["kd_reduction"]


def test_frozen_warmup_leaves_alpha_unchanged_and_trains_the_weights():
    """Epochs < warmup: alpha (and its Adam state) untouched, the weights move exactly as in
    DARTS with a weights-only warm-up (PC-DARTS without its own terms, arch_warmup = 2);
    from the warm-up's end alpha moves."""
    h = Harness("sd-darts", overrides={"warmup": 2, "warmup_alpha": "frozen"}, contract=False)
    alpha0, net0 = h.arch()[0], h.network()
    warm = h.run(until=2)
    assert all(torch.equal(p.arch[0], alpha0) for p in warm)
    assert not h.method.a_optimizer.state  # no Adam step, so no Adam state, during the warm-up
    trace = warm + h.run(until=3)
    assert any(not torch.equal(x, y) for x, y in zip(warm[0].network, net0))  # the weights train
    ref = Harness("pc-darts", overrides={"partial_channels": 1, "edge_normalization": False, "arch_warmup": 2},
                  contract=False).run(until=2)
    for p, q in zip(warm, ref, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(p.network, q.network))
        assert p.stats["train_loss"] == q.stats["train_loss"] and p.stats["valid_loss"] == q.stats["valid_loss"]
    assert not torch.equal(trace[-1].arch[0], alpha0)  # distillation epoch: alpha steps
    trained = Harness("sd-darts", overrides={"warmup": 2}, contract=False).run(until=1)
    assert not torch.equal(trained[0].arch[0], alpha0)  # the default reading trains alpha in the warm-up


def test_frozen_warmup_still_records_teachers_of_both_halves():
    h = Harness("sd-darts", overrides={"warmup": 1, "warmup_alpha": "frozen"}, contract=False)
    h.run(until=1)
    store = h.method.teachers
    for half in ("train", "valid"):
        assert bool(store.seen[half][0].any())


def test_sum_reduction_gradient_is_batch_size_times_the_mean():
    """d(sum)/d logits = (number of samples with a teacher) x d(mean)/d logits, whatever the direction."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 10, generator=g, dtype=torch.float64)
    teacher = F.softmax(torch.randn(8, 10, generator=g, dtype=torch.float64), -1)
    for mask in (torch.ones(8, dtype=torch.bool), torch.tensor([1, 0, 1, 1, 0, 1, 1, 1], dtype=torch.bool)):
        for direction in ("student-teacher", "teacher-student"):
            grads = {}
            for reduction in ("mean", "sum"):
                x = logits.clone().requires_grad_(True)
                distillation_kl(x, teacher, mask, direction, 2.0, reduction).backward()
                grads[reduction] = x.grad
            n = int(mask.sum())
            torch.testing.assert_close(grads["sum"], n * grads["mean"], rtol=1e-12, atol=1e-15)
            assert grads["sum"].abs().max() > 0


def test_sum_reduction_equals_lambda_times_batch_size_on_the_mean():
    """A search with kd_reduction=sum, lam=1 takes the steps of kd_reduction=mean, lam=batch size
    (every sample has a teacher after the first epoch on the toy data), and reports the same
    per-sample KL statistics."""
    batch = Harness("sd-darts").search.batch_size
    common = {"warmup": 1, "K": 1}
    a = Harness("sd-darts", overrides={**common, "kd_reduction": "sum", "lam": 1.0}, contract=False).run(until=3)
    b = Harness("sd-darts", overrides={**common, "kd_reduction": "mean", "lam": float(batch)},
                contract=False).run(until=3)
    m = Harness("sd-darts", overrides={**common, "lam": 1.0}, contract=False).run(until=3)
    for p, q in zip(a, b, strict=True):
        for x, y in zip(p.arch + p.network, q.arch + q.network):
            torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)
        if p.epoch >= 1:
            assert p.stats["kd_train"] == pytest.approx(q.stats["kd_train"], rel=1e-4)
    assert not torch.allclose(a[-1].arch[0], m[-1].arch[0])  # sum with lam 1 is not the mean with lam 1


def test_at_lambda_0_the_reduction_changes_nothing():
    """results/arena-sd pairs each reading's lam 1 with its own lam 0; under kd_reduction=sum
    lam 0 is the same search as under mean (the term is not added), step for step, bit for bit."""
    common = {"warmup": 1, "K": 1, "lam": 0.0}
    a = Harness("sd-darts", overrides={**common, "kd_reduction": "sum"}, contract=False).run(until=3)
    b = Harness("sd-darts", overrides={**common, "kd_reduction": "mean"}, contract=False).run(until=3)
    for p, q in zip(a, b, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(p.arch + p.network, q.arch + q.network))
        assert p.stats["train_loss"] == q.stats["train_loss"]
    assert not torch.equal(a[-1].arch[0], a[0].arch[0])  # the search moved
