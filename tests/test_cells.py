"""Arch strings: parsing, printing, validation with errors naming the bad token."""

import random

import pytest

from nasbench_sd.cells import EDGES, NUM_CELLS, OPS, Cell, all_cells, random_cell
from nasbench_sd.errors import UserError

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def test_round_trip_every_cell():
    seen = set()
    for cell in all_cells():
        text = str(cell)
        assert Cell.from_string(text) == cell
        assert Cell.from_op_ids(cell.op_ids) == cell
        seen.add(text)
    assert len(seen) == NUM_CELLS == 5**6


def test_edge_order_matches_arch_string():
    cell = Cell(("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"))
    assert str(cell) == "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    assert list(cell.edges())[4] == (3, 1, "nor_conv_1x1")
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def test_parameter_free_count():
    assert Cell.from_string(ALL_SKIP).num_parameter_free == 6
    cell = Cell(("nor_conv_3x3", "none", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3"))
    assert cell.num_parameter_free == 2


@pytest.mark.parametrize(
    "text, fragment",
    [
        (ALL_SKIP.replace("skip_connect~1|+", "conv_3x3~1|+"), "unknown op 'conv_3x3' on edge 2<-1"),
        (ALL_SKIP.replace("skip_connect~2", "skip_connect~1"), "edge 3<-2"),
        ("|skip_connect~0|", "3 node groups"),
        ("", "3 node groups"),
        (ALL_SKIP.replace("|+|skip_connect~0|skip_connect~1|+", "|+|skip_connect~0|+"), "node 2 needs 2"),
        (ALL_SKIP.replace("|skip_connect~0|+", "skip_connect~0+", 1), "malformed node 1"),
    ],
)
def test_bad_strings_name_the_problem(text, fragment):
    with pytest.raises(UserError, match=fragment):
        Cell.from_string(text)


def test_op_ids_out_of_range():
    with pytest.raises(UserError, match="op id 5"):
        Cell.from_op_ids([0, 1, 2, 3, 4, 5])


def test_random_cell_is_seeded():
    assert random_cell(random.Random(3)) == random_cell(random.Random(3))
    draws = {random_cell(random.Random(s)) for s in range(20)}
    assert len(draws) > 15
