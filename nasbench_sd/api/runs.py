"""Searches from Python: :func:`search` (one run), :func:`run` (many methods x
seeds), :func:`ablate` (one setting swept). The command line's ``search``,
``run`` and ``ablate`` are these functions with their output printed.

Settings are keyword arguments: a :class:`~nasbench_sd.config.SearchConfig`
field (``epochs=2``) or a field of the method's config (``lam=0.5``); keys
that are no Python names go in ``sets`` (``sets={"sd-darts.lam": 0.5,
"method.K": 2}``: see ``--set``). Runs go to ``runs/`` by default (a folder of
their own, ignored by git in a clone of this repository), never into the
committed ``results/`` unless ``out`` says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import DEFAULT_ROOT, ablation_dir, experiment_dir

Echo = Callable[[str], None] | None


def _text(value: Any) -> str:
    """A setting's value as ``--set`` text (tuples as comma lists, booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def settings_of(sets: dict[str, Any] | Iterable[str] | None, settings: dict[str, Any]) -> dict[str, str]:
    """``sets`` (a dict, or ``KEY=VALUE`` strings as on the command line) and keyword
    settings as one ``--set`` mapping of strings."""
    from nasbench_sd.config import parse_sets

    if sets is None:
        base: dict[str, str] = {}
    elif isinstance(sets, dict):
        base = {str(k): _text(v) for k, v in sets.items()}
    elif isinstance(sets, str):
        raise UserError(f"sets expects a dict or KEY=VALUE strings, got the string {sets!r}")
    else:
        base = parse_sets(sets)
    return {**base, **{k: _text(v) for k, v in settings.items()}}


def _log_spec(log: str | None, log_dir: str | Path | None):
    from nasbench_sd.loggers import LogSpec, check_available

    if log is None:
        if log_dir is not None:
            raise UserError("--log-dir needs --log tensorboard|wandb")
        return None
    spec = LogSpec(str(log), None if log_dir is None else str(log_dir))
    check_available(spec.kind)
    return spec


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch CPU threads (CPU results depend on the count), then give
    the caller back its own count: a notebook's session keeps its setting."""
    import torch

    from nasbench_sd.runtime import set_threads

    before = torch.get_num_threads()
    try:
        set_threads(threads)
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def choose(preset: str | None, device: str, echo: Echo = print, executor: str = "local") -> tuple[str, str]:
    """Resolve the device and the preset (``paper`` on CUDA, else ``cpu``) and say which
    were chosen and why (the first line of a command's output)."""
    from nasbench_sd.runtime import choice_line, default_preset, resolve_device

    if executor == "ray" and device.startswith("cuda"):
        if device != "cuda":
            raise UserError("with --executor ray use --device cuda (Ray assigns one GPU per run)")
        resolved = device  # the workers' GPUs, not this process's
    else:
        resolved = resolve_device(device)
    chosen = preset or default_preset(resolved)
    if echo is not None:
        echo(choice_line(chosen, preset is not None, resolved, device != "auto"))
    return chosen, resolved


def search(method: str, preset: str | None = None, seed: int = 0, out: str | Path | None = None, *,
           data_root: str | Path | None = None, download: bool = True, resume: bool = False, device: str = "auto",
           threads: int = 1, log: str | None = None, log_dir: str | Path | None = None, progress: bool = True,
           echo: Echo = print, stop: Callable[[], bool] | None = None,
           sets: dict[str, Any] | Iterable[str] | None = None, **settings: Any):
    """Search a cell with one method and one seed; returns the finished :class:`~nasbench_sd.api.views.Run`.

    ``preset``: paper | cpu | proxy (default: paper on CUDA, else cpu); ``out``: the run
    directory (default ``runs/<method>/seed-<seed>``); ``resume``: continue the
    unfinished run in ``out``; ``log``: tensorboard | wandb (a live log into ``out``
    or ``log_dir``); ``data_root``: the folder holding ``cifar-10-batches-py/``
    (default ``$NASBENCH_SD_DATA``, else ``~/.cache/nasbench-sd/data``, downloaded
    there unless ``download=False``); ``echo``: where the chosen preset and device
    are said (None: nowhere); ``progress``: the progress bar; ``stop``: a callable
    polled once per step (e.g. a :class:`~nasbench_sd.search.stop.StopRequest`):
    once it answers True the run writes a checkpoint at that step and raises
    :class:`~nasbench_sd.errors.Stopped` (``resume=True`` continues it exactly).
    Other keywords are settings (``epochs=2``, ``lam=0.5``)."""
    from nasbench_sd.api.views import Run
    from nasbench_sd.method_sets import scope_sets
    from nasbench_sd.presets import build_run_config
    from nasbench_sd.search.loop import run_search

    spec = _log_spec(log, log_dir)
    if threads is not None and threads < 0:
        raise UserError(f"--threads must be >= 1, got {threads}")
    scoped = scope_sets([method], settings_of(sets, settings))[method]
    chosen, resolved = choose(preset, device, echo)
    cfg = build_run_config(method, chosen, int(seed), scoped, device=resolved)
    out = Path(out) if out is not None else Path(DEFAULT_ROOT) / method / f"seed-{seed}"
    with torch_threads(threads):
        run_search(cfg, out, data_root=data_root, resume=resume, quiet=not progress, download=download, log=spec,
                   stop=stop)
    return Run(out)


