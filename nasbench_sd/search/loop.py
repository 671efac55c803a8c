"""The one search loop. It reads top to bottom and never branches on the method.

Per step the method gets a train batch and a valid batch (see
:mod:`nasbench_sd.methods.base` for the call protocol). After each epoch the
loop records supernet losses/accuracies, the derived cell and its six
benchmark figures, the number of parameter-free ops, the op probabilities,
optionally the largest eigenvalue of the exact Hessian of the valid loss
w.r.t. alpha, and wall time; then it writes a
checkpoint. After the last epoch the method adds its convergence diagnostics
to result.json (:mod:`nasbench_sd.convergence`). A killed run resumes
from the last finished epoch and ends exactly where an uninterrupted run ends
(on CPU).

A requested stop (``stop``: a callable polled once per step, e.g. a
:class:`~nasbench_sd.search.stop.StopRequest` set by SIGTERM) ends the run at
the next step boundary: mid-epoch, a checkpoint of that step is written first
(with the epoch's statistics so far, under ``partial``); at an epoch's end the
epoch's checkpoint is that step's. Either way :class:`Stopped` is raised and a
resumed run ends exactly where an uninterrupted one ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nasbench_sd.config import RunConfig
from nasbench_sd.errors import OutOfMemoryRunError, RunError, Stopped, UserError
from nasbench_sd.io import directory_lock, ensure_writable_dir, fault_point
from nasbench_sd.loggers import LogSpec, RunLogger, open_logger
from nasbench_sd.methods import SearchContext, SearchMethod, create_method
from nasbench_sd.provenance import code_revision
from nasbench_sd.search.compiled import compiled, step_begin
from nasbench_sd.search.hessian import top_hessian_eigenvalue
from nasbench_sd.search.progress import Progress
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.search.schedule import cosine_lr
from nasbench_sd.search.stepstats import EpochStats, EpochSummary
from nasbench_sd.seeding import derive_seed

#: What torch raises when a device runs out of memory (torch.cuda.OutOfMemoryError is the same class).
_OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def run_search(cfg: RunConfig, out: str | Path, data_root: str | Path | None = None, resume: bool = False,
               quiet: bool = False, data: Any = None, max_steps: int | None = None,
               download: bool = False, log: LogSpec | None = None,
               stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Run (or resume) one search into run directory ``out``; returns result.json's content.

    ``data`` may pass preloaded :class:`~nasbench_sd.data.SearchData` (several runs
    in one process). ``max_steps`` stops this invocation after that many steps
    without a result (time-boxed jobs); ``resume=True`` continues from the last
    finished epoch (or step, after a stop). ``download=True`` fetches a missing CIFAR
    data set first. ``log`` sends each epoch to a live log (TensorBoard, W&B:
    :mod:`nasbench_sd.loggers`). ``stop`` is polled once per step: once it answers
    True, the run writes a checkpoint at that step boundary and raises
    :class:`Stopped`. Running out of (GPU) memory raises
    :class:`OutOfMemoryRunError`, naming what to lower.
    """
    from nasbench_sd.data import load_search_data

    s = cfg.search
    method = create_method(cfg.method, cfg.method_config, cfg.seed)
    if data is None and method.trains_supernet:  # bad data fails here, before anything is written
        data = load_search_data(s.dataset, data_root, s.split, limit=s.train_limit or None, device=cfg.device,
                                download=download)
    run = RunDir(out)
    logger = open_logger(log, run, cfg)  # a missing logging package fails here; nothing is written yet
    ensure_writable_dir(run.path)
    with directory_lock(run.path), logger:
        has_checkpoint = run.prepare(cfg.to_dict(), resume)
        try:
            return _search(cfg, method, run, has_checkpoint, quiet, data, max_steps, logger, stop or _never)
        except _OUT_OF_MEMORY as e:
            raise OutOfMemoryRunError(
                f"out of memory on {cfg.device} ({str(e).splitlines()[0][:160]}); lower batch_size (now "
                f"{cfg.search.batch_size}; a new batch size is a new run: use another --out) or run fewer runs at once "
                f"on this device (--workers); the last checkpoint in {run.path} is kept"
            ) from None


def _never() -> bool:
    return False


