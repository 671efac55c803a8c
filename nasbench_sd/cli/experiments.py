"""``run``, ``table``, ``plot`` and ``ablate``: multi-seed experiments."""

from __future__ import annotations

import os
import sys

import click

from nasbench_sd.cli.bench import PATH_OPTION
from nasbench_sd.cli.search import DATA_ROOT_HELP, NO_DOWNLOAD_HELP, PRESET_HELP, SET_HELP


def _run_options(f):
    """Options shared by ``run`` and ``ablate`` (execution and placement)."""
    options = [
        click.option("--seeds", "-n", default="5", show_default=True,
                     help="A count N (seeds 0..N-1) or a list of seeds, e.g. 0,3,7."),
        click.option("--preset", "-p", default=None, help=PRESET_HELP),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP),
        click.option("--data-root", default=None, help=DATA_ROOT_HELP),
        click.option("--no-download", is_flag=True, help=NO_DOWNLOAD_HELP),
        click.option("--workers", "-w", type=int, default=None,
                     help="Runs at once, each in its own process [local: 1; ray: all that the cluster fits]."),
        click.option("--threads", type=int, default=1, show_default=True,
                     help="torch CPU threads per run. CPU results depend on it, so it is fixed rather than "
                          "derived from --workers; use --workers to fill the cores."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: this machine; ray: one Ray task per run (one GPU each on CUDA)."),
        click.option("--ray-address", default=None, help="Ray cluster address [$RAY_ADDRESS; else a local Ray]."),
        click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N]."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _device(device: str, executor: str) -> str:
    """Resolve --device; on Ray, 'cuda' names the workers' GPUs, not the driver's."""
    from nasbench_sd.errors import UserError
    from nasbench_sd.runtime import resolve_device

    if executor == "ray" and device.startswith("cuda"):
        if device != "cuda":
            raise UserError("with --executor ray use --device cuda (Ray assigns one GPU per run)")
        return device
    return resolve_device(device)


def _check_exec_options(workers, executor, ray_address) -> None:
    from nasbench_sd.errors import UserError

    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if ray_address and executor != "ray":
        raise UserError("--ray-address needs --executor ray")


def choose(preset: str | None, device: str, workers, executor: str, ray_address) -> tuple[str, str]:
    """Check the execution options, resolve the device and the preset (paper on CUDA,
    else cpu) and print which were chosen and why as the first line of output."""
    from nasbench_sd.runtime import choice_line, default_preset

    _check_exec_options(workers, executor, ray_address)
    resolved = _device(device, executor)
    chosen = preset or default_preset(resolved)
    click.echo(choice_line(chosen, preset is not None, resolved, device != "auto"))
    return chosen, resolved


def execute(groups, seeds, preset, out, data_root, workers, threads, executor, ray_address, device, quiet,
            extra=None, download=True, batch_seeds=1, require_batch=False) -> dict:
    """Plan (validating everything), run, and print a one-line summary; exit 1 if runs failed.
    ``preset`` and ``device`` are resolved (:func:`choose`)."""
    from nasbench_sd.errors import RunError
    from nasbench_sd.experiments.runner import plan_experiment, run_experiment

    remote = executor == "ray" and bool(ray_address or os.environ.get("RAY_ADDRESS"))
    plan = plan_experiment(groups, seeds, preset, out, device=device, data_root=data_root, check_data=not remote,
                           threads=threads, download=download, batch_seeds=batch_seeds, require_batch=require_batch)
    for label, reason in plan.batch_notes.items():
        click.echo(f"{label}: its seeds run separately, it cannot batch them: {reason}")
    counts = plan.counts()
    try:
        manifest = run_experiment(plan, executor, workers, ray_address, quiet, extra)
    except RunError as e:
        click.echo(f"nasbench-sd: error: {e}", err=True)
        sys.exit(1)
    click.echo(f"experiment {plan.root}: {len(plan.runs)} runs ({counts['new'] + counts['resume']} run now, "
               f"{counts['resume']} of them resumed; {counts['done']} finished earlier); "
               f"manifest {plan.root / 'experiment.json'}")
    return manifest


@click.command("run")
@click.option("--method", "-m", "methods", required=True, help="Method or comma-separated methods: sd-darts,gdas.")
@click.option("--out", default=None, help="Experiment directory [results/<preset>].")
@click.option("--batch-seeds", type=int, default=1, show_default=True, metavar="S",
              help="Train up to S seeds of a method as one seed-batched supernet in one process (each seed "
                   "keeps its own run directory and results); methods that cannot batch run their seeds "
                   "separately (`nasbench-sd methods --show NAME` says why).")
@click.option("--require-batch", is_flag=True,
              help="With --batch-seeds: fail instead of running a method's seeds separately.")
@_run_options
def run(methods, out, batch_seeds, require_batch, seeds, preset, sets, data_root, no_download, workers, threads,
        executor, ray_address, device, quiet):
    """Search with every (method, seed): results/<experiment>/<method>/seed-<n>/.

    Finished runs are skipped, unfinished ones resumed; all input is checked
    before the first run starts. Writes experiment.json (per-run status).
    """
    from nasbench_sd.config import parse_sets
    from nasbench_sd.experiments.layout import parse_methods, parse_seeds
    from nasbench_sd.experiments.runner import method_groups

    names, seed_list, set_map = parse_methods(methods), parse_seeds(seeds), parse_sets(sets)
    preset, device = choose(preset, device, workers, executor, ray_address)
    out = out or f"results/{preset}"
    execute(method_groups(names, set_map), seed_list, preset, out, data_root, workers, threads, executor,
            ray_address, device, quiet, download=not no_download, batch_seeds=batch_seeds,
            require_batch=require_batch)
    click.echo(f"next: nasbench-sd table {out} && nasbench-sd plot {out}")