def _methods(methods: str | Iterable[str]) -> list[str]:
    from nasbench_sd.experiments.layout import parse_methods

    return parse_methods(methods if isinstance(methods, str) else ",".join(methods))


def _seeds(seeds: int | str | Iterable[int]) -> list[int]:
    from nasbench_sd.experiments.layout import parse_seeds

    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return parse_seeds(str(seeds))
    if isinstance(seeds, str):
        return parse_seeds(seeds)
    return parse_seeds(",".join(str(s) for s in seeds) + ",")


def run(methods: str | Iterable[str], seeds: int | str | Iterable[int] = 5, preset: str | None = None,
        out: str | Path | None = None, *, controls: bool = False, batch_seeds: int = 1,
        require_batch: bool = False, runs_per_device: int = 1, budget: float | None = None,
        data_root: str | Path | None = None,
        download: bool = True, workers: int | None = None, retries: int = 2, threads: int = 1,
        executor: str = "local", ray_address: str | None = None, device: str = "auto", log: str | None = None,
        log_dir: str | Path | None = None, progress: bool = True, echo: Echo = print,
        sets: dict[str, Any] | Iterable[str] | None = None, **settings: Any):
    """Search with every (method, seed) into ``out/<method>/seed-<n>/``; returns the
    :class:`~nasbench_sd.api.views.Experiment`.

    ``controls``: also run each method's control (its own idea off, all else equal)
    as the group ``<method>-control``, so that the table gives the paired effect of
    each idea; methods that declare no control run alone (``echo`` names them).
    ``batch_seeds``: train up to that many seeds of a method as one seed-batched
    supernet in one process (each seed keeps its own run directory and result;
    :mod:`nasbench_sd.search.batched`); methods that cannot batch run their seeds
    separately (``echo`` says why), or are refused with ``require_batch``.
    ``runs_per_device``: N runs (or seed batches) share each GPU (``--device cuda``;
    ``workers`` defaults to N x the visible GPUs). ``budget``: seconds of wall
    clock; at its end every running run stops at its next step with a checkpoint
    and no run starts (a lent GPU window); the same call later resumes them
    (``echo`` says what was left).

    ``methods``: a list or ``"sd-darts,darts-v1"``; ``seeds``: a count N (seeds
    0..N-1) or a list; ``out``: the experiment directory (default ``runs/<preset>``).
    Finished runs are kept and reused (``echo`` says when another code revision or
    machine made them), unfinished ones resumed; all input is checked before the
    first run starts. ``workers``: runs at once, each in its own process;
    ``retries``: attempts per run beyond the first when its worker dies (it
    resumes from its checkpoint);
    ``executor``: local | ray. Raises :class:`~nasbench_sd.errors.RunError` when
    runs failed (after the others finished). Other arguments as in :func:`search`."""
    from nasbench_sd.experiments.runner import method_groups

    names, seed_list = _methods(methods), _seeds(seeds)
    groups, extra, notes = method_groups(names, settings_of(sets, settings)), None, []
    if controls:
        from nasbench_sd.experiments.controls import with_controls

        groups, pairs, without = with_controls(groups)
        extra = {"controls": pairs}
        if without:
            notes.append(f"no control declared (run alone): {', '.join(without)}")
    return _execute(groups, seed_list, preset, out, experiment_dir, extra=extra, notes=notes, data_root=data_root,
                    batch_seeds=batch_seeds, require_batch=require_batch, runs_per_device=runs_per_device,
                    budget=budget, download=download, workers=workers,
                    retries=retries, threads=threads, executor=executor,
                    ray_address=ray_address, device=device, log=log, log_dir=log_dir, progress=progress, echo=echo)


