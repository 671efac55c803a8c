"""``query``, ``bench best`` and ``cell``: look cells up in the benchmark."""

from __future__ import annotations

import json

import click

BACKEND_OPTION = click.option(
    "--benchmark", "backend", default="table", show_default=True,
    type=click.Choice(["table", "nb201", "nats"]),
    help="table: bundled NB201 v1_1 table; nb201/nats: the official APIs on --benchmark-path.",
)
PATH_OPTION = click.option(
    "--benchmark-path", type=click.Path(dir_okay=True), default=None,
    help="The official benchmark file (nb201) or directory (nats).",
)


def _figure_lines(record) -> list[str]:
    lines = [f"{'':16}{'valid':>8}{'test':>8}"]
    for prefix, name in (("c10", "CIFAR-10"), ("c100", "CIFAR-100"), ("in16", "ImageNet16-120")):
        v, t = getattr(record, f"{prefix}_valid"), getattr(record, f"{prefix}_test")
        lines.append(f"{name:16}{v:8.2f}{t:8.2f}")
    return lines


HP_OPTION = click.option("--hp", default="200", show_default=True, type=click.Choice(["200", "12"]),
                         help="The benchmark's training schedule: 200 or 12 epochs.")


def _read_batch(batch: str) -> tuple[list[str], str]:
    import sys

    from nasbench_sd.errors import UserError

    if batch == "-":
        return sys.stdin.read().splitlines(), "stdin"
    try:
        with open(batch) as f:
            return f.read().splitlines(), batch
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read --batch file {batch}: {getattr(e, 'strerror', None) or e}") from None


@click.command()
@click.argument("cell_or_index", required=False)
@BACKEND_OPTION
@PATH_OPTION
@click.option("--dataset", default=None,
              help="Print one figure: cifar10-valid, cifar10, cifar100, ImageNet16-120 (or imagenet16-120).")
@click.option("--split", default=None, help="With --dataset: valid, test or train (x-valid, x-test, ori-test).")
@HP_OPTION
@click.option("--batch", default=None, metavar="FILE|-",
              help="Many cells: arch strings or indices, one per line, from FILE or stdin (-); CSV out.")
