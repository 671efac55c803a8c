"""RSPS: the path sampler, weight steps on the sampled path only, the best-of-N
selection on valid batches, presets, and a search through the loop (METHODS.md section 8 (f))."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from nasbench_sd.cells import NUM_EDGES, NUM_OPS, Cell
from nasbench_sd.data.extra import BatchSource
from nasbench_sd.errors import UserError
from nasbench_sd.methods import SearchContext
from nasbench_sd.methods.rsps import RSPS, RSPSConfig, sample_ops
from nasbench_sd.nn.supernet import SearchCell
from nasbench_sd.presets import build_run_config
from nasbench_sd.search import run_search
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing import (
    Harness,
    check_arch_gradients,
    check_deterministic,
    check_own_term,
    check_state_roundtrip,
    toy_search_config,
)
from nasbench_sd.testing.contract import single_thread
from searchkit import tiny_config, tiny_data


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def test_sampler_is_uniform_and_edges_independent():
    ops = sample_ops(torch.Generator().manual_seed(0), 100_000)
    assert ops.shape == (100_000, NUM_EDGES)
    freq = torch.stack([torch.bincount(ops[:, e], minlength=NUM_OPS) for e in range(NUM_EDGES)]) / 100_000
    assert (freq - 0.2).abs().max() < 0.005
    expected = 100_000 / NUM_OPS**2
    for e1 in range(NUM_EDGES):
        for e2 in range(e1 + 1, NUM_EDGES):
            counts = torch.bincount(ops[:, e1] * NUM_OPS + ops[:, e2], minlength=NUM_OPS**2).double()
            chi2 = float(((counts - expected) ** 2 / expected).sum())
            assert chi2 < 60.0, (e1, e2, chi2)  # 24 degrees of freedom: P(chi2 > 60) < 1e-4


def test_a_step_trains_only_the_sampled_path():
    h = Harness("rsps")
    drawn = []
    sample = h.method.edge_weights
    h.method.edge_weights = lambda training=True: drawn.append(sample(training)) or drawn[-1]
    h.method.step(h.batch(0, 0), h.ctx)
    (weights, ops), = drawn
    assert torch.equal(weights, torch.nn.functional.one_hot(ops, NUM_OPS).float()) and not weights.requires_grad
    cells = [m for m in h.ctx.network.modules() if isinstance(m, SearchCell)]
    assert cells
    for cell in cells:
        for e, edge in enumerate(cell.edges):
            for o, op in enumerate(edge.ops):
                for p in op.parameters():
                    trained = p.grad is not None and bool(p.grad.abs().sum() > 0)
                    assert trained == (o == int(ops[e])), (e, o)
    assert h.ctx.network.classifier.weight.grad.abs().sum() > 0 and h.method.arch_parameters() == []


# -- the selection on a network whose accuracy per cell is known ------------------------------------------------
class KnownAccuracyNet(nn.Module):
    """Predicts the label (stored in pixel [0, 0, 0]) correctly for the first
    ``round(q * B)`` images of a batch, ``q`` a fixed function of the cell; logs every call."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[list[int], list[int], bool]] = []

    @staticmethod
    def quality(ops: list[int]) -> float:
        return sum(o * 5**e for e, o in enumerate(ops)) / (5**NUM_EDGES - 1)

    def forward(self, x, weights, active):
        ops = active.tolist()
        assert torch.equal(weights, torch.nn.functional.one_hot(active, NUM_OPS).float())
        self.calls.append((ops, x[:, 0, 0, 1].long().tolist(), self.training))
        labels = x[:, 0, 0, 0].long()
        n_right = round(self.quality(ops) * len(labels))
        pred = torch.cat([labels[:n_right], (labels[n_right:] + 1) % 10])
        return torch.nn.functional.one_hot(pred, 10).float()


def _known_ctx(n: int = 256):
    g = torch.Generator().manual_seed(0)
    halves = {}
    for k, half in enumerate(("train", "valid")):
        y = torch.randint(0, 10, (n,), generator=g)
        x = torch.zeros(n, 3, 4, 4)
        x[:, 0, 0, 0], x[:, 0, 0, 1] = y.float(), torch.arange(n).float()
        halves[half] = (x, y, torch.arange(n) + k * n)
    net = KnownAccuracyNet()
    ctx = SearchContext(net, None, torch.device("cpu"), toy_search_config(), 1, 10, 2 * n, 2 * n,
                        batches=BatchSource(halves))
    return net, ctx


def test_selection_picks_the_truly_best_candidate_each_on_its_own_valid_batch():
    net, ctx = _known_ctx()
    m = RSPS(RSPSConfig(candidates=12, eval_batch=64), seed=0)
    m.on_epoch_end(ctx)
    assert len(net.calls) == 12 and not any(training for _, _, training in net.calls) and net.training
    cells = [ops for ops, _, _ in net.calls]
    accs = [round(KnownAccuracyNet.quality(ops) * 64) for ops in cells]
    best = cells[accs.index(max(accs))]  # the first of the best
    assert m.genotype() == Cell.from_op_ids(best)
    assert len({tuple(c) for c in cells}) > 1
    samples = [set(ids) for _, ids, _ in net.calls]
    assert all(len(s) == 64 for s in samples)
    for i in range(4):  # 256 valid images = 4 disjoint batches per pass, then a reshuffle
        assert not any(samples[i] & samples[j] for j in range(4) if j != i)
    assert len({frozenset(s) for s in samples}) == 12  # every candidate on another batch