def ablate(method: str, param: str, values: str | Iterable[Any], seeds: int | str | Iterable[int] = 5,
           preset: str | None = None, out: str | Path | None = None, *, data_root: str | Path | None = None,
           download: bool = True, workers: int | None = None, retries: int = 2, threads: int = 1,
           executor: str = "local", ray_address: str | None = None, device: str = "auto", log: str | None = None,
           log_dir: str | Path | None = None, progress: bool = True, echo: Echo = print,
           sets: dict[str, Any] | Iterable[str] | None = None, **settings: Any):
    """Run ``method`` once for each value of ``param`` (``out/<method>-<param>=<value>/seed-<n>/``,
    default ``out`` ``runs/<preset>-<method>-<param>``), then write ablation-<param>.csv and
    its plot; returns the :class:`~nasbench_sd.api.views.Experiment` (``.ablation`` lists
    the files written). Other arguments as in :func:`run`."""
    from nasbench_sd.experiments.ablate import ablation_groups
    from nasbench_sd.method_sets import scope_sets
    from nasbench_sd.report.ablation import summarize_ablation

    seed_list = _seeds(seeds)
    scoped = scope_sets([method], settings_of(sets, settings))[method]
    text = values if isinstance(values, str) else ",".join(_text(v) for v in values)
    groups, key, value_list = ablation_groups(method, str(param), text, scoped)
    extra = {"ablation": {"method": method, "param": param, "key": key, "values": value_list}}
    exp = _execute(groups, seed_list, preset, out, lambda p: ablation_dir(p, method, param), extra=extra,
                   data_root=data_root, download=download, workers=workers, retries=retries, threads=threads,
                   executor=executor,
                   ray_address=ray_address, device=device, log=log, log_dir=log_dir, progress=progress, echo=echo)
    exp.ablation = summarize_ablation(exp.path, method, param, key, value_list, groups)
    return exp


def _execute(groups, seeds: list[int], preset: str | None, out, default_out: Callable[[str], str],
             extra: dict[str, Any] | None = None, notes: Iterable[str] = (), *,
             data_root, download: bool, workers, retries: int, threads: int, executor: str,
             ray_address, device: str, log, log_dir, progress: bool, echo: Echo, batch_seeds: int = 1,
             require_batch: bool = False, runs_per_device: int = 1, budget: float | None = None):
    """Plan (validating everything), say what is reused, run; the Experiment."""
    from nasbench_sd.api.views import Experiment
    from nasbench_sd.experiments.reuse import reuse_note
    from nasbench_sd.experiments.runner import plan_experiment, run_experiment

    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if ray_address and executor != "ray":
        raise UserError("--ray-address needs --executor ray")
    spec = _log_spec(log, log_dir)
    chosen, resolved = choose(preset, device, echo, executor)
    for line in notes if echo is not None else ():
        echo(line)
    root = Path(out) if out is not None else Path(default_out(chosen))
    remote = executor == "ray" and bool(ray_address or os.environ.get("RAY_ADDRESS"))
    plan = plan_experiment(groups, seeds, chosen, root, device=resolved, data_root=data_root,
                           check_data=not remote, threads=threads, download=download, log=spec,
                           batch_seeds=batch_seeds, require_batch=require_batch)
    for label, reason in plan.batch_notes.items() if echo is not None else ():
        echo(f"{label}: its seeds run separately, it cannot batch them: {reason}")
    note = reuse_note(plan)
    if note and echo is not None:
        echo(note)
    with torch_threads(None):  # runs in this process (--workers 1) set their own count; the caller's comes back
        manifest = run_experiment(plan, executor, workers, ray_address, not progress, extra, retries,
                                  runs_per_device, budget)
    if manifest.get("status") == "budget-spent" and echo is not None:
        states = [r.get("status") for r in manifest["runs"].values()]
        echo(f"time budget of {budget:g} s spent: {states.count('stopped')} runs stopped with a checkpoint, "
             f"{states.count('pending')} not started; the same command resumes them")
    return Experiment(plan.root, counts=plan.counts())