def _search(cfg: RunConfig, method: SearchMethod, run: RunDir, has_checkpoint: bool, quiet: bool, data: Any,
            max_steps: int | None, logger: RunLogger, stop: Callable[[], bool]) -> dict[str, Any]:
    from nasbench_sd.benchmark import get_benchmark
    from nasbench_sd.data import SearchLoader
    from nasbench_sd.nn.supernet import SuperNet
    from nasbench_sd.search.result import build_result

    s, device, started = cfg.search, torch.device(cfg.device), time.time()
    revision = code_revision()  # the code this process runs, read before the first step
    bench = get_benchmark(s.benchmark)
    if not method.trains_supernet:
        result = build_result(cfg, method.genotype(), bench, [], time.time() - started, None)
        run.write_result(result)
        return result
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, "weights-init"))
        net = SuperNet(s.channels, s.cells_per_stage, data.num_classes, **method.supernet_options()).to(device)
    w_opt = torch.optim.SGD(net.parameters(), lr=s.w_lr, momentum=s.w_momentum, nesterov=s.w_nesterov,
                            weight_decay=s.w_weight_decay)
    loader = SearchLoader(data, s.batch_size, cfg.seed, device, drop_last=s.drop_last)
    network = compiled(net, s)  # `net` keeps the plain state_dict keys
    ctx = SearchContext(network=network, w_optimizer=w_opt, device=device, search=s, steps_per_epoch=len(loader),
                        num_classes=data.num_classes, num_train_keys=int(data.train_index.max()) + 1,
                        num_valid_keys=int(data.valid_index.max()) + 1, batches=loader.extra_batches())
    method.setup(ctx)
    parts = {"network": net, "w_optimizer": w_opt, "method": method, "loader": loader}
    records, start_epoch, elapsed_before, earlier, partial = (_restore(run, parts) if has_checkpoint
                                                              else ([], 0, 0.0, [], {}))
    revisions = earlier if earlier[-1:] == [revision] else [*earlier, revision]
    run.rewrite_metrics(records)  # drop records a killed process wrote after its last checkpoint
    progress = Progress(total=(s.epochs - start_epoch) * len(loader) - partial.get("step", 0),
                        initial_epoch=start_epoch, epochs=s.epochs, disable=quiet,
                        label=f"{cfg.method} seed {cfg.seed}")
    steps_done = 0

    def checkpoint(epoch_done: int, **extra: Any) -> dict[str, Any]:
        return {"epoch": epoch_done, **{k: v.state_dict() for k, v in parts.items()},
                "torch_rng": torch.get_rng_state(), "records": records,
                "elapsed": elapsed_before + time.time() - started, "code_revisions": revisions, **extra}

    for epoch in range(start_epoch, s.epochs):
        if stop():  # at an epoch boundary: the last checkpoint holds this very state
            progress.close()
            raise Stopped(f"stopped at the start of epoch {epoch + 1}; {run.path} resumes from there")
        # a run stopped mid-epoch resumes with that epoch's statistics and time so far (``partial``, once)
        ctx.epoch, acc = epoch, EpochStats(partial.pop("stats", None), device)
        t0 = time.perf_counter() - partial.pop("seconds", 0.0)
        ctx.lr = cosine_lr(s, epoch)  # once per epoch, as the NB201 reference
        for group in w_opt.param_groups:
            group["lr"] = ctx.lr
        method.on_epoch_start(ctx)
        for batch in loader:  # no host read of the device in here: statistics stay where they are computed
            ctx.step = batch.step
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=s.amp == "bf16"):
                step_begin(s)
                stats = method.step(batch, ctx)
            acc.add(stats, int(batch.y_train.shape[0]), batch.step, method.arch_parameters())
            steps_done += 1
            fault_point("step", run.path)
            progress.update(epoch)
            if stop() and batch.step + 1 < len(loader):  # mid-epoch: checkpoint this step, then stop
                run.save_checkpoint(checkpoint(epoch - 1, partial={
                    "step": batch.step + 1, "stats": acc.state_dict(), "seconds": time.perf_counter() - t0}))
                progress.close()
                raise Stopped(f"stopped after step {batch.step + 1} of epoch {epoch + 1}; {run.path} resumes there")
            if max_steps is not None and steps_done >= max_steps:
                progress.close()
                return {}
        method.on_epoch_end(ctx)
        acc.check_arch(method.arch_parameters(), len(loader))
        summary = acc.read()  # the epoch's one read: means and the first non-finite step
        _check_finite(summary, epoch, run)
        record = _epoch_record(epoch, method, bench, summary.means, ctx,
                               time.perf_counter() - t0, cfg, data, net)
        records.append(record)
        run.append_metrics(record)
        logger.epoch(record)  # the live log, before the checkpoint (nasbench_sd/loggers/base.py says why)
        run.save_checkpoint(checkpoint(epoch))
        progress.epoch_done(record)
    progress.close()
    cell = method.genotype()  # before the diagnostics, which may not change it
    diagnostics = method.convergence_diagnostics(ctx)  # the method's own end-of-search figures (issue 26)
    result = build_result(cfg, cell, bench, records, elapsed_before + time.time() - started, data,
                          revisions, diagnostics)
    run.write_result(result)
    return result


