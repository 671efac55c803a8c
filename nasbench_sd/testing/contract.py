"""The contract every search method must pass, built-in or plugin.

Each ``check_*`` takes a method name (registered, plugins included) or a
:class:`~nasbench_sd.methods.base.SearchMethod` subclass, runs a tiny CPU
search through the documented call protocol (:class:`Harness`) and raises
:class:`AssertionError` with a message naming the broken promise. A check that
does not apply (e.g. arch gradients of random search) returns a note instead
of ``None``. Use from a plugin's tests::

    from nasbench_sd.testing import run_contract
    run_contract("my-method")

or parametrised in pytest (``contract_cases()`` pairs every registered method
with every check; skip when a check returns a note).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from nasbench_sd.cells import Cell
from nasbench_sd.config import CPU, PAPER, SearchConfig
from nasbench_sd.data.extra import BatchSource
from nasbench_sd.data.loader import StepBatch
from nasbench_sd.methods.base import MethodConfig, SearchContext, SearchMethod
from nasbench_sd.methods.registry import get_method, list_methods
from nasbench_sd.search.schedule import cosine_lr
from nasbench_sd.seeding import derive_seed
from nasbench_sd.testing.seedbatch import check_seed_batching

MethodLike = str | type[SearchMethod]
STEP_KEYS = ("train_loss", "train_acc", "valid_loss", "valid_acc")


def method_class(method: MethodLike) -> type[SearchMethod]:
    """The class of a registered name, or ``method`` itself."""
    return get_method(method) if isinstance(method, str) else method


def toy_search_config(**overrides: Any) -> SearchConfig:
    """A 3-epoch search on a 4-channel, 1-cell-per-stage supernet with batch 8."""
    return SearchConfig(**{"channels": 4, "cells_per_stage": 1, "epochs": 3, "batch_size": 8, **overrides})


#: The harness feeds methods the loop's own batch type.
ToyBatch = StepBatch


@dataclass
class TracePoint:
    """The state after one step: arch parameters, network tensors, statistics."""

    epoch: int
    step: int
    arch: list[torch.Tensor]
    network: list[torch.Tensor]
    stats: dict[str, float]


def step_floats(stats: dict[str, Any]) -> dict[str, float]:
    """A step's statistics as floats; each must be a number or a detached 0-dim tensor."""
    out = {}
    for k, v in stats.items():
        if isinstance(v, torch.Tensor):
            assert v.dim() == 0 and not v.requires_grad, \
                f"step statistic {k!r} must be a detached 0-dim tensor, got shape {tuple(v.shape)}"
            v = float(v)
        out[k] = v
    return out


