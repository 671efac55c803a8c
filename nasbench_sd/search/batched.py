"""Seed-batched searches: S seeds of one method trained as ONE batched supernet, in one process.

:func:`run_seed_batch` is what ``nasbench-sd run --batch-seeds S`` calls for a
group of seeds. Each seed stays its own experiment: its SuperNet is initialised
exactly as its own run initialises it (then stacked into a
:class:`~nasbench_sd.nn.batched.BatchedSuperNet`), it has its own
:class:`~nasbench_sd.data.SearchLoader` (data order and augmentation), its own
architecture parameters, optimiser state, gradient clipping and method state
(a slice of every seed-batched tensor, see :mod:`nasbench_sd.seedbatch`), and
its own ordinary run directory: config.json, metrics.jsonl, a checkpoint that
holds exactly what its own run's checkpoint holds (so it resumes batched or
alone), its own live log (``logs``), and result.json, whose provenance adds
``seed_batch`` (the seeds trained together) and whose ``convergence`` block is
the one its own run writes. Epoch times and wall times are the batch's.

Why a second loop: it is :func:`nasbench_sd.search.loop._search` with S run
directories, S loaders and S sets of epoch statistics around one network and
one method; it mirrors that loop line for line (and reuses its record and
finiteness helpers) so that the one-run loop stays exactly as it is. Like it,
it never branches on the method, and a requested stop (``stop``, polled once
per step) writes every seed's checkpoint at that step boundary (mid-epoch:
with that seed's statistics so far under ``partial``) and raises
:class:`~nasbench_sd.errors.Stopped`. Differences: a non-finite statistic of
one seed stops the whole batch (every seed keeps its last good checkpoint);
the Hessian diagnostic is not available (a batch with ``hessian_every > 0``
is refused, and ``run`` runs those seeds separately); a fault point
(:mod:`nasbench_sd.testing.faults`) names the first seed's run directory.
A batch killed between two seeds' checkpoint writes resumes from the point
every seed has (a seed one checkpoint ahead goes back to its previous
checkpoint), so it ends where an uninterrupted batch ends.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from nasbench_sd.config import RunConfig
from nasbench_sd.errors import OutOfMemoryRunError, Stopped, UserError
from nasbench_sd.io import directory_lock, ensure_writable_dir, fault_point
from nasbench_sd.loggers import LogSpec, RunLogger, open_logger
from nasbench_sd.methods import SearchContext, SearchMethod, get_method
from nasbench_sd.provenance import code_revision
from nasbench_sd.search.compiled import compiled, step_begin
from nasbench_sd.search.loop import _OUT_OF_MEMORY, _check_finite, _epoch_record, _never
from nasbench_sd.search.progress import Progress
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.search.schedule import cosine_lr
from nasbench_sd.search.stepstats import NONE_BAD, EpochStats, EpochSummary
from nasbench_sd.seedbatch import load_seed_optimizer_state, seed_optimizer_state
from nasbench_sd.seeding import derive_seed


def seed_batch_refusal(cfg: RunConfig) -> str | None:
    """Why the seeds of ``cfg``'s method and settings cannot train as one batch (None: they can)."""
    reason = get_method(cfg.method).seed_batching_refusal(cfg.method_config)
    if reason is None and cfg.search.hessian_every:
        reason = "with hessian_every > 0: the Hessian diagnostic takes one seed's network"
    return reason


def check_seed_batch(cfgs: Sequence[RunConfig]) -> None:
    """Raise :class:`UserError` unless ``cfgs`` are seeds of ONE configuration that can batch."""
    if not cfgs:
        raise UserError("a seed batch needs at least one run")
    seeds = [c.seed for c in cfgs]
    if len(set(seeds)) != len(seeds):
        raise UserError(f"a seed batch lists a seed twice: {seeds}")
    same = {k: v for k, v in cfgs[0].comparable().items() if k != "seed"}
    for c in cfgs[1:]:
        if {k: v for k, v in c.comparable().items() if k != "seed"} != same or c.device != cfgs[0].device:
            raise UserError("the runs of a seed batch must differ in their seed only")
    reason = seed_batch_refusal(cfgs[0])
    if reason is not None:
        raise UserError(f"{cfgs[0].method} cannot batch seeds: {reason}")