def _restore(run: RunDir, parts: dict[str, Any]) -> tuple[list[dict[str, Any]], int, float, list[str],
                                                          dict[str, Any]]:
    """Load the last checkpoint into ``parts`` (network, optimiser, method, loader) and
    torch's RNG; the epoch records so far, the epoch to start at, the seconds spent,
    the code revisions that ran it so far (none recorded by older checkpoints) and,
    for a run stopped mid-epoch, that epoch's ``partial`` record (else ``{}``)."""
    state = run.load_checkpoint()
    try:
        for key, part in parts.items():
            part.load_state_dict(state[key])
        torch.set_rng_state(state["torch_rng"])
        return (state["records"], state["epoch"] + 1, state["elapsed"], state.get("code_revisions", []),
                dict(state.get("partial") or {}))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:  # a file of another run or program
        raise UserError(f"the checkpoint in {run.path} does not fit this run ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200]}); move the run directory aside to start afresh") from None


def _epoch_record(epoch: int, method: SearchMethod, bench, means: dict[str, float], ctx: SearchContext,
                  seconds: float, cfg: RunConfig, data, net) -> dict[str, Any]:
    cell = method.genotype()
    rec = bench.record(cell)
    probs = method.op_probabilities()
    record = {
        "epoch": epoch + 1,  # 1-based: the number of finished epochs
        **{k: round(v, 6) for k, v in means.items()},
        "lr_end": ctx.lr,
        "cell": str(cell),
        "index": rec.index,
        "benchmark": rec.figures(),
        "num_parameter_free": cell.num_parameter_free,
        "op_probs": None if probs is None else [[round(float(p), 6) for p in row] for row in probs],
        "epoch_seconds": round(seconds, 3),
    }
    every = cfg.search.hessian_every
    if every and ((epoch + 1) % every == 0 or epoch + 1 == cfg.search.epochs) and method.arch_parameters():
        record["hessian_eig"] = _hessian(method, net, data, cfg)
    return record


def _hessian(method: SearchMethod, net, data, cfg: RunConfig) -> float:
    from nasbench_sd.data.augment import normalize

    s = cfg.search
    n = min(s.hessian_samples, data.n_valid)
    device = next(net.parameters()).device
    x = normalize(data.valid_images[:n].to(device), data.mean, data.std)
    y = data.valid_labels[:n].to(device)

    def loss() -> torch.Tensor:
        weights, active = method.edge_weights(training=False)
        return torch.nn.functional.cross_entropy(net(x, weights, active), y)

    buffers = {k: v.clone() for k, v in net.state_dict().items() if k not in dict(net.named_parameters())}
    try:
        return top_hessian_eigenvalue(loss, method.arch_parameters()[0])
    finally:  # the diagnostic must not change the run: restore BN running statistics
        net.load_state_dict(buffers, strict=False)


def _check_finite(summary: EpochSummary, epoch: int, run: RunDir) -> None:
    """Stop (before this epoch's checkpoint, so the last good one is kept) if a
    statistic or an architecture parameter of this epoch was not finite."""
    if summary.bad_step is None:
        return
    what = ", ".join(summary.bad_keys) if summary.bad_keys else "architecture parameters"
    raise RunError(
        f"non-finite {what} at epoch {epoch + 1} step {summary.bad_step + 1}; stopped. The last good checkpoint "
        f"and the metrics so far are kept in {run.path} (lower the learning rates and rerun elsewhere)"
    )
