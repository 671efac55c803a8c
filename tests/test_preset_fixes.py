"""The presets run the algorithms the authors' code runs (issue 26, item 5): DARTS- steps the
architecture first, DSNAS trains single-level on both halves, DrNAS's reg_scale is alpha's
weight decay in L2 mode, iDARTS runs its notebook. A saved config without the new fields
reads as before (the Config defaults are unchanged), and each fix cites its source."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nasbench_sd.errors import UserError
from nasbench_sd.methods import get_method
from nasbench_sd.methods.darts_minus import DartsMinusConfig
from nasbench_sd.methods.drnas import DrNASConfig
from nasbench_sd.methods.dsnas import DSNASConfig
from nasbench_sd.presets import build_run_config
from nasbench_sd.testing.contract import Harness, toy_search_config


def _equal_traces(a, b) -> bool:
    return all(torch.equal(x, y) for p, q in zip(a, b, strict=True) for x, y in zip(p.arch[:1] + p.network,
                                                                                    q.arch[:1] + q.network))


# -- DARTS-: the authors' order -------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["paper", "cpu", "proxy"])
def test_darts_minus_presets_step_the_architecture_first(preset):
    assert build_run_config("darts-minus", preset, 0).method_config.arch_first is True
    assert DartsMinusConfig().arch_first is False  # what runs made before the field did


def test_darts_minus_arch_first_is_first_order_darts_stepping_alpha_first():
    """With beta0 = 0 the arch-first DARTS- equals SD-DARTS without distillation in Algorithm 1's
    order (another method's arch-first step), and differs from the weights-first darts-v1."""
    minus = Harness("darts-minus", overrides={"beta0": 0.0, "arch_first": True}, contract=False).run(until=2)
    sd = Harness("sd-darts", overrides={"lam": 0.0, "order": "arch-first"}).run(until=2)
    v1 = Harness("darts-v1").run(until=2)
    assert _equal_traces(minus, sd)
    assert not _equal_traces(minus, v1)


# -- DSNAS: single level on the full training set ---------------------------------------------------------
@pytest.mark.parametrize("preset", ["paper", "cpu", "proxy"])
def test_dsnas_presets_train_on_both_halves(preset):
    cfg = build_run_config("dsnas", preset, 0).method_config
    assert cfg.halves == "both" and cfg.level == "single"
    assert DSNASConfig().halves == "train"
    assert "line 346" in get_method("dsnas").sources["halves"]
    with pytest.raises(UserError, match="bilevel"):
        DSNASConfig(level="bilevel", halves="both")


def test_dsnas_both_halves_takes_a_full_update_on_each_batch():
    """Per loop step: a weight and an arch step on the train batch, then on the valid batch; the
    second update's forward pass sees the valid images with gradients on, and its loss before the
    update is what the step reports as valid_loss."""
    h = Harness("dsnas", overrides={"halves": "both"})
    calls: dict[str, int] = {"w": 0, "a": 0}
    w_step, a_step = h.ctx.w_optimizer.step, h.method.a_optimizer.step
    h.ctx.w_optimizer.step = lambda *a, **k: (calls.__setitem__("w", calls["w"] + 1), w_step(*a, **k))[1]
    h.method.a_optimizer.step = lambda *a, **k: (calls.__setitem__("a", calls["a"] + 1), a_step(*a, **k))[1]
    seen = []
    forward = h.ctx.network.forward
    h.ctx.network.forward = lambda x, *a, **k: (seen.append((x, torch.is_grad_enabled())), forward(x, *a, **k))[1]
    b = h.batch(0, 0)
    before = [t.detach().clone() for t in h.ctx.network.state_dict().values()]
    stats = h.method.step(b, h.ctx)
    assert calls == {"w": 2, "a": 2}
    assert [(x is b.x_train, grad) for x, grad in seen] == [(True, True), (False, True)]
    assert seen[1][0] is b.x_valid
    assert not all(torch.equal(x, y) for x, y in zip(before, h.ctx.network.state_dict().values()))
    assert set(stats) >= {"train_loss", "train_acc", "valid_loss", "valid_acc"}
    one_half = Harness("dsnas", overrides={"halves": "train"})
    one_half.ctx.w_optimizer.step = lambda *a, **k: (calls.__setitem__("w", calls["w"] + 1), None)[1]
    calls["w"] = 0
    one_half.method.step(b, one_half.ctx)
    assert calls["w"] == 1  # the train half only, as before the setting


# -- DrNAS: reg_scale is alpha's weight decay in L2 mode -----------------------------------------------------
def test_drnas_l2_mode_uses_reg_scale_as_alphas_weight_decay():
    """DrNAS architect.py: Adam(weight_decay=reg_scale) in l2 mode. With softmax mixing and the
    NB201 order, drnas(reg_scale=r) equals darts-v1 whose a_weight_decay is r, whatever the
    search's a_weight_decay says (here 0, the check that refuses it bypassed)."""
    r = 0.3
    search = toy_search_config(a_weight_decay=0.0)
    drnas = Harness("drnas", overrides={"distribution": "softmax", "arch_first": False, "reg_scale": r},
                    search=search, validate=False)
    assert drnas.method.a_optimizer.param_groups[0]["weight_decay"] == r
    ref = Harness("darts-v1", search=toy_search_config(a_weight_decay=r))
    other = Harness("darts-v1", search=search)
    a, b, c = drnas.run(until=2), ref.run(until=2), other.run(until=2)
    assert _equal_traces(a, b) and not _equal_traces(a, c)


def test_drnas_refuses_an_a_weight_decay_it_would_ignore_and_kl_mode_has_none():
    with pytest.raises(UserError, match="reg_scale"):
        build_run_config("drnas", "cpu", 0, {"a_weight_decay": "0.01"})
    cfg = build_run_config("drnas", "cpu", 0, {"a_weight_decay": "0.01", "method.reg_scale": "0.01"})
    assert cfg.method_config.reg_scale == cfg.search.a_weight_decay == 0.01
    kl = Harness("drnas", overrides={"reg_type": "kl"})
    assert kl.method.a_optimizer.param_groups[0]["weight_decay"] == 0.0
    assert DrNASConfig().reg_scale == 1e-3 == build_run_config("drnas", "paper", 0).search.a_weight_decay
    assert "architect.py lines 17-22" in get_method("drnas").sources["reg_scale"]


# -- every method's control: its idea off, all else equal -------------------------------------------------------
CONTROLLED = [m for m in ("sd-darts", "snas", "drnas", "beta-darts", "darts-minus", "pc-darts", "idarts")]


@pytest.mark.parametrize("method", CONTROLLED)
@pytest.mark.parametrize("preset", ["paper", "proxy"])
def test_a_control_changes_only_the_methods_own_fields_and_keeps_its_order(method, preset):
    cls = get_method(method)
    control = cls.control_overrides()
    own = build_run_config(method, preset, 0)
    twin = build_run_config(method, preset, 0, {f"method.{k}": str(v) for k, v in control.items()})
    assert twin.search == own.search  # the protocol: epochs, split, optimisers, data
    changed = {f.name for f in dataclasses.fields(own.method_config)
               if getattr(own.method_config, f.name) != getattr(twin.method_config, f.name)}
    assert changed and changed <= set(control)
    for order in ("arch_first", "order"):  # the update order stays the method's
        if hasattr(own.method_config, order):
            assert getattr(twin.method_config, order) == getattr(own.method_config, order)
    assert cls.control_note


@pytest.mark.parametrize("method", ["dsnas", "rsps", "gdas", "darts-v1", "darts-v2", "random"])
def test_methods_without_an_idea_to_switch_off_declare_no_control(method):
    assert get_method(method).control_overrides() is None


def test_each_control_is_plain_first_order_darts_in_its_methods_order():
    """A control switches off exactly one idea and leaves plain first-order DARTS: with alpha
    stepped first, the controls of SNAS, DrNAS, beta-DARTS and DARTS- take the very steps of
    SD-DARTS without distillation (five code paths, one search); iDARTS's control is DARTS-V1.
    So two controls that share a protocol are the same search, run for run (results/arena's
    beta-DARTS and SNAS controls), and each method's effect is that of its idea alone."""
    arch_first = {name: Harness(name, overrides={**get_method(name).control_overrides(), "arch_first": True},
                                contract=False).run(until=3)
                  for name in ("snas", "drnas", "beta-darts", "darts-minus")}
    sd = Harness("sd-darts", overrides={"lam": 0.0, "warmup": 1}, contract=False).run(until=3)
    for name, trace in arch_first.items():
        assert _equal_traces(trace, sd), name
    idarts = Harness("idarts", overrides=get_method("idarts").control_overrides(), contract=False).run(until=3)
    v1 = Harness("darts-v1").run(until=3)
    assert _equal_traces(idarts, v1)
    assert not _equal_traces(sd, v1)  # the order matters: the comparison can tell searches apart
    snas = Harness("snas", overrides={"arch_first": True}, contract=False).run(until=3)
    assert not _equal_traces(snas, arch_first["snas"])  # and the idea, switched on, changes the search
