"""The seed-batching part of the method contract: S seeds run as one batch equal S separate runs.

:func:`check_seed_batching` (one of ``CONTRACT_CHECKS``) runs a method's
seeds 0, 1, 2 for two epochs of the ``cpu`` preset (at a toy size, with the
method's ``contract_overrides``) once as three ordinary runs and once as one
seed-batched run (:func:`nasbench_sd.search.run_seed_batch`), in float64 on
the CPU, and asserts that every seed ends with the same supernet weights
(BatchNorm running statistics included), weight-optimiser state, architecture
parameters and arch-optimiser state, op probabilities, loss of the final
supernet on a fixed batch (to 1e-9), the same cell, the same epoch records and
data position, and that its result.json records the batch. A method that does
not batch gets a note saying why (its ``seed_batching``): its seeds run
separately. :func:`compare_seed_batch` is the comparison itself, for other
precisions and lengths (the float32 test runs 20 steps, and may measure float32's own
rounding drift on the machine to compare against: ``floor_factor``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nasbench_sd.errors import UserError

#: The toy size of the check: the ``cpu`` preset with these changes (3 steps per epoch).
TOY_SETS = {"channels": "4", "cells_per_stage": "1", "batch_size": "16"}
TOL64 = {"rtol": 1e-9, "atol": 1e-9}


def toy_search_data(n: int = 48, size: int = 8, seed: int = 0):
    """In-memory :class:`~nasbench_sd.data.SearchData`: ``n`` random ``size x size``
    'images' per half whose label is readable from the mean red value."""
    from nasbench_sd.data import SearchData

    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (2 * n,), generator=g)
    images = torch.randint(0, 120, (2 * n, 3, size, size), generator=g, dtype=torch.uint8)
    images[:, 0] += (labels * 12).to(torch.uint8)[:, None, None]
    idx = torch.arange(2 * n)
    return SearchData(dataset="cifar10", split="official", train_images=images[:n], train_labels=labels[:n],
                      train_index=idx[:n], valid_images=images[n:], valid_labels=labels[n:], valid_index=idx[n:],
                      num_classes=10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), padding=1, limit=n)


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Run the block with torch's default float dtype set to ``dtype`` (restored after)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def _configs(name: str, seeds: tuple[int, ...], epochs: int, contract: bool, sizes: dict[str, str]):
    from nasbench_sd.methods import get_method
    from nasbench_sd.presets import build_run_config

    overrides = {k: str(v) for k, v in get_method(name).contract_overrides.items()} if contract else {}
    sets = {**sizes, "epochs": str(epochs), **{f"method.{k}": v for k, v in overrides.items()}}
    return [build_run_config(name, "cpu", s, sets) for s in seeds]


def _final_loss(cfg, state: dict[str, Any], data) -> torch.Tensor:
    """Cross-entropy of a run's final supernet (its edge weights, not training) on a fixed batch."""
    from nasbench_sd.data.augment import normalize
    from nasbench_sd.methods import create_method
    from nasbench_sd.nn.supernet import SuperNet

    method = create_method(cfg.method, cfg.method_config, cfg.seed)
    method.load_state_dict(state["method"])
    s = cfg.search
    net = SuperNet(s.channels, s.cells_per_stage, data.num_classes, **method.supernet_options())
    net.load_state_dict(state["network"])
    x = normalize(data.valid_images[:16].to(torch.uint8), data.mean, data.std)
    weights, active = method.edge_weights(training=False)
    with torch.no_grad():
        return F.cross_entropy(net(x, weights, active), data.valid_labels[:16])


def _op_probs(cfg, state: dict[str, Any]) -> torch.Tensor | None:
    from nasbench_sd.methods import create_method

    method = create_method(cfg.method, cfg.method_config, cfg.seed)
    method.load_state_dict(state["method"])
    return method.op_probabilities()