def run_seed_batch(cfgs: Sequence[RunConfig], outs: Sequence[str | Path], data_root: str | Path | None = None,
                   resume: bool = False, quiet: bool = False, data: Any = None, max_steps: int | None = None,
                   download: bool = False, logs: Sequence[LogSpec | None] | None = None,
                   stop: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the seeds ``cfgs`` (one configuration, several seeds) as one batch,
    seed ``cfgs[i]`` into run directory ``outs[i]``; returns each run's result.json content.

    The arguments are those of :func:`~nasbench_sd.search.loop.run_search`, one
    config, directory and live log (``logs``) per seed. Raises :class:`UserError`
    for a method that cannot batch (its card says why) and for runs that are not
    seeds of one configuration, before anything is written; :class:`Stopped` after a
    requested stop (every seed's checkpoint written); :class:`OutOfMemoryRunError`.
    """
    from nasbench_sd.data import load_search_data
    from nasbench_sd.methods import create_method

    check_seed_batch(cfgs)
    if len(outs) != len(cfgs) or len({Path(o).resolve() for o in outs}) != len(outs):
        raise UserError("a seed batch needs one distinct run directory per seed")
    s = cfgs[0].search
    method = create_method(cfgs[0].method, cfgs[0].method_config, seeds=tuple(c.seed for c in cfgs))
    if data is None:
        data = load_search_data(s.dataset, data_root, s.split, limit=s.train_limit or None, device=cfgs[0].device,
                                download=download)
    runs = [RunDir(o) for o in outs]
    logs = list(logs) if logs is not None else [None] * len(cfgs)
    if len(logs) != len(cfgs):
        raise UserError("a seed batch needs one live-log spec (or None) per seed")
    loggers = [open_logger(log, run, cfg) for log, run, cfg in zip(logs, runs, cfgs)]  # fails before any write
    with contextlib.ExitStack() as stack:
        for run, logger in zip(runs, loggers):
            ensure_writable_dir(run.path)
            stack.enter_context(directory_lock(run.path))
            stack.enter_context(logger)
        has = [run.prepare(cfg.to_dict(), resume) for run, cfg in zip(runs, cfgs)]
        states = _aligned_checkpoints(runs, has)
        try:
            return _search_batch(cfgs, method, runs, states, quiet, data, max_steps, loggers, stop or _never)
        except _OUT_OF_MEMORY as e:
            raise OutOfMemoryRunError(
                f"out of memory on {cfgs[0].device} training {len(cfgs)} seeds as one batch "
                f"({str(e).splitlines()[0][:160]}); batch fewer seeds (--batch-seeds) or run fewer runs at once on "
                "this device (--workers); the last checkpoints are kept"
            ) from None


def _aligned_checkpoints(runs: list[RunDir], has: list[bool]) -> list[dict[str, Any]] | None:
    """Every seed's checkpoint at the last point (epoch, and step of a stopped epoch) all
    of them reached (None: start afresh).

    A kill between two seeds' checkpoint writes leaves some seeds one checkpoint
    ahead; they go back to their previous checkpoint (or to the start), which the
    batch then recomputes exactly. Seeds further apart cannot batch."""
    def point(state: dict[str, Any] | None) -> tuple[int, int]:
        if state is None:
            return (0, 0)
        return (int(state["epoch"]) + 1, int((state.get("partial") or {}).get("step", 0)))

    if not any(has):
        return None
    newest = [run.load_checkpoint() if h else None for run, h in zip(runs, has)]
    target = min(point(st) for st in newest)
    states = []
    for run, st in zip(runs, newest):
        if point(st) != target:
            st = run.load_previous_checkpoint()
            if point(st) != target:
                raise UserError(f"the runs of this seed batch are at different points ({run.path} is ahead); "
                                "resume them without --batch-seeds")
        states.append(st)
    return None if target == (0, 0) else states


def _seed_partial(state: dict[str, Any], index: int) -> dict[str, Any]:
    """Seed ``index``'s part of a :class:`SeedStats` state (what its own run's EpochStats holds)."""
    def pick(v: Any) -> Any:
        return v[index].clone() if isinstance(v, torch.Tensor) and v.dim() > 0 else v

    return {"sums": {k: pick(v) for k, v in state["sums"].items()}, "n_seen": state["n_seen"],
            "first_bad": {k: pick(v) for k, v in state["first_bad"].items()}}


def _stacked_partial(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The :class:`SeedStats` state of the seeds' ``partial`` statistics (inverse of :func:`_seed_partial`)."""
    def stack(key: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        return {k: torch.stack([torch.as_tensor(st[key][k], dtype=dtype) for st in states])
                for k in states[0][key]}

    return {"sums": stack("sums", torch.float64), "n_seen": states[0]["n_seen"],
            "first_bad": stack("first_bad", torch.int64)}


class SeedStats(EpochStats):
    """:class:`~nasbench_sd.search.stepstats.EpochStats` of S seeds at once: a statistic is an
    ``[S]`` tensor (one value per seed; a number or 0-dim tensor counts for every seed), summed
    elementwise on the device, so each seed's means equal what its own run's EpochStats gives,
    bit for bit, at the cost of one set of kernels per step instead of S."""

    def check_arch(self, arch: list[torch.Tensor] | tuple[torch.Tensor, ...], step: int) -> None:
        if arch:  # seed-batched tensors: finite per seed
            bad = ~torch.stack([torch.isfinite(p.detach()).flatten(1).all(1) for p in arch]).all(0)
            self._flag("", bad, step)

    def read_seeds(self, seeds: int) -> list[EpochSummary]:
        """Each seed's :class:`EpochSummary`, with one device-to-host transfer."""
        keys, bad_keys = list(self.sums), list(self.first_bad)
        values = [*(self.sums[k] for k in keys), *(self.first_bad[k] for k in bad_keys)]
        device = next((v.device for v in values if isinstance(v, torch.Tensor)), torch.device("cpu"))
        rows = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device).expand(seeds)
                            for v in values]).tolist() if values else []
        out = []
        for i in range(seeds):
            sums, firsts = [r[i] for r in rows[:len(keys)]], [int(r[i]) for r in rows[len(keys):]]
            means = {k: s / self.n_seen for k, s in zip(keys, sums)} if self.n_seen else {}
            step = min((f for f in firsts if f != NONE_BAD), default=None)
            named = () if step is None else tuple(k for k, f in zip(bad_keys, firsts) if f == step and k)
            out.append(EpochSummary(means, step, named))
        return out


