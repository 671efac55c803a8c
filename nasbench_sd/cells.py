"""NAS-Bench-201 cells: the five operations, the six edges, arch strings.

A cell has 4 nodes; node 0 is the cell input and node ``j`` sums one operation
applied to each earlier node ``i < j``. The six edges are ordered as the
benchmark's arch strings list them::

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|
     1<-0    2<-0 2<-1   3<-0 3<-1 3<-2

This module is pure Python (no torch) so that the CLI can use it cheaply.
The NB201 *index* of a cell is the benchmark's own numbering, which is not a
simple enumeration; it lives with the benchmark table (``nasbench_sd.benchmark``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from nasbench_sd.errors import UserError

#: The five candidate operations, in the benchmark's order (index = op id).
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Operations without parameters (counted as a sign of collapse).
PARAMETER_FREE_OPS: frozenset[str] = frozenset({"none", "skip_connect", "avg_pool_3x3"})
NUM_NODES = 4
#: Edges as (to_node, from_node), in arch-string order.
EDGES: tuple[tuple[int, int], ...] = tuple((j, i) for j in range(1, NUM_NODES) for i in range(j))
NUM_EDGES = len(EDGES)  # 6
NUM_OPS = len(OPS)  # 5
NUM_CELLS = NUM_OPS**NUM_EDGES  # 15,625


@dataclass(frozen=True)
class Cell:
    """One NB201 cell: the op name on each of the six edges, in arch-string order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != NUM_EDGES:
            raise UserError(f"a cell has {NUM_EDGES} edges, got {len(self.ops)}")
        for (j, i), op in zip(EDGES, self.ops):
            if op not in OPS:
                raise UserError(f"unknown op {op!r} on edge {j}<-{i} (ops: {', '.join(OPS)})")

    # -- conversions ---------------------------------------------------------
    @classmethod
    def from_string(cls, text: str) -> Cell:
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (validated, clear errors)."""
        text = text.strip()
        nodes = text.split("+")
        if len(nodes) != NUM_NODES - 1:
            raise UserError(
                f"malformed arch string {text!r}: expected {NUM_NODES - 1} node groups "
                "joined by '+', e.g. |nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|...|"
            )
        ops: list[str] = []
        for j, group in enumerate(nodes, start=1):
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise UserError(f"malformed node {j} in arch string: {group!r} must be |op~i|...|")
            tokens = group[1:-1].split("|")
            if len(tokens) != j:
                raise UserError(f"node {j} needs {j} incoming edges, got {len(tokens)} in {group!r}")
            for i, token in enumerate(tokens):
                op, sep, src = token.partition("~")
                if not sep or src != str(i):
                    raise UserError(f"malformed edge token {token!r} on edge {j}<-{i}: expected 'op~{i}'")
                if op not in OPS:
                    raise UserError(f"unknown op {op!r} on edge {j}<-{i} (ops: {', '.join(OPS)})")
                ops.append(op)
        return cls(tuple(ops))

    @classmethod
    def from_op_ids(cls, ids) -> Cell:
        """Build from six op ids (indices into :data:`OPS`)."""
        ids = [int(k) for k in ids]
        bad = [k for k in ids if not 0 <= k < NUM_OPS]
        if bad:
            raise UserError(f"op id {bad[0]} out of range 0..{NUM_OPS - 1}")
        return cls(tuple(OPS[k] for k in ids))

    @property
    def op_ids(self) -> tuple[int, ...]:
        return tuple(OPS.index(op) for op in self.ops)

    def __str__(self) -> str:
        groups = []
        k = 0
        for j in range(1, NUM_NODES):
            groups.append("|" + "|".join(f"{self.ops[k + i]}~{i}" for i in range(j)) + "|")
            k += j
        return "+".join(groups)

    # -- descriptions --------------------------------------------------------
    @property
    def num_parameter_free(self) -> int:
        """How many edges carry a parameter-free op (none, skip, pool)."""
        return sum(op in PARAMETER_FREE_OPS for op in self.ops)

    @property
    def num_skip_connections(self) -> int:
        """How many edges are skip_connect (the op DARTS collapses to)."""
        return self.ops.count("skip_connect")

    def edges(self) -> Iterator[tuple[int, int, str]]:
        """Yield ``(to_node, from_node, op)`` for the six edges."""
        for (j, i), op in zip(EDGES, self.ops):
            yield j, i, op


def all_cells() -> Iterator[Cell]:
    """Every cell of the space, in base-5 op-id order (NOT the benchmark index order)."""
    for code in range(NUM_CELLS):
        ids = []
        for _ in range(NUM_EDGES):
            code, r = divmod(code, NUM_OPS)
            ids.append(r)
        yield Cell.from_op_ids(ids)


def random_cell(rng: random.Random) -> Cell:
    """A uniformly random cell drawn from ``rng``."""
    return Cell(tuple(rng.choice(OPS) for _ in range(NUM_EDGES)))
