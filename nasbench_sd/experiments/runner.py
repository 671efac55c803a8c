"""Plan, validate and execute many (group, seed) runs of one experiment.

:func:`plan_experiment` resolves and checks EVERYTHING before a single run
starts (methods, seeds, preset, ``--set`` values, the output directory, run
directories made by another configuration, the search data) and writes
nothing. :func:`run_experiment` then skips finished runs, resumes unfinished
ones, sends the rest to an executor and keeps ``experiment.json`` current.
``nasbench-sd run`` and ``nasbench-sd ablate`` both go through here.

Seed batching (``run --batch-seeds S``): the unfinished runs of a group whose
method can batch start as units of up to S consecutive seeds, each unit one
:class:`~nasbench_sd.experiments.worker.SeedBatchTask` (one process trains
them as one seed-batched supernet, :mod:`nasbench_sd.search.batched`). Every
run still has its own run directory and its own entry in ``experiment.json``.
Groups that cannot batch run their seeds separately; the plan says why
(``Plan.batch_notes``).

Runs per GPU (``--runs-per-device N``): N runs (or N seed batches) share each
visible GPU (:func:`~nasbench_sd.experiments.executors.place_workers`).

A time budget (``--budget SECONDS``, e.g. a lent GPU window): at the deadline
every running run is asked to stop (:mod:`nasbench_sd.search.stop`; it stops at
its next step with a checkpoint, status ``stopped``, never retried) and no
further run starts (status stays ``pending``); the experiment ends with status
``budget-spent``, and the same command later resumes it, on this or another
machine, to the end an uninterrupted experiment reaches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasbench_sd.errors import RunError, UserError
from nasbench_sd.experiments.layout import check_label, check_not_locked, check_writable, run_path
from nasbench_sd.experiments.manifest import Manifest, check_compatible, load_manifest
from nasbench_sd.experiments.worker import RunTask, SeedBatchTask, member_outcomes
from nasbench_sd.presets import config_diff


@dataclass(frozen=True)
class Group:
    """Runs of one method with one set of overrides (a row of the table)."""

    label: str
    method: str
    sets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PlannedRun:
    task: RunTask
    state: str  # "done" (finished earlier) | "resume" (checkpoint) | "new"


@dataclass
class Plan:
    """Everything :func:`run_experiment` needs; made only by :func:`plan_experiment`."""

    root: Path
    preset: str
    seeds: list[int]
    groups: list[Group]
    device: str
    data_root: str | None
    threads: int = 1
    download: bool = False
    log: Any = None  # a LogSpec (nasbench_sd.loggers): each run's live log, below its own directory
    runs: list[PlannedRun] = field(default_factory=list)
    group_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: seeds per seed-batched unit (1: every run alone)
    batch_seeds: int = 1
    #: groups whose seeds run separately although batch_seeds > 1, and why
    batch_notes: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "resume": 0, "new": 0}
        for r in self.runs:
            out[r.state] += 1
        return out


def method_groups(methods: list[str], sets: dict[str, str]) -> list[Group]:
    """One group per method, labelled by the method name, with the settings that
    apply to it (``method.X`` / ``NAME.X`` scoping: :mod:`nasbench_sd.method_sets`)."""
    from nasbench_sd.method_sets import scope_sets

    scoped = scope_sets(methods, sets)
    return [Group(label=m, method=m, sets=tuple(scoped[m].items())) for m in methods]


def plan_experiment(groups: list[Group], seeds: list[int], preset: str, out: str | Path, device: str = "cpu",
                    data_root: str | Path | None = None, check_data: bool = True, threads: int = 1,
                    download: bool = False, log: Any = None, batch_seeds: int = 1,
                    require_batch: bool = False) -> Plan:
    """Resolve every run and check that all can start; writes nothing.

    Raises :class:`UserError` (one line) for any bad input, including a run
    directory or experiment group that holds another configuration. With
    ``download``, a missing CIFAR data set is fetched while checking the data.
    ``log`` (a :class:`~nasbench_sd.loggers.LogSpec`) gives every run a live log.
    ``batch_seeds > 1`` batches the seeds of every group that can
    (module docstring); ``require_batch`` refuses a group that cannot.
    """
    from nasbench_sd.presets import build_run_config
    from nasbench_sd.search.batched import seed_batch_refusal
    from nasbench_sd.search.rundir import RunDir

    if not groups or not seeds:
        raise UserError("nothing to run: give at least one method and one seed")
    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    if isinstance(batch_seeds, bool) or not isinstance(batch_seeds, int) or batch_seeds < 1:
        raise UserError(f"--batch-seeds must be a number of seeds >= 1, got {batch_seeds!r}")
    if require_batch and batch_seeds < 2:
        raise UserError("--require-batch needs --batch-seeds S with S >= 2")
    root = check_writable(out)
    if root.is_dir():
        check_not_locked(root, "experiment directory")
    plan = Plan(root=root, preset=preset, seeds=list(seeds), groups=list(groups), device=device,
                data_root=None if data_root is None else str(data_root), threads=int(threads),
                download=bool(download), log=log, batch_seeds=int(batch_seeds))
    for g in groups:
        check_label(g.label)
        configs = [build_run_config(g.method, preset, seed, dict(g.sets), device=device) for seed in seeds]
        comparable = configs[0].comparable()
        comparable.pop("seed")
        plan.group_configs[g.label] = comparable
        reason = seed_batch_refusal(configs[0]) if batch_seeds > 1 else None
        if reason is not None:
            if require_batch:
                raise UserError(f"{g.label} cannot batch seeds (--require-batch): {reason}")
            plan.batch_notes[g.label] = reason
        for seed, cfg in zip(seeds, configs):
            path = run_path(root, g.label, seed)
            plan.runs.append(PlannedRun(_task(g, seed, path, cfg, plan), _state(RunDir(path), cfg)))
    check_compatible(load_manifest(root) if root.is_dir() else None, preset, plan.group_configs)
    if check_data:
        _check_data(plan)
    return plan


def _task(g: Group, seed: int, path: Path, cfg, plan: Plan) -> RunTask:
    return RunTask(label=g.label, seed=seed, path=str(path), config=cfg, data_root=plan.data_root,
                   threads=plan.threads, download=plan.download,
                   log=None if plan.log is None else plan.log.below(f"{g.label}/seed-{seed}"))


def _state(run, cfg) -> str:
    """done | resume | new for an existing or missing run directory of ``cfg``."""
    if run.path.exists() and not run.path.is_dir():
        raise UserError(f"{run.path} exists and is not a directory")
    saved = run.saved_config()
    diff = [] if saved is None else config_diff(saved, cfg.to_dict())
    if diff:
        raise UserError(f"{run.path} holds a run made by another configuration (differs in: "
                        f"{', '.join(diff[:6])}); choose another --out or move it aside")
    if run.path.is_dir():
        check_not_locked(run.path)
    if run.is_finished():
        if saved is None:
            raise UserError(f"{run.path} holds a result.json without config.json; move it aside")
        return "done"
    if run.has_checkpoint() and saved is not None:
        run.load_checkpoint(warn=False)  # an unsafe or unreadable checkpoint is refused now, before any run starts
        return "resume"
    return "new"


def _check_data(plan: Plan) -> None:
    """Load the search data of the first unfinished training run ON THE CPU (cached
    per process, so a serial executor reuses the files it read): missing files
    fail here, before any run. This process may have no GPU (a Ray head node),
    and one that does must not keep a copy of the data on it for nothing."""
    from nasbench_sd.experiments.worker import search_data

    for r in plan.runs:
        if r.state != "done":
            if search_data(r.task.config, r.task.data_root, plan.download, device="cpu") is not None:
                return


#: Attempts per run beyond the first when its worker dies (``--retries``).
DEFAULT_RETRIES = 2


def run_experiment(plan: Plan, executor: str = "local", workers: int | None = None, ray_address: str | None = None,
                   quiet: bool = False, extra: dict[str, Any] | None = None,
                   retries: int = DEFAULT_RETRIES, runs_per_device: int = 1,
                   budget_s: float | None = None) -> dict[str, Any]:
    """Execute a plan; returns the final manifest. A run whose worker died (or
    whose device failed, or that a signal from outside stopped) is started again,
    resuming from its checkpoint, up to ``retries`` more times. Raises
    :class:`RunError` when any run failed (after all others finished; the
    manifest says which, and every attempt), :class:`UserError` when that was a
    full disk or an unsafe checkpoint. ``runs_per_device``: runs sharing each GPU;
    ``budget_s``: the time budget in seconds (module docstring)."""
    from nasbench_sd.experiments.executors import make_executor, place_workers

    if retries < 0:
        raise UserError(f"--retries must be >= 0, got {retries}")
    if budget_s is not None and not budget_s > 0:
        raise UserError(f"--budget must be a number of seconds > 0, got {budget_s}")
    deadline = None if budget_s is None else time.time() + float(budget_s)
    if executor == "local":
        workers = place_workers(workers, plan.device, runs_per_device)
    else:
        place_workers(None, plan.device, runs_per_device, gpus=["any"])  # the checks; Ray places the runs
    # first, as it may refuse (a Ray cluster without GPUs for --device cuda) before anything is written
    ex = make_executor(executor, workers, plan.device, ray_address, plan.threads, runs_per_device)
    try:
        return _execute(plan, ex, executor, workers, quiet, {**(extra or {}), "runs_per_device": runs_per_device},
                        retries, deadline)
    finally:
        ex.close()


def _execute(plan: Plan, ex, executor: str, workers: int | None, quiet: bool,
             extra: dict[str, Any] | None, retries: int, deadline: float | None = None) -> dict[str, Any]:
    from nasbench_sd.experiments.progress import ExperimentProgress
    from nasbench_sd.io import directory_lock, ensure_writable_dir

    root = ensure_writable_dir(plan.root)
    with directory_lock(root, "experiment directory"):
        manifest = Manifest(root, load_manifest(root), {
            "preset": plan.preset, "device": plan.device, "executor": executor, "workers": workers,
            "threads_per_run": plan.threads, "retries": retries,
            "groups": {g.label: {"method": g.method, "sets": dict(g.sets), "config": plan.group_configs[g.label]}
                       for g in plan.groups},
            "seeds": plan.seeds, "batch_seeds": plan.batch_seeds,
            "budget_deadline": None if deadline is None else _stamp(deadline), **(extra or {}),
        })
        todo = []
        for r in plan.runs:
            rel = Path(r.task.path).relative_to(root).as_posix()
            base = {"label": r.task.label, "method": r.task.config.method, "seed": r.task.seed, "path": rel}
            if r.state == "done":
                manifest.set_run(r.task.key, **base, status="skipped", note="finished earlier")
            else:
                manifest.set_run(r.task.key, **base, status="pending", resumed=r.state == "resume", error=None)
                todo.append(r)
        manifest.write(force=True)
        units = seed_units(todo, plan.batch_seeds, {g.label for g in plan.groups} - set(plan.batch_notes))
        limit = len(units) if (executor == "ray" and not workers) else max(1, workers or 1)
        progress = ExperimentProgress(len(plan.runs), len(plan.runs) - len(todo), quiet, ex.inline)
        status = "interrupted"
        try:
            _schedule(units, ex, manifest, progress, limit, retries, executor == "ray", quiet, deadline)
            states = {r.task.key: manifest.data["runs"][r.task.key].get("status") for r in todo}
            failed = [key for key, state in states.items() if state == "failed"]
            left = [key for key, state in states.items() if state in ("stopped", "pending")]
            status = "failed" if failed else "budget-spent" if left else "finished"
        finally:
            progress.close()
            ex.close()  # before the manifest says "interrupted": no run is still going
            manifest.finish(status)
    if status == "failed":
        _raise_failed(manifest, failed, len(plan.runs), workers)
    return manifest.data


def _stamp(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def _schedule(units: list[list[PlannedRun]], ex, manifest: Manifest, progress, limit: int, retries: int,
              return_files: bool, quiet: bool, deadline: float | None = None) -> None:
    """Keep ``limit`` units (a run, or a seed batch) going until every run ended; a
    unit whose outcome asks for a retry goes first in the queue again, resuming
    from its checkpoints, until its attempts are spent (a batch is retried whole).
    Once ``deadline`` (a time.time()) has passed, no unit starts (the running ones
    stop themselves: their tasks carry the deadline)."""
    from collections import deque
    from dataclasses import replace

    def submitted(unit: list[PlannedRun]) -> RunTask | SeedBatchTask:
        tasks = tuple(replace(r.task, resume=r.state == "resume", quiet=quiet or not ex.inline,
                              return_files=return_files, deadline=deadline) for r in unit)
        return tasks[0] if len(tasks) == 1 else SeedBatchTask(tasks)

    def runs_of(task: RunTask | SeedBatchTask) -> tuple[RunTask, ...]:
        return task.runs if isinstance(task, SeedBatchTask) else (task,)

    queue = deque(submitted(u) for u in units)
    running = 0
    while queue or running:
        if queue and deadline is not None and time.time() >= deadline:
            for task in queue:
                for run in runs_of(task):
                    manifest.set_run(run.key, status="pending", note="not started: the time budget was spent")
            queue.clear()
            manifest.write()
        while queue and running < limit:
            task = queue.popleft()
            ex.submit(task)
            running += 1
            for run in runs_of(task):
                manifest.start_attempt(run.key, resumed=run.resume)
            manifest.write()
            for run in runs_of(task):
                progress.started(run)
        for task, outcome in ex.wait(1.0):
            running -= 1
            again = bool(outcome.get("retry")) and task.attempt <= retries
            members = member_outcomes(task, outcome)
            for run, member in members:
                manifest.end_attempt(run.key, member, retried=again)
            if again:
                again_runs = tuple(replace(r, resume=True, attempt=r.attempt + 1) for r in runs_of(task))
                queue.appendleft(again_runs[0] if len(again_runs) == 1 else SeedBatchTask(again_runs))
                for run in again_runs:
                    manifest.set_run(run.key, status="pending")
                manifest.write()
                for run, member in members:
                    progress.retried(run, member, retries + 1)
                continue
            for run, member in members:
                _record(manifest, run, member)
                progress.finished(run, member)
        manifest.flush()
        progress.poll()


def seed_units(todo: list[PlannedRun], size: int, batchable: set[str]) -> list[list[PlannedRun]]:
    """The runs to start, in order, as units: the unfinished runs of a group in
    ``batchable`` in lists of up to ``size`` consecutive seeds (a batch that was killed
    is planned as the same batch again), every other run alone."""
    units: list[list[PlannedRun]] = []
    open_units: dict[str, list[PlannedRun]] = {}
    for r in todo:
        if size <= 1 or r.task.label not in batchable:
            units.append([r])
            continue
        unit = open_units.get(r.task.label)
        if unit is None or len(unit) >= size:
            unit = open_units[r.task.label] = []
            units.append(unit)
        unit.append(r)
    return units


def _raise_failed(manifest: Manifest, failed: list[str], total: int, workers: int | None) -> None:
    """One line for the runs that failed on every attempt: a full disk or an unsafe
    checkpoint is the user's to fix (exit 2); otherwise a RunError (exit 1),
    saying what to lower for runs out of memory."""
    from nasbench_sd.errors import DiskFullError
    from nasbench_sd.io import DISK_FULL_PREFIX

    runs = manifest.data["runs"]
    errors = [runs[key].get("error") or "" for key in failed]
    kinds = [runs[key].get("kind") for key in failed]
    full = [e for e in errors if e.startswith(DISK_FULL_PREFIX)]
    if full:
        raise DiskFullError(f"{full[0].rstrip('.')} ({len(failed)} of {total} runs stopped; see {manifest.path})")
    unsafe = [e for e, k in zip(errors, kinds) if k == "unsafe-checkpoint"]
    if unsafe:
        raise UserError(f"{unsafe[0]} ({len(failed)} of {total} runs stopped; see {manifest.path})")
    what = []
    for key in failed[:4]:
        n, kind = len(runs[key].get("attempts", [])), runs[key].get("kind")
        what.append(f"{key}: worker died on all {n} attempts" if kind == "died" else
                    f"{key}: {'out of memory' if kind == 'out-of-memory' else 'failed'}")
    advice = ""
    if "out-of-memory" in kinds:
        advice = (f"; out of memory: run fewer runs at once per device (--workers, now {workers or 1}) or lower "
                  "batch_size (a new configuration: use another --out)")
    raise RunError(f"{len(failed)} of {total} runs failed ({', '.join(what)}{', ...' if len(failed) > 4 else ''})"
                   f"{advice}; see {manifest.path}; rerun the same command to retry them (finished runs are kept)")


def _record(manifest: Manifest, task: RunTask, outcome: dict[str, Any]) -> None:
    """Store an outcome; mirror the small files of a remote run if they are missing here."""
    files = outcome.get("files")
    if files and not (Path(task.path) / "result.json").is_file():
        from nasbench_sd.io import atomic_write_text, ensure_writable_dir

        ensure_writable_dir(task.path)
        for name in sorted(files, key=lambda n: n == "result.json"):  # result.json last
            atomic_write_text(Path(task.path) / name, files[name])
    status = "finished" if outcome["status"] == "finished" else "failed"
    if outcome.get("kind") == "budget":
        status = "stopped"  # with a checkpoint: the same command resumes it
    fields: dict[str, Any] = {"status": status,
                              "wall_time_s": outcome.get("wall_time_s"), "error": outcome.get("error"),
                              "kind": outcome.get("kind")}
    if outcome.get("gpu") is not None:
        fields["gpu"] = outcome["gpu"]  # the visible GPU its pool worker was pinned to
    result = outcome.get("result")
    if result:
        fields.update(cell=result["cell"], index=result["index"], c10_test=result["benchmark"]["c10_test"])
    manifest.set_run(task.key, **fields)
    manifest.write()