def _stacked(loaders: list[Any]) -> Iterator[Any]:
    """The loaders' batches of each step, stacked along a new leading seed dimension."""
    from nasbench_sd.data.loader import StepBatch

    fields = ("x_train", "y_train", "idx_train", "x_valid", "y_valid", "idx_valid")
    for batches in zip(*loaders):
        yield StepBatch(*(torch.stack([getattr(b, f) for b in batches]) for f in fields),
                        epoch=batches[0].epoch, step=batches[0].step)


def _search_batch(cfgs: Sequence[RunConfig], method: SearchMethod, runs: list[RunDir],
                  states: list[dict[str, Any]] | None, quiet: bool, data: Any, max_steps: int | None,
                  loggers: list[RunLogger], stop: Callable[[], bool]) -> list[dict[str, Any]]:
    from nasbench_sd.benchmark import get_benchmark
    from nasbench_sd.data import SearchLoader
    from nasbench_sd.nn.batched import BatchedSuperNet
    from nasbench_sd.nn.supernet import SuperNet
    from nasbench_sd.search.result import build_result

    s, device, started, n = cfgs[0].search, torch.device(cfgs[0].device), time.time(), len(cfgs)
    revision = code_revision()
    bench = get_benchmark(s.benchmark)
    nets = []
    for cfg in cfgs:  # each seed's SuperNet initialised exactly as its own run initialises it
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cfg.seed, "weights-init"))
            nets.append(SuperNet(s.channels, s.cells_per_stage, data.num_classes, **method.supernet_options()))
    net = BatchedSuperNet(nets).to(device)
    del nets
    w_opt = torch.optim.SGD(net.parameters(), lr=s.w_lr, momentum=s.w_momentum, nesterov=s.w_nesterov,
                            weight_decay=s.w_weight_decay)
    loaders = [SearchLoader(data, s.batch_size, cfg.seed, device, drop_last=s.drop_last) for cfg in cfgs]
    network = compiled(net, s)  # `net` keeps the plain state_dict keys
    ctx = SearchContext(network=network, w_optimizer=w_opt, device=device, search=s,
                        steps_per_epoch=len(loaders[0]), num_classes=data.num_classes,
                        num_train_keys=int(data.train_index.max()) + 1,
                        num_valid_keys=int(data.valid_index.max()) + 1, batches=loaders[0].extra_batches(),
                        seed_batch=n)
    method.setup(ctx)
    records: list[list[dict[str, Any]]] = [[] for _ in cfgs]
    start_epoch, elapsed_before, earlier, partial = 0, [0.0] * n, [[] for _ in cfgs], {}
    if states is not None:
        for i, st in enumerate(states):
            net.load_seed_state_dict(i, st["network"])
            load_seed_optimizer_state(w_opt, i, st["w_optimizer"])
            method.load_seed_state_dict(i, st["method"])
            loaders[i].load_state_dict(st["loader"])
            records[i], elapsed_before[i] = st["records"], st["elapsed"]
            earlier[i] = st.get("code_revisions", [])
        torch.set_rng_state(states[0]["torch_rng"])
        start_epoch = int(states[0]["epoch"]) + 1
        if states[0].get("partial"):  # stopped mid-epoch: every seed at the same step (_aligned_checkpoints)
            partial = {"step": int(states[0]["partial"]["step"]), "seconds": float(states[0]["partial"]["seconds"]),
                       "stats": _stacked_partial([st["partial"]["stats"] for st in states])}
    revisions = [e if e[-1:] == [revision] else [*e, revision] for e in earlier]
    for run, recs in zip(runs, records):
        run.rewrite_metrics(recs)  # drop records a killed process wrote after its last checkpoint
    seeds = ",".join(str(c.seed) for c in cfgs)
    progress = Progress(total=(s.epochs - start_epoch) * len(loaders[0]) - partial.get("step", 0),
                        initial_epoch=start_epoch, epochs=s.epochs, disable=quiet,
                        label=f"{cfgs[0].method} seeds {seeds}")
    steps_done = 0

    def checkpoint(i: int, epoch_done: int, **extra: Any) -> dict[str, Any]:
        return {"epoch": epoch_done, "network": net.seed_state_dict(i), "w_optimizer": seed_optimizer_state(w_opt, i),
                "method": method.seed_state_dict(i), "loader": loaders[i].state_dict(),
                "torch_rng": torch.get_rng_state(), "records": records[i],
                "elapsed": elapsed_before[i] + time.time() - started, "code_revisions": revisions[i], **extra}

    for epoch in range(start_epoch, s.epochs):
        if stop():  # at an epoch boundary: the last checkpoints hold this very state
            progress.close()
            raise Stopped(f"stopped at the start of epoch {epoch + 1}; the batch's runs resume from there")
        ctx.epoch, acc = epoch, SeedStats(partial.pop("stats", None), device)
        t0 = time.perf_counter() - partial.pop("seconds", 0.0)
        ctx.lr = cosine_lr(s, epoch)
        for group in w_opt.param_groups:
            group["lr"] = ctx.lr
        method.on_epoch_start(ctx)
        for batch in _stacked(loaders):
            ctx.step = batch.step
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=s.amp == "bf16"):
                step_begin(s)
                stats = method.step(batch, ctx)
            acc.add(stats, int(batch.y_train.shape[1]), batch.step, method.arch_parameters())
            steps_done += 1
            fault_point("step", runs[0].path)
            progress.update(epoch)
            if stop() and batch.step + 1 < len(loaders[0]):  # mid-epoch: every seed's checkpoint, then stop
                stats_state, seconds = acc.state_dict(), time.perf_counter() - t0
                for i, run in enumerate(runs):
                    run.save_checkpoint(checkpoint(i, epoch - 1, partial={
                        "step": batch.step + 1, "stats": _seed_partial(stats_state, i), "seconds": seconds}))
                progress.close()
                raise Stopped(f"stopped after step {batch.step + 1} of epoch {epoch + 1}; the batch's runs resume "
                              "there")
            if max_steps is not None and steps_done >= max_steps:
                progress.close()
                return [{} for _ in cfgs]
        method.on_epoch_end(ctx)
        views = [method.seed_view(i) for i in range(n)]
        acc.check_arch(method.arch_parameters(), len(loaders[0]))
        summaries = acc.read_seeds(n)  # the epoch's one read: every seed's means and first non-finite step
        for i, summary in enumerate(summaries):
            _check_finite(summary, epoch, runs[i])
        seconds = time.perf_counter() - t0
        for i, (cfg, run) in enumerate(zip(cfgs, runs)):
            record = _epoch_record(epoch, views[i], bench, summaries[i].means, ctx, seconds, cfg, data, net)
            records[i].append(record)
            run.append_metrics(record)
            loggers[i].epoch(record)  # the live log, before the checkpoint, as in the one-run loop
        for i, run in enumerate(runs):
            run.save_checkpoint(checkpoint(i, epoch))
        progress.epoch_done(records[0][-1])
    progress.close()
    results = []
    for i, (cfg, run) in enumerate(zip(cfgs, runs)):
        view = method.seed_view(i)
        cell = view.genotype()  # before the diagnostics, which may not change it
        result = build_result(cfg, cell, bench, records[i], elapsed_before[i] + time.time() - started, data,
                              revisions[i], view.convergence_diagnostics(ctx))
        result["provenance"]["seed_batch"] = {
            "seeds": [c.seed for c in cfgs],
            "note": "trained in one process as one seed-batched supernet (nasbench_sd.search.batched); "
                    "epoch and wall times are the whole batch's",
        }
        run.write_result(result)
        results.append(result)
    return results


__all__ = ["check_seed_batch", "run_seed_batch", "seed_batch_refusal"]