def test_one_candidate_gives_the_sampled_cell_and_selection_is_reproducible():
    net, ctx = _known_ctx()
    m = RSPS(RSPSConfig(candidates=1, eval_batch=64), seed=5)
    m.on_epoch_end(ctx)
    assert m.genotype() == Cell.from_op_ids(net.calls[0][0])
    runs = []
    for seed in (3, 3, 4):
        net, ctx = _known_ctx()
        m = RSPS(RSPSConfig(candidates=8, eval_batch=32), seed=seed)
        m.on_epoch_end(ctx)
        runs.append((m.genotype(), net.calls))
    assert runs[0] == runs[1] and runs[0][1] != runs[2][1]


# -- presets and the loop ---------------------------------------------------------------------------------
def test_presets():
    paper = build_run_config("rsps", "paper", 0)
    assert paper.search.epochs == 250 and paper.method_config == RSPSConfig(candidates=100, eval_batch=512)
    s = paper.search
    assert (s.w_lr, s.w_lr_min, s.w_nesterov, s.w_weight_decay, s.grad_clip, s.batch_size) == \
        (0.025, 0.001, True, 5e-4, 5.0, 64)
    assert build_run_config("rsps", "paper", 0, {"epochs": "3"}).method_config == RSPSConfig()
    cpu = build_run_config("rsps", "cpu", 0)
    assert cpu.search.epochs == 50 and cpu.method_config.candidates == 10  # 1/5 of its 250 paper epochs
    assert cpu.method_config.eval_batch == 64  # a scaled half would make selection cost more than training
    assert build_run_config("rsps", "proxy", 0).method_config == RSPSConfig(candidates=10, eval_batch=64)
    fields = {f.name for f in dataclasses.fields(RSPSConfig)} | {"epochs"}
    assert set(RSPS.sources) <= fields and "epochs" in RSPS.sources


@pytest.mark.parametrize("bad", [{"candidates": 0}, {"eval_batch": 0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(UserError):
        RSPSConfig(**bad)


@pytest.mark.parametrize("method", ["rsps", "idarts"])
def test_search_through_the_loop_resumes_exactly(method, tmp_path):
    cfg = tiny_config(method, epochs="2")
    data = tiny_data(n=32)  # 2 steps per epoch
    full = run_search(cfg, tmp_path / "full", data=data, quiet=True)
    assert run_search(cfg, tmp_path / "cut", data=data, quiet=True, max_steps=3) == {}
    resumed = run_search(cfg, tmp_path / "cut", data=data, quiet=True, resume=True)
    assert resumed["cell"] == full["cell"]
    a, b = RunDir(tmp_path / "full").load_checkpoint(), RunDir(tmp_path / "cut").load_checkpoint()
    assert all(torch.equal(a["network"][k], b["network"][k]) for k in a["network"])
    strip = lambda rs: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rs]  # noqa: E731
    records = strip(RunDir(tmp_path / "full").metrics())
    assert records == strip(RunDir(tmp_path / "cut").metrics()) and len(records) == 2
    assert all(r["valid_acc"] >= 0 for r in records)


# -- the contract catches broken methods without architecture parameters ---------------------------------
class LazyRSPS(RSPS):
    """Reports statistics but never trains."""

    name = "broken-lazy-rsps"

    def step(self, batch, ctx):
        zero = torch.zeros(())
        return {"train_loss": zero, "train_acc": zero, "valid_loss": zero, "valid_acc": zero}


class GlobalRngRSPS(RSPS):
    """Samples paths from torch's global RNG."""

    name = "broken-global-rng-rsps"

    def edge_weights(self, training=True):
        if not training:
            return super().edge_weights(training)
        ops = torch.randint(0, NUM_OPS, (NUM_EDGES,))
        return torch.nn.functional.one_hot(ops, NUM_OPS).float(), ops


class ForgetfulRSPS(RSPS):
    """Does not save its path generator."""

    name = "broken-forgetful-rsps"

    def state_dict(self):
        state = super().state_dict()
        state["path_rng"] = torch.Generator().manual_seed(0).get_state()
        return state


class ArchRSPS(RSPS):
    """Declares no architecture parameters but reports some."""

    name = "broken-arch-rsps"

    def arch_parameters(self):
        return [torch.zeros(6, 5, requires_grad=True)]


@pytest.mark.parametrize("broken, check", [
    (LazyRSPS, check_own_term), (GlobalRngRSPS, check_deterministic), (ForgetfulRSPS, check_state_roundtrip),
    (ArchRSPS, check_arch_gradients),
], ids=["lazy", "global-rng", "forgetful", "arch"])
def test_contract_catches_broken_arch_free_methods(broken, check):
    with pytest.raises(AssertionError):
        check(broken)
