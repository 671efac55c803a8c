"""``search`` (one run) and ``methods`` (what is registered)."""

from __future__ import annotations

import click

DATA_ROOT_HELP = ("Folder holding cifar-10-batches-py/ (cifar-100-python/ or ImageNet16/ with dataset=cifar100 or "
                  "imagenet16-120) [$NASBENCH_SD_DATA, else ~/.cache/nasbench-sd/data]; missing CIFAR data are "
                  "downloaded there and verified.")
SET_HELP = ("Override a setting: a SearchConfig field (epochs=10), a field of every method that has it "
            "(method.lam=0.5) or of one method (sd-darts.lam=0.5). Repeatable.")
PRESET_HELP = "paper | cpu | proxy | arena  [paper on a CUDA device, else cpu]."
NO_DOWNLOAD_HELP = "Never download missing data (also: NASBENCH_SD_OFFLINE=1); fail with a message instead."


LOG_HELP = ("Live log of every epoch: tensorboard (event files) or wandb (a W&B run; $WANDB_PROJECT, "
            "$WANDB_ENTITY, $WANDB_MODE=offline). Needs the extra of the same name. Not part of the run's identity.")
LOG_DIR_HELP = "Where the live log goes [the run directory; for run/ablate DIR/<group>/seed-<n>]."


def log_options(f):
    """``--log`` and ``--log-dir`` (search, run, ablate)."""
    f = click.option("--log-dir", default=None, type=click.Path(file_okay=False), help=LOG_DIR_HELP)(f)
    return click.option("--log", "log", type=click.Choice(["tensorboard", "wandb"]), default=None, help=LOG_HELP)(f)


@click.command()
@click.option("--method", "-m", required=True, help="Search method (see `nasbench-sd methods`).")
@click.option("--preset", "-p", default=None, help=PRESET_HELP)
@click.option("--seed", "-s", default=0, show_default=True, type=int)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--data-root", default=None, help=DATA_ROOT_HELP)
@click.option("--no-download", is_flag=True, help=NO_DOWNLOAD_HELP)
@click.option("--out", default=None, help="Run directory [runs/<method>/seed-<seed>].")
@click.option("--resume", is_flag=True, help="Continue the unfinished run in --out.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N].")
@click.option("--threads", default=1, show_default=True, type=int,
              help="torch CPU threads (CPU results depend on it; `run` uses the same default).")
@log_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def search(method, preset, seed, sets, data_root, no_download, out, resume, device, threads, log, log_dir, quiet):
    """Search a cell with one method and one seed; writes a run directory with
    config.json, metrics.jsonl (one record per epoch), checkpoints and result.json."""
    from nasbench_sd.api.runs import search as api_search
    from nasbench_sd.errors import Stopped
    from nasbench_sd.search.stop import StopRequest, stop_on_signals

    stop = StopRequest()  # SIGTERM or Ctrl-C: a checkpoint at the next step, then the usual one line (143 or 130)
    try:
        with stop_on_signals(stop):
            r = api_search(method, preset, seed, out, data_root=data_root, download=not no_download, resume=resume,
                           device=device, threads=threads, log=log, log_dir=log_dir, progress=not quiet,
                           echo=click.echo, stop=stop, sets=sets)
    except Stopped as e:
        raise Stopped(str(e), stop.signum) from None
    b, result = r.figures, r.result
    click.echo(f"cell   {r.cell}  (index {r.index}, {result['num_parameter_free']} parameter-free ops)")
    click.echo(f"NB201  C10 {b['c10_valid']:.2f}/{b['c10_test']:.2f}  C100 {b['c100_valid']:.2f}/{b['c100_test']:.2f}"
               f"  IN16 {b['in16_valid']:.2f}/{b['in16_test']:.2f}  (valid/test, hp=200)")
    click.echo(f"run    {r.path}  ({result['wall_time_s']:.1f} s)")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--show", "show", default=None, metavar="NAME",
              help="Print the protocol card of one method: every `paper` setting, its value and source, "
                   "and the known deviations from the published protocol.")
def methods(as_json, show):
    """List the registered search methods (built-ins and installed plugins)."""
    import json

    from nasbench_sd.methods import get_method, list_methods

    if show is not None:
        from nasbench_sd.cards import format_card, protocol_card

        card = protocol_card(show)
        click.echo(json.dumps(card, indent=2) if as_json else format_card(card))
        return
    rows = []
    for name in list_methods():
        cls = get_method(name)
        rows.append({"name": name, "description": cls.description, "paper": cls.paper,
                     "module": cls.__module__})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        click.echo(f"{r['name']:{width}}  {r['description']}")
        click.echo(f"{'':{width}}  paper: {r['paper'] or '(none given)'}")


COMMANDS = [search, methods]
