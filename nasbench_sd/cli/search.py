"""``search`` (one run) and ``methods`` (what is registered)."""

from __future__ import annotations

import click

DATA_ROOT_HELP = ("Folder holding cifar-10-batches-py/ (cifar-100-python/ or ImageNet16/ with dataset=cifar100 or "
                  "imagenet16-120) [$NASBENCH_SD_DATA, else ~/.cache/nasbench-sd/data]; missing CIFAR data are "
                  "downloaded there and verified.")
SET_HELP = ("Override a setting: a SearchConfig field (epochs=10), a field of every method that has it "
            "(method.lam=0.5) or of one method (sd-darts.lam=0.5). Repeatable.")
PRESET_HELP = "paper | cpu | proxy  [paper on a CUDA device, else cpu]."
NO_DOWNLOAD_HELP = "Never download missing data (also: NASBENCH_SD_OFFLINE=1); fail with a message instead."


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
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def search(method, preset, seed, sets, data_root, no_download, out, resume, device, threads, quiet):
    """Search a cell with one method and one seed; writes a run directory with
    config.json, metrics.jsonl (one record per epoch), checkpoints and result.json."""
    from nasbench_sd.config import build_run_config, parse_sets
    from nasbench_sd.method_sets import scope_sets
    from nasbench_sd.runtime import choice_line, default_preset, resolve_device, set_threads

    set_threads(threads)
    sets_ = scope_sets([method], parse_sets(sets))[method]
    resolved = resolve_device(device)
    chosen = preset or default_preset(resolved)
    cfg = build_run_config(method, chosen, seed, sets_, device=resolved)
    click.echo(choice_line(chosen, preset is not None, resolved, device != "auto"))
    out = out or f"runs/{method}/seed-{seed}"
    result = _search_until_stopped(cfg, out, data_root, resume, quiet, not no_download)
    b = result["benchmark"]
    click.echo(f"cell   {result['cell']}  (index {result['index']}, {result['num_parameter_free']} parameter-free ops)")
    click.echo(f"NB201  C10 {b['c10_valid']:.2f}/{b['c10_test']:.2f}  C100 {b['c100_valid']:.2f}/{b['c100_test']:.2f}"
               f"  IN16 {b['in16_valid']:.2f}/{b['in16_test']:.2f}  (valid/test, hp=200)")
    click.echo(f"run    {out}  ({result['wall_time_s']:.1f} s)")


def _search_until_stopped(cfg, out, data_root, resume: bool, quiet: bool, download: bool) -> dict:
    """run_search; SIGTERM or Ctrl-C stop it at the next step with a checkpoint, then
    the command ends as on the signal (the usual one line, exit 143 or 130)."""
    from nasbench_sd.errors import Stopped
    from nasbench_sd.search import run_search
    from nasbench_sd.search.stop import StopRequest, stop_on_signals

    stop = StopRequest()
    try:
        with stop_on_signals(stop):
            return run_search(cfg, out, data_root=data_root, resume=resume, quiet=quiet, download=download,
                              stop=stop)
    except Stopped as e:
        raise Stopped(str(e), stop.signum) from None


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
        from nasbench_sd.methods.card import format_card, protocol_card

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
