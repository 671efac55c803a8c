"""``show``: inspect one run directory; ``status``: where an experiment stands."""

from __future__ import annotations

import json

import click


@click.command("show")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(run_dir, as_json):
    """One run: its config (settings changed from the preset first), the
    per-epoch table (losses, accuracies, cell, parameter-free ops, the six
    benchmark figures) and the final op probabilities / alpha per edge and op."""
    from nasbench_sd.report.show import load_run, render_run

    info = load_run(run_dir)
    click.echo(json.dumps(info, indent=2) if as_json else render_run(info))


@click.command("status")
@click.argument("results_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(results_dir, as_json):
    """Where an experiment stands: per group, the seeds finished, running now,
    stopped part-way (with the epoch they resume from), failed and not started,
    and the CIFAR-10 test of the finished runs' cells. Running means a live
    process holds the run's lock, whatever experiment.json last said."""
    from nasbench_sd.report.status import experiment_status, render_status

    info = experiment_status(results_dir)
    click.echo(json.dumps(info.to_dict(), indent=2) if as_json else render_status(info))


COMMANDS = [show, status]
