"""Every registered method (built-ins and installed plugins) passes the contract
suite shipped in ``nasbench_sd.testing``; the suite catches broken methods; the
registry refuses duplicate names."""

from __future__ import annotations

import importlib.util
from importlib import metadata

import pytest
import torch
from torch.autograd.function import once_differentiable

from nasbench_sd.methods import RegistryError, get_method, list_methods, register, registry, unregister
from nasbench_sd.methods.base import ArchParamMethod
from nasbench_sd.methods.darts import DartsV1
from nasbench_sd.methods.gdas import GDAS
from nasbench_sd.methods.sddarts import SDDarts
from nasbench_sd.testing import (
    CONTRACT_CHECKS,
    check_arch_gradients,
    check_checkpoint_safe,
    check_deterministic,
    check_edge_weights,
    check_midepoch_resume,
    check_own_term,
    check_state_roundtrip,
    contract_case_id,
    contract_cases,
    run_contract,
)

CASES = contract_cases()
PLUGIN_INSTALLED = importlib.util.find_spec("nasbench_sd_testplugin") is not None


@pytest.mark.parametrize("case", CASES, ids=[contract_case_id(c) for c in CASES])
def test_contract(case):
    method, check = case
    note = check(method)
    if note:
        pytest.skip(note)


def test_builtins_are_all_covered():
    names = {m for m, _ in CASES}
    assert set(registry.BUILTINS) <= names
    assert len(CASES) == len(names) * len(CONTRACT_CHECKS)


# -- the plugin ---------------------------------------------------------------------------
@pytest.mark.skipif(not PLUGIN_INSTALLED, reason="test plugin not installed (pip install -e tests/plugin)")
def test_plugin_is_listed_and_in_the_contract_cases():
    import nasbench_sd_testplugin

    assert "toy-darts" in list_methods()
    assert get_method("toy-darts") is nasbench_sd_testplugin.ToyDarts
    assert [c for m, c in CASES if m == "toy-darts"] == CONTRACT_CHECKS  # so test_contract ran it fully


def test_run_contract_reports_every_check():
    notes = run_contract("random")
    assert list(notes) == [c.__name__ for c in CONTRACT_CHECKS]
    assert notes["check_genotype_valid"] is None and "no supernet" in notes["check_arch_gradients"]


# -- duplicate names ----------------------------------------------------------------------
def test_registering_a_taken_name_raises():
    class Impostor(DartsV1):
        name = "darts-v1"

    with pytest.raises(RegistryError, match="already registered"):
        register(Impostor)


def test_registering_twice_under_one_name_raises():
    class First(DartsV1):
        name = "test-dup-method"

    class Second(DartsV1):
        name = "test-dup-method"

    register(First)
    try:
        assert register(First) is First  # the same class again is harmless
        with pytest.raises(RegistryError, match="already registered"):
            register(Second)
    finally:
        unregister("test-dup-method")
    assert "test-dup-method" not in list_methods()


def test_plugin_clashing_with_a_builtin_raises(monkeypatch):
    fake = metadata.EntryPoint(name="gdas", value="somewhere:Else", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_sources", None)
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [fake])
    with pytest.raises(RegistryError, match="clashes"):
        list_methods()


# -- the suite catches broken methods -------------------------------------------------------
class ForgetfulSD(SDDarts):
    """Drops its teacher store from the checkpoint."""

    name = "broken-forgetful"

    def state_dict(self):
        state = super().state_dict()
        state["teachers"] = None
        return state


class GlobalRngGDAS(GDAS):
    """Draws Gumbel noise from torch's global RNG."""

    name = "broken-global-rng"

    def gumbel(self):
        return -torch.empty(self.alpha.shape).exponential_().log()


class DeadTermSD(SDDarts):
    """Declares an own term that never enters the loss."""

    name = "broken-dead-term"

    def objective(self, x, target, indices, half, ctx):
        return DartsV1.objective(self, x, target, indices, half, ctx)


class FrozenArch(ArchParamMethod):
    """Never takes an arch step."""

    name = "broken-frozen-arch"
    description = paper = "test"

    def step(self, batch, ctx):
        return self.weight_step(batch, ctx)


class _OnceSoftmax(torch.autograd.Function):
    """Softmax whose backward is not itself differentiable."""

    @staticmethod
    def forward(ctx, a):
        out = torch.softmax(a, -1)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return s * (grad - (grad * s).sum(-1, keepdim=True))


class OnceDifferentiable(DartsV1):
    name = "broken-once-differentiable"

    def edge_weights(self, training=True):
        return _OnceSoftmax.apply(self.alpha), None


class NumpyRngDarts(DartsV1):
    """Keeps a numpy generator in its checkpoint (unpickling it would need numpy's classes)."""

    name = "broken-numpy-state"

    def state_dict(self):
        import numpy as np

        return {**super().state_dict(), "rng": np.random.default_rng(self.seed)}


class CountingEpochStartGDAS(GDAS):
    """Draws from its generator at every epoch start: a mid-epoch resume calls it twice."""

    name = "broken-epoch-start"

    def on_epoch_start(self, ctx):
        super().on_epoch_start(ctx)
        torch.rand(1, generator=self.gumbel_generator)


@pytest.mark.parametrize("broken, check, message", [
    (NumpyRngDarts, check_checkpoint_safe, "holds /rng: numpy.random._generator.Generator"),
    (CountingEpochStartGDAS, check_midepoch_resume, "resuming in the middle of an epoch differs"),
    (ForgetfulSD, check_state_roundtrip, "resuming from state_dict differs from continuing"),
    (GlobalRngGDAS, check_deterministic, "two runs with seed 0 differ"),
    (DeadTermSD, check_own_term, "its own term changes nothing"),
    (FrozenArch, check_arch_gradients, "did not change in one step"),
    (OnceDifferentiable, check_edge_weights, "not twice differentiable"),
], ids=["numpy-state", "epoch-start-draws", "forgotten-state", "global-rng", "dead-term", "frozen-arch",
        "once-differentiable"])
def test_contract_catches_broken_methods(broken, check, message):
    with pytest.raises(AssertionError, match=message):
        check(broken)
