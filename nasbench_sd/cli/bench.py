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


@click.command()
@click.argument("cell_or_index")
@BACKEND_OPTION
@PATH_OPTION
@click.option("--dataset", default=None, help="Print one figure: cifar10, cifar100 or imagenet16-120.")
@click.option("--split", default=None, help="With --dataset: valid or test.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def query(cell_or_index, backend, benchmark_path, dataset, split, as_json):
    """Benchmark accuracies (%) of a cell given as arch string or NB201 index.

    Columns as in the SD-DARTS paper's Table 4: hp=200, mean over trials;
    CIFAR-10 valid = cifar10-valid x-valid, CIFAR-10 test = cifar10 ori-test,
    CIFAR-100 and ImageNet16-120 = x-valid / x-test.
    """
    from nasbench_sd.benchmark import get_benchmark, parse_cell_or_index
    from nasbench_sd.errors import UserError

    bench = get_benchmark(backend, benchmark_path)
    cell = parse_cell_or_index(cell_or_index, bench)
    if (dataset is None) != (split is None):
        raise UserError("--dataset and --split go together")
    if dataset is not None:
        value = bench.query(cell, dataset, split)
        if as_json:
            click.echo(json.dumps({"cell": str(cell), "dataset": dataset, "split": split, "accuracy": value}))
        else:
            click.echo(f"{value:.2f}")
        return
    record = bench.record(cell)
    if as_json:
        click.echo(json.dumps({**record.to_dict(), "provenance": bench.provenance()}, indent=2))
        return
    prov = bench.provenance()
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def cell_cmd(cell_or_index, as_json):
    """Describe a cell: edges, ops, parameter-free ops and params of its
    CIFAR-10 evaluation network (counted on the built network)."""
    from nasbench_sd.benchmark import get_benchmark, parse_cell_or_index

    bench_ = get_benchmark()
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
    if abs(table - params_mb) > 5e-7:
        click.echo(f"benchmark column    {table:.6f} (differs: the benchmark averaged trials of an isomorphic cell)")


COMMANDS = [query, bench, cell_cmd]