def _assert_close(a: Any, b: Any, tol: dict[str, float], where: str) -> None:
    """Nested states equal: tensors to ``tol`` (integer ones exactly), everything else exactly."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape, f"{where}: shapes differ"
        if a.is_floating_point():
            torch.testing.assert_close(a, b, **tol, msg=lambda m: f"{where}: {m}")
        else:
            assert torch.equal(a, b), f"{where}: differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys differ"
        for k in a:
            _assert_close(a[k], b[k], tol, f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, tol, f"{where}/{i}")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def compare_seed_batch(name: str, dtype: torch.dtype = torch.float64, epochs: int = 2, n: int = 48,
                       seeds: tuple[int, ...] = (0, 1, 2), tol: dict[str, float] | None = None,
                       contract: bool = True, records: bool = True, data=None,
                       sizes: dict[str, str] | None = None, floor_factor: float | None = None) -> None:
    """Run ``seeds`` of method ``name`` separately and as one batch (toy ``cpu`` preset,
    ``epochs`` epochs of ``n`` samples per half in batches of 16, ``dtype``, one CPU
    thread) and assert that each seed ends alike (see the module docstring). With
    ``records=False`` the epoch records (rounded to 6 decimals) are not compared
    (float32: a rounding boundary may fall between two close values). ``data`` (search
    data) and ``sizes`` (``--set`` values; default :data:`TOY_SETS`, ``{}`` = the ``cpu``
    preset's own) replace the toy problem.

    ``floor_factor`` (float32): a seed that is not equal to ``tol`` still passes if its
    batched run differs from its run alone by at most ``floor_factor`` times what
    running it alone with 2 threads instead of 1 changes (the largest relative
    difference ``|a - b| / |b|`` over the state's float tensors): on some CPUs and
    seeds the toy search amplifies float32 rounding (another summation order) that
    much, and batching may not be held to less than float32 itself allows."""
    from nasbench_sd.search import run_search, run_seed_batch
    from nasbench_sd.search.rundir import RunDir

    tol = TOL64 if tol is None else tol
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with default_dtype(dtype), tempfile.TemporaryDirectory() as tmp:
            data = toy_search_data(n) if data is None else data
            cfgs = _configs(name, seeds, epochs, contract, TOY_SETS if sizes is None else sizes)
            root = Path(tmp)
            batched = run_seed_batch(cfgs, [root / f"batched-{s}" for s in seeds], data=data, quiet=True)
            for cfg, result in zip(cfgs, batched):
                alone = run_search(cfg, root / f"alone-{cfg.seed}", data=data, quiet=True)
                a, b = RunDir(root / f"batched-{cfg.seed}"), RunDir(root / f"alone-{cfg.seed}")
                sa, sb = a.load_checkpoint(), b.load_checkpoint()
                where = f"{name} seed {cfg.seed} ({dtype}) batched vs alone"
                try:
                    for key in ("epoch", "network", "w_optimizer", "method", "loader"):
                        _assert_close(sa[key], sb[key], tol, f"{where}: {key}")
                    _assert_close(_op_probs(cfg, sa), _op_probs(cfg, sb), tol, f"{where}: op probabilities")
                    _assert_close(_final_loss(cfg, sa, data), _final_loss(cfg, sb, data), tol, f"{where}: loss")
                    assert result["cell"] == alone["cell"], f"{where}: cells {result['cell']} vs {alone['cell']}"
                except AssertionError as unequal:
                    if floor_factor is None:
                        raise
                    _within_rounding_floor(cfg, sa, sb, root, data, floor_factor, str(unequal))
                if records:
                    strip = [[{k: v for k, v in r.items() if k != "epoch_seconds"} for r in d.metrics()]
                             for d in (a, b)]
                    assert strip[0] == strip[1], f"{where}: epoch records differ"
                assert result["provenance"]["seed_batch"]["seeds"] == list(seeds), f"{where}: provenance"
                assert "seed_batch" not in alone["provenance"]
    finally:
        torch.set_num_threads(before)


def _largest_relative_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    """max over the float tensors of the network, optimiser and method states of ``|a - b| / |b|`` (2-norms)."""
    keys = ("network", "w_optimizer", "method")
    worst = 0.0
    for x, y in zip(_float_tensors({k: a[k] for k in keys}), _float_tensors({k: b[k] for k in keys})):
        worst = max(worst, float((x - y).norm() / y.norm().clamp_min(1e-12)))
    return worst


def _float_tensors(state: Any) -> Iterator[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        if state.is_floating_point():
            yield state.double()
    elif isinstance(state, dict):
        for k in sorted(state, key=str):
            yield from _float_tensors(state[k])
    elif isinstance(state, (list, tuple)):
        for x in state:
            yield from _float_tensors(x)


def _within_rounding_floor(cfg, batched: dict[str, Any], alone: dict[str, Any], root: Path, data,
                           factor: float, unequal: str) -> None:
    """The seed's batched run is as close to its run alone as the run alone with 2 threads is."""
    from nasbench_sd.search import run_search
    from nasbench_sd.search.rundir import RunDir

    torch.set_num_threads(2)
    try:
        run_search(cfg, root / f"alone-2-threads-{cfg.seed}", data=data, quiet=True)
    finally:
        torch.set_num_threads(1)
    other = RunDir(root / f"alone-2-threads-{cfg.seed}").load_checkpoint()
    batch_diff = _largest_relative_difference(batched, alone)
    floor = _largest_relative_difference(other, alone)
    assert batch_diff <= factor * floor, (
        f"{unequal}; the batched run differs from the run alone by {batch_diff:.3g} (largest relative difference "
        f"of a state tensor), more than {factor:g} x the {floor:.3g} by which 2 threads instead of 1 move the "
        "run alone")


def check_seed_batching(method) -> str | None:
    """Contract: three seeds as one batch equal three runs (float64, two epochs), or a note
    saying why the method's seeds run separately."""
    from nasbench_sd.methods import get_method

    cls = get_method(method) if isinstance(method, str) else method
    reason = cls.seed_batching_refusal(cls.Config())
    if reason is not None:
        assert reason.strip(), f"{cls.name}: seed_batching must say why the method does not batch"
        return f"its seeds run separately (no seed batching): {reason}"
    try:
        if get_method(cls.name) is not cls:
            return "not registered under its name: register it to check seed batching"
    except UserError:
        return "not registered under its name: register it to check seed batching"
    compare_seed_batch(cls.name)
    return None


__all__ = ["TOY_SETS", "check_seed_batching", "compare_seed_batch", "default_dtype", "toy_search_data"]
