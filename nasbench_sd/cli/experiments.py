"""``run``, ``table``, ``plot`` and ``ablate``: multi-seed experiments (the API's
:mod:`nasbench_sd.api.runs` and :mod:`nasbench_sd.api.views`, with their output printed)."""

from __future__ import annotations

import click

from nasbench_sd.cli.bench import PATH_OPTION
from nasbench_sd.cli.search import DATA_ROOT_HELP, NO_DOWNLOAD_HELP, PRESET_HELP, SET_HELP, log_options


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
        click.option("--retries", type=int, default=2, show_default=True,
                     help="Start a run again (from its last checkpoint) up to this many times when its worker "
                          "dies (killed, the OOM killer, a device error, a lost Ray node)."),
        click.option("--threads", type=int, default=1, show_default=True,
                     help="torch CPU threads per run. CPU results depend on it, so it is fixed rather than "
                          "derived from --workers; use --workers to fill the cores."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: this machine; ray: one Ray task per run (one GPU each on CUDA)."),
        click.option("--ray-address", default=None, help="Ray cluster address [$RAY_ADDRESS; else a local Ray]."),
        click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N]."),
        log_options,
        click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _summary(exp) -> None:
    counts = exp.counts
    click.echo(f"experiment {exp.path}: {sum(counts.values())} runs ({counts['new'] + counts['resume']} run now, "
               f"{counts['resume']} of them resumed; {counts['done']} finished earlier); "
               f"manifest {exp.path / 'experiment.json'}")


@click.command("run")
@click.option("--method", "-m", "methods", required=True, help="Method or comma-separated methods: sd-darts,gdas.")
@click.option("--out", default=None, help="Experiment directory [runs/<preset>].")
@click.option("--controls", is_flag=True,
              help="Also run each method's control (its own idea off, all else equal: same preset, seeds and "
                   "protocol) as the group <method>-control; `table` then shows the paired effect of each idea.")
@click.option("--batch-seeds", type=int, default=1, show_default=True, metavar="S",
              help="Train up to S seeds of a method as one seed-batched supernet in one process (each seed "
                   "keeps its own run directory and results); methods that cannot batch run their seeds "
                   "separately (`nasbench-sd methods --show NAME` says why).")
@click.option("--require-batch", is_flag=True,
              help="With --batch-seeds: fail instead of running a method's seeds separately.")
@click.option("--runs-per-device", type=int, default=1, show_default=True, metavar="N",
              help="With --device cuda: N runs (or seed batches) share each visible GPU; --workers defaults to "
                   "N x the GPUs.")
@click.option("--budget", type=float, default=None, metavar="SECONDS",
              help="Wall-clock budget: at its end every run stops at its next step with a checkpoint and no run "
                   "starts; the same command resumes them (e.g. a lent GPU window).")
@_run_options
def run(methods, out, controls, batch_seeds, require_batch, runs_per_device, budget, seeds, preset, sets, data_root,
        no_download, workers, retries, threads, executor, ray_address, device, log, log_dir, quiet):
    """Search with every (method, seed): <out>/<method>/seed-<n>/ (out: runs/<preset>).

    Finished runs are skipped (the output says when another code revision or
    machine made them), unfinished ones resumed; all input is checked before
    the first run starts. Writes experiment.json (per-run status).
    """
    from nasbench_sd.api.runs import run as api_run

    exp = api_run(methods, seeds, preset, out, controls=controls, batch_seeds=batch_seeds,
                  require_batch=require_batch, runs_per_device=runs_per_device, budget=budget,
                  data_root=data_root, download=not no_download,
                  workers=workers, retries=retries, threads=threads, executor=executor, ray_address=ray_address,
                  device=device, log=log, log_dir=log_dir, progress=not quiet, echo=click.echo, sets=sets)
    _summary(exp)
    click.echo(f"next: nasbench-sd table {exp.path} && nasbench-sd plot {exp.path}")


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
    from nasbench_sd.api.views import make_table
    from nasbench_sd.report.table import write_table

    tab = make_table(results_dir, baseline=baseline, correction=correction, order=order, names=names, label=label,
                     columns=columns, published=published, best=best, benchmark=backend,
                     benchmark_path=benchmark_path)
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
    from nasbench_sd.api.views import load

    for p in load(results_dir).plot(out, ops_of=ops_of, split=split, methods=methods):
        click.echo(str(p))


@click.command("ablate")
@click.option("--method", "-m", default="sd-darts", show_default=True, help="The method to ablate.")
@click.option("--param", required=True, help="A method field (warmup, K, lam, ...) or a SearchConfig field.")
@click.option("--values", "values", required=True, help="Comma-separated values, e.g. 0,5,10.")
@click.option("--out", default=None, help="Experiment directory [runs/<preset>-<method>-<param>].")
@_run_options
def ablate(method, param, values, out, seeds, preset, sets, data_root, no_download, workers, retries, threads,
           executor, ray_address, device, log, log_dir, quiet):
    """Run a method for each value of one setting (<out>/<method>-<param>=<value>/seed-<n>/),
    then write ablation-<param>.csv and a plot of final accuracy vs the value."""
    from nasbench_sd.api.runs import ablate as api_ablate

    exp = api_ablate(method, param, values, seeds, preset, out, data_root=data_root, download=not no_download,
                     workers=workers, retries=retries, threads=threads, executor=executor, ray_address=ray_address,
                     device=device, log=log, log_dir=log_dir, progress=not quiet, echo=click.echo, sets=sets)
    _summary(exp)
    for p in exp.ablation:
        click.echo(str(p))


COMMANDS = [run, table, plot, ablate]