class Harness:
    """A tiny deterministic CPU search driven exactly by the call protocol.

    Random images (``image_size``², ``steps_per_epoch * batch_size`` samples
    per half, dataset indices spread over ``2 n`` keys) are fixed; each epoch
    visits them in an order that depends only on the epoch; ``ctx.batches``
    serves extra batches of the same images (already normalised; crop padding 1).
    The network is a
    :class:`~nasbench_sd.nn.supernet.SuperNet` initialised from the stream
    ``"weights-init"``; the weight optimiser is SGD as in the search loop with
    the loop's per-epoch cosine learning rate. ``overrides`` change the
    method's default config; with ``contract=True`` the class's
    ``contract_overrides`` are applied first.
    """

    def __init__(self, method: MethodLike, seed: int = 0, overrides: dict[str, Any] | None = None, *,
                 contract: bool = True, search: SearchConfig | None = None, steps_per_epoch: int = 2,
                 image_size: int = 8, num_classes: int = 10, validate: bool = True):
        from nasbench_sd.nn.supernet import SuperNet

        self.cls = method_class(method)
        self.search = search if search is not None else toy_search_config()
        changes = {**(self.cls.contract_overrides if contract else {}), **(overrides or {})}
        config: MethodConfig = dataclasses.replace(self.cls.Config(), **changes)
        if validate:
            config.validate_for(self.search)
        self.method = self.cls(config, seed)
        self.steps_per_epoch, self.epoch, self.step = steps_per_epoch, 0, 0  # position: the next step to take
        n, s = steps_per_epoch * self.search.batch_size, self.search
        g = torch.Generator().manual_seed(12345)
        self.data = {half: (torch.randn(n, 3, image_size, image_size, generator=g),
                            torch.randint(0, num_classes, (n,), generator=g),
                            torch.randperm(2 * n, generator=g)[:n]) for half in ("train", "valid")}
        if not self.cls.trains_supernet:
            self.ctx = None
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(seed, "weights-init"))
            net = SuperNet(s.channels, s.cells_per_stage, num_classes, **self.method.supernet_options())
        opt = torch.optim.SGD(net.parameters(), lr=s.w_lr, momentum=s.w_momentum,
                              nesterov=s.w_nesterov and s.w_momentum > 0, weight_decay=s.w_weight_decay)
        self.ctx = SearchContext(network=net, w_optimizer=opt, device=torch.device("cpu"), search=s,
                                 steps_per_epoch=steps_per_epoch, num_classes=num_classes,
                                 num_train_keys=2 * n, num_valid_keys=2 * n,
                                 batches=BatchSource(self.data, padding=1))
        self.method.setup(self.ctx)

    def batch(self, epoch: int, step: int) -> ToyBatch:
        """Batch ``step`` of ``epoch`` (the same for every harness)."""
        b = self.search.batch_size
        parts = []
        for k, half in enumerate(("train", "valid")):
            x, y, idx = self.data[half]
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1000 * epoch + k))
            sel = order[step * b:(step + 1) * b]
            parts += [x[sel], y[sel], idx[sel]]
        return ToyBatch(*parts, epoch=epoch, step=step)

    def arch(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.method.arch_parameters()]

    def network(self) -> list[torch.Tensor]:
        return [t.detach().clone() for t in self.ctx.network.state_dict().values()]

    def run(self, until: int | None = None, max_steps: int | None = None) -> list[TracePoint]:
        """Run epochs ``self.epoch .. until-1`` (default: to the end) by the
        protocol; returns the state after every step. ``max_steps`` stops early
        (mid-epoch, without ``on_epoch_end``); a later call continues with the
        next step, calling ``on_epoch_start`` again first, as the search loop
        does when a run stopped mid-epoch resumes. Runs on one CPU thread."""
        with single_thread():
            return self._run(until, max_steps)

    def _run(self, until: int | None, max_steps: int | None) -> list[TracePoint]:
        s, ctx, trace = self.search, self.ctx, []
        until = s.epochs if until is None else until
        while self.epoch < until:
            ctx.epoch = self.epoch
            self.method.on_epoch_start(ctx)
            for step in range(self.step, self.steps_per_epoch):
                ctx.step, ctx.lr = step, cosine_lr(s, self.epoch)
                for group in ctx.w_optimizer.param_groups:
                    group["lr"] = ctx.lr
                stats = self.method.step(self.batch(self.epoch, step), ctx)
                trace.append(TracePoint(self.epoch, step, self.arch(), self.network(), step_floats(stats)))
                self.step = step + 1
                if max_steps is not None and len(trace) >= max_steps:
                    return trace
            self.method.on_epoch_end(ctx)
            self.method.genotype()
            self.epoch, self.step = self.epoch + 1, 0
        return trace

    def checkpoint(self) -> bytes:
        """What the loop saves after an epoch, or after a step when a run stops
        mid-epoch, serialised (tensors and plain containers only)."""
        buf = io.BytesIO()
        torch.save({"epoch": self.epoch, "step": self.step, "network": self.ctx.network.state_dict(),
                    "w_optimizer": self.ctx.w_optimizer.state_dict(), "method": self.method.state_dict()}, buf)
        return buf.getvalue()

    def restore(self, blob: bytes) -> None:
        """Resume from :meth:`checkpoint` (loaded with ``weights_only=True``, as the loop loads)."""
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        self.ctx.network.load_state_dict(state["network"])
        self.ctx.w_optimizer.load_state_dict(state["w_optimizer"])
        self.method.load_state_dict(state["method"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block (restored after): the toy
    problems gain nothing from threads and slow down badly on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _one_thread(check: Callable[[MethodLike], str | None]) -> Callable[[MethodLike], str | None]:
    @functools.wraps(check)
    def wrapper(method: MethodLike) -> str | None:
        with single_thread():
            return check(method)
    return wrapper


def _equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


def _first_mismatch(a: list[TracePoint], b: list[TracePoint], stats: bool = True) -> str | None:
    if len(a) != len(b):
        return f"{len(a)} steps vs {len(b)}"
    for p, q in zip(a, b):
        where = f"epoch {p.epoch} step {p.step}"
        if not _equal(p.arch, q.arch):
            return f"arch parameters differ after {where}"
        if not _equal(p.network, q.network):
            return f"network tensors differ after {where}"
        if stats and p.stats != q.stats:
            return f"step statistics differ after {where}: {p.stats} vs {q.stats}"
    return None


def _name(cls: type[SearchMethod]) -> str:
    return cls.name or cls.__name__


# -- the checks ---------------------------------------------------------------------------
@_one_thread
def check_config(method: MethodLike) -> str | None:
    """Class attributes are set; ``Config`` is a frozen MethodConfig dataclass; both presets
    give a ``Config`` that passes ``validate_for`` on the preset's search config, and so does
    the method's control (``control_overrides()``) applied to it, which must change it."""
    cls = method_class(method)
    for attr in ("name", "description", "paper"):
        assert isinstance(getattr(cls, attr), str) and getattr(cls, attr), f"{cls.__name__}.{attr} is empty"
    assert issubclass(cls.Config, MethodConfig) and dataclasses.is_dataclass(cls.Config), \
        f"{_name(cls)}: Config must be a dataclass subclassing MethodConfig"
    assert cls.Config.__dataclass_params__.frozen, f"{_name(cls)}: Config must be frozen"
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    for what in ("ablation", "contract_overrides", "control"):
        unknown = set(getattr(cls, what) or {}) - fields
        assert not unknown, f"{_name(cls)}.{what} names unknown config fields {sorted(unknown)}"
    if cls.ablation_equals is not None:
        method_class(cls.ablation_equals)
    search_fields = {f.name for f in dataclasses.fields(SearchConfig)}
    for preset, base in (("paper", PAPER), ("cpu", CPU)):
        over = cls.preset_search_overrides(preset)
        assert set(over) <= search_fields, f"{_name(cls)}: preset_search_overrides({preset!r}) has unknown keys"
        search = dataclasses.replace(base, **over)
        cfg = cls.preset_config(preset, search.epochs)
        assert isinstance(cfg, cls.Config), f"{_name(cls)}.preset_config({preset!r}) is not a {cls.Config.__name__}"
        cfg.validate_for(search)
        control = cls.control_overrides()
        if control is not None:
            twin = dataclasses.replace(cfg, **control)
            twin.validate_for(search)
            assert twin != cfg, f"{_name(cls)}: its control {control} leaves the {preset} config unchanged"
    return None


def _finite_scalar(v: Any) -> bool:
    """A finite float, or a finite detached 0-dim tensor (read once per step by the loop)."""
    if isinstance(v, torch.Tensor):
        return v.dim() == 0 and not v.requires_grad and bool(torch.isfinite(v))
    return isinstance(v, (int, float)) and math.isfinite(v)


@_one_thread
def check_step_stats(method: MethodLike) -> str | None:
    """One step returns finite floats (or detached 0-dim tensors) for train/valid loss and accuracy."""
    cls = method_class(method)
    if not cls.trains_supernet:
        return f"{_name(cls)} trains no supernet: no steps"
    stats = Harness(cls).run(max_steps=1)[0].stats
    missing = [k for k in STEP_KEYS if k not in stats]
    assert not missing, f"{_name(cls)}.step() statistics lack {missing}"
    bad = {k: v for k, v in stats.items() if not _finite_scalar(v)}
    assert not bad, f"{_name(cls)}.step() returned non-finite or non-scalar statistics {bad}"
    return None


@_one_thread
def check_edge_weights(method: MethodLike) -> str | None:
    """``edge_weights(training=False)`` (plots, the loop's Hessian diagnostic) is a
    [6, 5] tensor that is reproducible, draws no random numbers and (for methods
    with architecture parameters) is twice differentiable w.r.t. the first one
    (a Hessian-vector product exists and is finite and not zero)."""
    cls = method_class(method)
    if not cls.trains_supernet:
        return f"{_name(cls)} trains no supernet: drives no supernet"
    h = Harness(cls)
    h.run(max_steps=1)
    with torch.random.fork_rng(devices=[]):
        rng = torch.get_rng_state()
        w1, a1 = h.method.edge_weights(training=False)
        w2, a2 = h.method.edge_weights(training=False)
        assert torch.equal(rng, torch.get_rng_state()), \
            f"{_name(cls)}: edge_weights(training=False) drew from the global RNG"
    assert w1.shape == (6, 5) and torch.isfinite(w1).all(), f"{_name(cls)}: edge_weights gave {tuple(w1.shape)}"
    assert torch.equal(w1, w2) and (a1 is None) == (a2 is None) and (a1 is None or torch.equal(a1, a2)), \
        f"{_name(cls)}: edge_weights(training=False) is not reproducible"
    if not cls.has_arch_parameters:
        return None
    b = h.batch(0, 0)
    loss = torch.nn.functional.cross_entropy(h.ctx.network(b.x_valid, w1, a1), b.y_valid)
    alpha = h.method.arch_parameters()[0]
    (g,) = torch.autograd.grad(loss, [alpha], create_graph=True)
    assert torch.isfinite(g).all() and g.abs().sum() > 0, f"{_name(cls)}: no gradient from the eval weights"
    _check_hessian_vector_product(cls, h, b)
    return None


def _check_hessian_vector_product(cls: type[SearchMethod], h: Harness, b: StepBatch) -> None:
    """The Hessian-vector product of the valid loss w.r.t. the first arch parameter
    exists (double back-propagation through ``edge_weights(training=False)``, as
    the loop's Hessian diagnostic takes it), is finite and not zero.

    (Its value is not compared with finite differences of the gradient: the
    supernet's ReLUs put kinks at the evaluation point of the toy problem, and
    straight-through weights (GDAS) have no classical second derivative.)"""
    alpha = h.method.arch_parameters()[0]
    w, active = h.method.edge_weights(training=False)
    loss = torch.nn.functional.cross_entropy(h.ctx.network(b.x_valid, w, active), b.y_valid)
    (g,) = torch.autograd.grad(loss, [alpha], create_graph=True)
    v = torch.randn(alpha.shape, generator=torch.Generator().manual_seed(0)).to(g.dtype)
    try:
        (hv,) = torch.autograd.grad(g, [alpha], grad_outputs=v)
    except RuntimeError as e:
        raise AssertionError(f"{_name(cls)}: edge_weights(training=False) is not twice differentiable "
                             f"(no Hessian-vector product: {e})") from None
    assert torch.isfinite(hv).all() and float(hv.abs().sum()) > 0, \
        f"{_name(cls)}: the Hessian-vector product of the valid loss is zero or not finite"


@_one_thread
def check_arch_gradients(method: MethodLike) -> str | None:
    """After one step every arch parameter has a finite, non-zero gradient and changed."""
    cls = method_class(method)
    if not cls.trains_supernet:
        return f"{_name(cls)} trains no supernet: no architecture parameters"
    h = Harness(cls)
    before = h.arch()
    if not cls.has_arch_parameters:
        assert not before, f"{_name(cls)} declares has_arch_parameters = False but arch_parameters() is not empty"
        return f"{_name(cls)} has no architecture parameters (has_arch_parameters = False)"
    assert before, f"{_name(cls)}.arch_parameters() is empty"
    h.run(max_steps=1)
    for i, (p, old) in enumerate(zip(h.method.arch_parameters(), before)):
        assert torch.isfinite(p).all(), f"{_name(cls)}: arch parameter {i} is not finite after one step"
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), f"{_name(cls)}: arch parameter {i} has a non-finite gradient"
            assert p.grad.abs().sum() > 0, f"{_name(cls)}: arch parameter {i} got an all-zero gradient"
        assert not torch.equal(p.detach(), old), f"{_name(cls)}: arch parameter {i} did not change in one step"
    return None


@_one_thread
def check_genotype_valid(method: MethodLike) -> str | None:
    """``genotype()`` is a valid :class:`Cell` before and after an epoch of search."""
    cls = method_class(method)
    h = Harness(cls)
    cells = [h.method.genotype()]
    if cls.trains_supernet:
        h.run(until=1)
        cells.append(h.method.genotype())
    for cell in cells:
        assert isinstance(cell, Cell), f"{_name(cls)}.genotype() returned {type(cell).__name__}, not a Cell"
        assert Cell.from_string(str(cell)) == cell, f"{_name(cls)}.genotype() gave an invalid cell {cell}"
    return None


@_one_thread
def check_state_roundtrip(method: MethodLike) -> str | None:
    """state_dict -> checkpoint bytes -> fresh instance after setup -> load_state_dict:
    the next epoch equals continuing the original, bit for bit."""
    cls = method_class(method)
    if not cls.trains_supernet:
        original = Harness(cls, seed=0).method
        buf = io.BytesIO()
        torch.save(original.state_dict(), buf)
        fresh = Harness(cls, seed=1).method
        fresh.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
        assert fresh.genotype() == original.genotype(), f"{_name(cls)}: restored state gives another cell"
        return None
    a = Harness(cls)
    a.run(until=1)
    blob = a.checkpoint()
    cont = a.run(until=2)
    b = Harness(cls)
    b.restore(blob)
    resumed = b.run(until=2)
    diff = _first_mismatch(cont, resumed)
    assert diff is None, f"{_name(cls)}: resuming from state_dict differs from continuing: {diff}"
    assert a.method.genotype() == b.method.genotype(), f"{_name(cls)}: resumed run derives another cell"
    return None


#: What a method's ``state_dict`` may hold: it is saved with torch.save and loaded
#: with ``weights_only=True``, which creates nothing else (so nothing in a file runs).
PLAIN_TYPES = (torch.Tensor, dict, list, tuple, str, int, float, bool, type(None))


def first_unplain(state: Any, path: str = "") -> str | None:
    """Where ``state`` holds something other than :data:`PLAIN_TYPES` (e.g.
    ``/teachers/rng: numpy.random.Generator``), or None."""
    if not isinstance(state, PLAIN_TYPES):
        return f"{path or '<root>'}: {type(state).__module__}.{type(state).__qualname__}"
    if isinstance(state, dict):
        for k, v in state.items():
            bad = (None if isinstance(k, (str, int)) else f"{path}: a key of type {type(k).__name__}") \
                or first_unplain(v, f"{path}/{k}")
            if bad:
                return bad
    if isinstance(state, (list, tuple)):
        return next((bad for i, v in enumerate(state) if (bad := first_unplain(v, f"{path}/{i}"))), None)
    return None


@_one_thread
def check_checkpoint_safe(method: MethodLike) -> str | None:
    """``state_dict()`` holds only tensors and plain containers (a generator's state is
    ``gen.get_state()``, a ByteTensor; a config, its numbers; a cell, its string), at
    the start, mid-epoch and after an epoch, and loads with ``torch.load(...,
    weights_only=True)``, as every checkpoint is loaded: a class, a function or a
    numpy value would make every checkpoint of the method refused."""
    cls = method_class(method)
    h = Harness(cls)
    states = [h.method.state_dict()]
    if cls.trains_supernet:
        h.run(max_steps=h.steps_per_epoch + 1)  # one epoch ended (teachers, snapshots filled), one begun
        states.append(h.method.state_dict())
    for state in states:
        bad = first_unplain(state)
        assert bad is None, (f"{_name(cls)}.state_dict() holds {bad}; a checkpoint may hold only tensors and plain "
                             "containers (it is loaded with weights_only=True)")
        buf = io.BytesIO()
        torch.save(state, buf)
        try:
            torch.load(io.BytesIO(buf.getvalue()), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - the message names the refused object
            raise AssertionError(f"{_name(cls)}.state_dict() does not load with weights_only=True: "
                                 f"{str(e).strip().splitlines()[-1][:300]}") from None
    return None


@_one_thread
def check_midepoch_resume(method: MethodLike) -> str | None:
    """A run stopped after a step in the middle of an epoch and resumed from that
    checkpoint (fresh instance, ``setup``, ``load_state_dict``, ``on_epoch_start``
    of that epoch AGAIN, then the remaining steps) equals an uninterrupted run bit
    for bit: ``on_epoch_start`` may only set values from ``ctx.epoch``."""
    cls = method_class(method)
    if not cls.trains_supernet:
        return f"{_name(cls)} trains no supernet: no steps"
    ref = Harness(cls)
    full = ref.run(until=2)
    a = Harness(cls)
    done = a.run(max_steps=a.steps_per_epoch + 1)  # epoch 0, then the first step of epoch 1
    b = Harness(cls)
    b.restore(a.checkpoint())
    resumed = b.run(until=2)
    diff = _first_mismatch(full, done + resumed)
    assert diff is None, f"{_name(cls)}: resuming in the middle of an epoch differs from not stopping: {diff}"
    assert b.method.genotype() == ref.method.genotype(), f"{_name(cls)}: the resumed run derives another cell"
    return None


@_one_thread
def check_deterministic(method: MethodLike) -> str | None:
    """Same seed -> identical CPU runs (whatever the global torch RNG);
    another seed -> other arch parameters (other weights for methods without
    architecture parameters; another cell for non-training methods)."""
    cls = method_class(method)
    if not cls.trains_supernet:
        cells = [Harness(cls, seed=s).method.genotype() for s in (0, 0, 1, 2, 3, 4, 5, 6, 7)]
        assert cells[0] == cells[1], f"{_name(cls)}: the same seed gave two cells"
        assert len(set(cells)) > 1, f"{_name(cls)}: eight seeds all gave {cells[0]}"
        return None
    traces = []
    for global_seed in (1, 2):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(global_seed)
            traces.append(Harness(cls, seed=0).run(until=1))
    diff = _first_mismatch(traces[0], traces[1])
    assert diff is None, f"{_name(cls)}: two runs with seed 0 differ: {diff} (a draw from the global RNG?)"
    other = Harness(cls, seed=1).run(until=1)
    if not cls.has_arch_parameters:
        assert not _equal(other[-1].network, traces[0][-1].network), \
            f"{_name(cls)}: seeds 0 and 1 give the same network"
        return None
    assert not _equal(other[-1].arch, traces[0][-1].arch), f"{_name(cls)}: seeds 0 and 1 give the same arch"
    return None


@_one_thread
def check_own_term(method: MethodLike) -> str | None:
    """With ``ablation`` the method equals ``ablation_equals`` step for step, and
    undoing any ONE of the ablation's settings that is not already at its
    default changes alpha (so a setting that changes the update, e.g. an update
    order, cannot hide a dead term); with no ablation declared the step must
    move the arch (the weights, for methods without architecture parameters)."""
    cls = method_class(method)
    if not cls.trains_supernet:
        return f"{_name(cls)} trains no supernet: no own term"
    if cls.ablation is None:
        h = Harness(cls)
        before = h.network() if not cls.has_arch_parameters else h.arch()
        h.run(max_steps=1)
        if not cls.has_arch_parameters:
            assert not _equal(h.network(), before), f"{_name(cls)}: the step leaves the network unchanged"
            return None
        assert not _equal(h.arch(), before), f"{_name(cls)}: the step leaves the arch parameters unchanged"
        return None
    ablated = Harness(cls, overrides=cls.ablation).run(until=2)
    if cls.ablation_equals is not None:
        ref = Harness(cls.ablation_equals, contract=False).run(until=2)
        for p, q in zip(ablated, ref):
            p.arch = p.arch[:1]
            q.arch = q.arch[:1]
        diff = _first_mismatch(ablated, ref, stats=False)
        assert diff is None, (f"{_name(cls)} with {cls.ablation} should equal {cls.ablation_equals} "
                              f"step for step: {diff}")
    base = dataclasses.replace(cls.Config(), **cls.contract_overrides)
    for key in [k for k, v in cls.ablation.items() if getattr(base, k) != v]:  # skip keys already at default
        partial = {k: v for k, v in cls.ablation.items() if k != key}
        undone = Harness(cls, overrides=partial).run(until=2)
        same = all(_equal(p.arch[:1], q.arch[:1]) for p, q in zip(undone, ablated))
        assert not same, (f"{_name(cls)}: its own term changes nothing (alpha is the same with {cls.ablation} "
                          f"and with {partial or 'the defaults'}; contract_overrides {cls.contract_overrides})")
    return None


CONTRACT_CHECKS: list[Callable[[MethodLike], str | None]] = [
    check_config, check_step_stats, check_edge_weights, check_arch_gradients, check_genotype_valid,
    check_state_roundtrip, check_checkpoint_safe, check_midepoch_resume, check_deterministic, check_own_term,
    check_seed_batching,
]


def contract_cases(methods: list[str] | None = None) -> list[tuple[str, Callable[[MethodLike], str | None]]]:
    """(method name, check) for every registered method (or ``methods``) and every check."""
    return [(m, c) for m in (list_methods() if methods is None else methods) for c in CONTRACT_CHECKS]


def contract_case_id(case: tuple[str, Callable]) -> str:
    """A readable pytest id, e.g. ``sd-darts:state_roundtrip``."""
    return f"{case[0]}:{case[1].__name__.removeprefix('check_')}"


def run_contract(method: MethodLike) -> dict[str, str | None]:
    """Run every check; returns ``{check: note or None}``; raises on the first failure."""
    return {c.__name__: c(method) for c in CONTRACT_CHECKS}
