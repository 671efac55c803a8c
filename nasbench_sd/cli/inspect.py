"""``show``: inspect one run directory."""

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
    from nasbench_sd.experiments.show import load_run, render_run

    info = load_run(run_dir)
    click.echo(json.dumps(info, indent=2) if as_json else render_run(info))


COMMANDS = [show]