def _pairs(items, flag: str) -> tuple[tuple[str, str], ...]:
    from nasbench_sd.errors import UserError

    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"{flag} expects ROW=TEXT, got {item!r}")
        out.append((key.strip(), value.strip()))
    return tuple(out)


@click.command("table")
@click.argument("results_dir", type=click.Path(file_okay=False))
@click.option("--out", default=None, help="Where table.csv/table-seeds.csv/.md/.tex go [RESULTS_DIR].")
@click.option("--baseline", default=None, help="Welch t-test of every row against this method (or group label).")
@click.option("--correction", type=click.Choice(["none", "holm"]), default="none", show_default=True,
              help="Multiple-comparison correction over all tests of the table (stated in the caption).")
@click.option("--order", default=None, help="Row order: comma-separated group labels shown first.")
@click.option("--name", "names", multiple=True, metavar="ROW=NAME", help="Display name of a row. Repeatable.")
@click.option("--label", default="tab:nb201", show_default=True, help="LaTeX \\label of the table.")
@click.option("--columns", type=click.Choice(["all", "searched"]), default="all", show_default=True,
              help="all six figures, or only the search data set's (searched on X, reported on X).")
@click.option("--published/--no-published", default=True, show_default=True,
              help="Add the paper's Table 4 rows (labelled 'published').")
@click.option("--best/--no-best", default=True, show_default=True,
              help="Add the best cell per column of the bundled NB201 v1_1 table.")
@click.option("--benchmark", "backend", default="table", show_default=True,
              type=click.Choice(["table", "nb201", "nats"]),
              help="table: the figures stored with each run (bundled NB201 v1_1 table); nb201/nats: re-score "
                   "every run's final cell with the official API on --benchmark-path.")
@PATH_OPTION
def table(results_dir, out, baseline, correction, order, names, label, columns, published, best, backend,
          benchmark_path):
    """Mean ± std over seeds of the six Table-4 figures, per method: table.csv,
    table-seeds.csv, table.md, table.tex (Markdown also on stdout). RESULTS_DIR is
    an experiment, one method's directory, a seed-<n> directory or one run."""
    from nasbench_sd.experiments.table import TableOptions, build_table, write_table

    opts = TableOptions(baseline=baseline, published=published, best=best, correction=correction,
                        order=tuple(o.strip() for o in order.split(",") if o.strip()) if order else (),
                        names=_pairs(names, "--name"), label=label, columns=columns, backend=backend,
                        benchmark_path=benchmark_path)
    tab = build_table(results_dir, options=opts)
    paths = write_table(tab, out or results_dir)
    click.echo(tab.markdown())
    click.echo(f"wrote {', '.join(str(p) for p in paths)}", err=True)


@click.command("plot")
@click.argument("results_dir", type=click.Path(file_okay=False))
@click.option("--out", default=None, help="Folder for the figures [RESULTS_DIR/plots].")
@click.option("--ops-of", default=None, help="Group whose op probabilities are drawn [every group].")
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True,
              help="Benchmark accuracy drawn in the accuracy figure (valid: accuracy-valid.png/.pdf).")
@click.option("--methods", default=None, help="Comma-separated groups or methods to draw [all].")
def plot(results_dir, out, ops_of, split, methods):
    """Per-epoch curves: benchmark accuracy of the derived cell, Hessian
    eigenvalue, op probabilities per edge, parameter-free ops; and the final
    cell of every finished run beside the published rows (PNG and PDF).
    Groups without per-epoch records (random) are drawn as a level. RESULTS_DIR
    is an experiment, one method's directory, a seed-<n> directory or one run."""
    from pathlib import Path

    from nasbench_sd.experiments.plot import plot_experiment

    paths = plot_experiment(results_dir, Path(out) if out else Path(results_dir) / "plots", ops_of=ops_of,
                            split=split, methods=methods)
    for p in paths:
        click.echo(str(p))


@click.command("ablate")
@click.option("--method", "-m", default="sd-darts", show_default=True, help="The method to ablate.")
@click.option("--param", required=True, help="A method field (warmup, K, lam, ...) or a SearchConfig field.")
@click.option("--values", "values", required=True, help="Comma-separated values, e.g. 0,5,10.")
@click.option("--out", default=None, help="Experiment directory [results/<preset>-<method>-<param>].")
@_run_options
def ablate(method, param, values, out, seeds, preset, sets, data_root, no_download, workers, threads, executor,
           ray_address, device, quiet):
    """Run a method for each value of one setting (results/<experiment>/<method>-<param>=<value>/seed-<n>/),
    then write ablation-<param>.csv and a plot of final accuracy vs the value."""
    from nasbench_sd.config import parse_sets
    from nasbench_sd.experiments.ablate import ablation_groups, summarize_ablation
    from nasbench_sd.experiments.layout import parse_seeds
    from nasbench_sd.method_sets import scope_sets

    seed_list, set_map = parse_seeds(seeds), scope_sets([method], parse_sets(sets))[method]
    groups, key, value_list = ablation_groups(method, param, values, set_map)
    preset, device = choose(preset, device, workers, executor, ray_address)
    out = out or f"results/{preset}-{method}-{param}"
    execute(groups, seed_list, preset, out, data_root, workers, threads, executor, ray_address, device, quiet,
            extra={"ablation": {"method": method, "param": param, "key": key, "values": value_list}},
            download=not no_download)
    for p in summarize_ablation(out, method, param, key, value_list, groups):
        click.echo(str(p))


COMMANDS = [run, table, plot, ablate]