@click.option("--nats", is_flag=True,
              help="With --dataset and --split test: the bundled NATS-Bench tss test accuracy (hp=200).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def query(cell_or_index, backend, benchmark_path, dataset, split, hp, batch, nats, as_json):
    """Benchmark accuracies (%) of a cell given as arch string or NB201 index.

    Columns as in the SD-DARTS paper's Table 4: mean over trials; CIFAR-10
    valid = cifar10-valid x-valid, CIFAR-10 test = cifar10 ori-test,
    CIFAR-100 and ImageNet16-120 = x-valid / x-test. --dataset cifar10-valid
    --split test is cifar10-valid's ori-test (the 25k-trained model).
    """
    from nasbench_sd.api.lookup import cell_figures, figure_of
    from nasbench_sd.benchmark import Record, get_benchmark, parse_cell_or_index
    from nasbench_sd.errors import UserError

    fig = figure_of(dataset, split, hp, nats)
    if nats and backend != "table":
        raise UserError("--nats reads the bundled table; with an official backend use --benchmark nats")
    if (cell_or_index is None) == (batch is None):
        raise UserError("give one CELL_OR_INDEX or --batch FILE|-")
    bench = get_benchmark(backend, benchmark_path)
    if batch is not None:
        from nasbench_sd.benchmark.batch import batch_rows, read_indices, render

        lines, source = _read_batch(batch)
        header, rows = batch_rows(read_indices(lines, bench, source), bench, fig, hp)
        click.echo(render(header, rows, as_json))
        return
    cell = parse_cell_or_index(cell_or_index, bench)
    if fig is not None:
        value = bench.figure(bench.index(cell), fig)
        if as_json:
            click.echo(json.dumps({"cell": str(cell), "dataset": fig.dataset, "split": fig.split, "hp": hp,
                                   "official": [fig.official_dataset, fig.metric],
                                   "benchmark": "NATS-Bench tss" if nats else "NAS-Bench-201", "accuracy": value}))
        else:
            click.echo(f"{value:.2f}")
        return
    answer = cell_figures(cell, bench, hp)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    prov = answer.pop("provenance")
    record = Record(**answer)
    click.echo(f"cell   {record.cell}")
    click.echo(f"index  {record.index}")
    for line in _figure_lines(record):
        click.echo(line)
    if record.params_mb_cifar10 is not None:
        click.echo(f"params {record.params_mb_cifar10:.6f} M (CIFAR-10 evaluation network)")
    click.echo(f"source {prov['benchmark']} [{prov['backend']}], hp={prov['hp']}, {prov['averaging']}")


@click.group()
def bench():
    """Questions about the benchmark as a whole."""


@bench.command()
@BACKEND_OPTION
@PATH_OPTION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def best(backend, benchmark_path, as_json):
    """The best cell of the benchmark for each of the six Table-4 columns."""
    from nasbench_sd.benchmark import COLUMN_LABELS, get_benchmark

    b = get_benchmark(backend, benchmark_path)
    best = b.best()
    if as_json:
        click.echo(json.dumps({c: {"value": getattr(r, c), "index": r.index, "cell": r.cell}
                               for c, r in best.items()}, indent=2))
        return
    for c, r in best.items():
        click.echo(f"{COLUMN_LABELS[c]:22}{getattr(r, c):8.2f}  index {r.index:5d}  {r.cell}")


@click.command(name="cell")
@click.argument("cell_or_index")
@BACKEND_OPTION
@PATH_OPTION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def cell_cmd(cell_or_index, backend, benchmark_path, as_json):
    """Describe a cell: edges, ops, parameter-free ops and params of its
    CIFAR-10 evaluation network (counted on the built network), and its six
    Table-4 figures from the chosen benchmark backend."""
    from nasbench_sd.benchmark import get_benchmark, parse_cell_or_index

    bench_ = get_benchmark(backend, benchmark_path)
    cell = parse_cell_or_index(cell_or_index, bench_)
    from nasbench_sd.nn.evalnet import EvalNet

    net = EvalNet(cell)
    params_mb = sum(p.numel() for p in net.parameters()) / 1e6
    index = bench_.index(cell)
    info = {
        "cell": str(cell),
        "index": index,
        "edges": [{"to": j, "from": i, "op": op} for j, i, op in cell.edges()],
        "num_parameter_free": cell.num_parameter_free,
        "params_mb": params_mb,
        # the table's column; for 204 cells it is a mean over trials that trained an isomorphic cell
        "params_mb_cifar10_table": bench_.params_mb(index),
        "benchmark": bench_.record(cell).figures(),
        "benchmark_source": bench_.provenance(),
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"cell   {info['cell']}")
    click.echo(f"index  {info['index']}")
    for e in info["edges"]:
        click.echo(f"  edge {e['to']}<-{e['from']}  {e['op']}")
    click.echo(f"parameter-free ops  {info['num_parameter_free']} of 6")
    click.echo(f"params_mb           {params_mb:.6f} (CIFAR-10 evaluation network, C=16, N=5, counted)")
    table = info["params_mb_cifar10_table"]
    if table is not None and abs(table - params_mb) > 5e-7:
        click.echo(f"benchmark column    {table:.6f} (differs: the benchmark averaged trials of an isomorphic cell)")
    from nasbench_sd.benchmark import Record

    for line in _figure_lines(Record(cell=info["cell"], index=index, **info["benchmark"])):
        click.echo(line)
    prov = info["benchmark_source"]
    click.echo(f"source {prov['benchmark']} [{prov['backend']}], hp={prov['hp']}, {prov['averaging']}")


COMMANDS = [query, bench, cell_cmd]
