"""EvalNet and the analytic parameter count agree with each other and with the benchmark table.

The table's ``params_mb_cifar10`` is a mean over the benchmark's training
trials. For 204 of the 15,625 cells some trials trained a different (but
isomorphic) cell, so the recorded mean differs from this cell's own network
by a fraction (1/2, 1/3, 2/3) of whole conv edges; every other cell matches
exactly, to the parameter.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from importlib import resources

import pytest
import torch

from nasbench_sd.cells import OPS, Cell, all_cells, random_cell
from nasbench_sd.nn.evalnet import EvalNet
from nasbench_sd.nn.params import count_params, params_mb

UNIFORM = [Cell((op,) * 6) for op in OPS]  # one cell per op type
#: parameters one 1x1 / 3x3 edge adds to the C=16, N=5 CIFAR-10 net: 5 cells x (k*k*c*c + 2c) over c = 16, 32, 64
EDGE_BLOCK = {"nor_conv_1x1": 28_000, "nor_conv_3x3": 243_040}
TRIAL_MEAN_EXCEPTIONS = 204


# Tiny tensors: one intra-op thread is faster and immune to a busy second core.
pytestmark = pytest.mark.usefixtures("one_thread")


def table_rows() -> list[dict[str, str]]:
    """The rows of the bundled NB201 v1_1 table (equal to ../shared's copy: see test_benchmark)."""
    raw = resources.files("nasbench_sd.resources").joinpath("nb201_v1_1.csv.gz").read_bytes()
    return list(csv.DictReader(io.StringIO(gzip.decompress(raw).decode())))


def test_edge_blocks_follow_from_the_count() -> None:
    base = count_params(Cell(("skip_connect",) * 6))
    for op, block in EDGE_BLOCK.items():
        assert count_params(Cell((op,) + ("skip_connect",) * 5)) - base == block


@pytest.mark.parametrize("cell", UNIFORM + [random_cell(random.Random(s)) for s in range(6)], ids=str)
def test_built_count_equals_analytic_count(cell: Cell) -> None:
    assert EvalNet(cell).num_params() == count_params(cell)
    assert EvalNet(cell, 8, 2, 100).num_params() == count_params(cell, 8, 2, 100)


def test_analytic_count_equals_table_for_all_cells() -> None:
    rows = table_rows()
    assert len(rows) == 15_625
    exceptions = 0
    for row in rows:
        mine = count_params(row["arch"])
        table = float(row["params_mb_cifar10"]) * 1e6
        if mine == round(table):
            assert params_mb(row["arch"]) == pytest.approx(float(row["params_mb_cifar10"]), abs=5e-7)
            continue
        exceptions += 1
        # a trial mean: (sum over t trials of whole-edge differences) / t, t in {2, 3}
        explained = any(
            abs((table - mine) * t - (a * EDGE_BLOCK["nor_conv_1x1"] + b * EDGE_BLOCK["nor_conv_3x3"])) < 2
            for t in (2, 3)
            for a in range(-3, 4)
            for b in range(-3, 4)
        )
        assert explained, (row["index"], row["arch"], mine, table)
    assert exceptions == TRIAL_MEAN_EXCEPTIONS


def test_built_evalnet_equals_table() -> None:
    rows = {row["arch"]: row for row in table_rows()}
    picks = [str(c) for c in UNIFORM] + [str(random_cell(random.Random(100 + s))) for s in range(3)]
    for arch in picks:
        row = rows[arch]
        assert EvalNet(arch).num_params() == round(float(row["params_mb_cifar10"]) * 1e6), arch


def test_count_depends_only_on_conv_edge_counts() -> None:
    """The count depends only on how many 1x1 and 3x3 edges a cell has (28 pairs with a + b <= 6)."""
    by_counts: dict[tuple[int, int], set[int]] = {}
    for cell in all_cells():
        key = (cell.ops.count("nor_conv_1x1"), cell.ops.count("nor_conv_3x3"))
        by_counts.setdefault(key, set()).add(count_params(cell))
    assert len(by_counts) == 28 and all(len(v) == 1 for v in by_counts.values())


def test_forward_shape_and_structure() -> None:
    torch.manual_seed(0)
    cell = Cell.from_string("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    net = EvalNet(cell, 8, 1, 10)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert net(torch.randn(3, 3, 16, 16)).shape == (3, 10)  # ImageNet16-sized input
    evalcell = net.cells[0]
    assert sorted(evalcell.edges) == ["0", "2", "3", "5"]  # none edges dropped
    for conv in (m for m in net.modules() if isinstance(m, torch.nn.Conv2d)):
        assert conv.bias is None
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        assert bn.affine and bn.track_running_stats


def test_node_with_only_none_inputs_is_zero() -> None:
    """Node 1 gets only ``none``: node 3 = skip(node 0) + skip(node 1) = the input."""
    cell = EvalNet("|none~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|", 8, 1).cells[0]
    x = torch.randn(2, 8, 8, 8)
    torch.testing.assert_close(cell(x), x, rtol=0, atol=0)
    all_none = EvalNet(Cell(("none",) * 6), 8, 1).cells[0]
    assert torch.count_nonzero(all_none(x)) == 0


def test_evalnet_matches_hand_computation_of_a_cell() -> None:
    """Node 3 = conv3x3(node 0) + pool(node 1) with node 1 = conv1x1(node 0) (eval-mode BN)."""
    torch.manual_seed(0)
    net = EvalNet("|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|", 8, 1).eval()
    cell = net.cells[0]
    x = torch.randn(2, 8, 8, 8)
    n1 = cell.edges["0"](x)
    expect = cell.edges["3"](x) + torch.nn.functional.avg_pool2d(n1, 3, 1, 1, count_include_pad=False)
    torch.testing.assert_close(cell(x), expect)
