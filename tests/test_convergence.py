"""Convergence, measured and reported (issue 26, item 2): result.json's ``convergence`` block
equals a recomputation from the run's own metrics.jsonl; runs made before the block get it
from there; ``show`` and ``table`` print it and mark a run that did not converge; RSPS reports
the rank agreement of its candidates' scores on two disjoint valid samples."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import torch
from scipy.stats import kendalltau
from test_rsps import KnownAccuracyNet, _known_ctx
from test_table import run_cli, write_result

from nasbench_sd.cells import NUM_EDGES, NUM_OPS, Cell
from nasbench_sd.convergence import convergence_from_records, is_converged, last_quarter
from nasbench_sd.methods.rsps import RSPS, RSPSConfig
from nasbench_sd.ranking import kendall_tau_b
from nasbench_sd.search import run_search
from searchkit import tiny_config, tiny_data

CELLS = [str(Cell.from_op_ids([(i + k) % NUM_OPS for k in range(NUM_EDGES)])) for i in range(5)]


def records(cells: list[str], peak: float = 0.6) -> list[dict]:
    """Per-epoch records with the given cells; the last epoch's op probabilities have ``peak``
    on one op of every edge."""
    rest = (1 - peak) / (NUM_OPS - 1)
    probs = [[peak if o == e % NUM_OPS else rest for o in range(NUM_OPS)] for e in range(NUM_EDGES)]
    return [{"epoch": i + 1, "cell": c, "op_probs": probs} for i, c in enumerate(cells)]


@pytest.mark.parametrize("epochs, quarter", [(40, 10), (49, 13), (10, 3), (4, 1), (2, 1), (1, 1), (0, 0)])
def test_the_last_quarter_is_the_last_ceil_e_over_4_epochs(epochs, quarter):
    assert last_quarter(epochs) == quarter


def test_a_converged_and_a_wandering_run():
    settled = records([CELLS[0]] * 6 + [CELLS[1]] * 3 + [CELLS[2]] * 3)  # 12 epochs: last 3 hold one cell
    block = convergence_from_records(settled)
    assert block == {"distinct_cells_last_quarter": 1, "last_quarter_epochs": 3, "mean_max_op_prob": 0.6}
    assert is_converged(block) is True
    two = convergence_from_records(records([CELLS[0]] * 10 + [CELLS[1]] * 2))
    assert two["distinct_cells_last_quarter"] == 2 and is_converged(two) is True  # at most 2: converged
    wandering = convergence_from_records(records(CELLS[:4] * 3, peak=0.25))
    assert wandering["distinct_cells_last_quarter"] == 3 and is_converged(wandering) is False
    assert wandering["mean_max_op_prob"] == pytest.approx(0.25)
    no_probs = convergence_from_records([{"epoch": 1, "cell": CELLS[0], "op_probs": None}])
    assert no_probs["mean_max_op_prob"] is None and is_converged(no_probs) is True
    assert is_converged(convergence_from_records([])) is None  # random search: nothing to judge
    with pytest.raises(ValueError):
        convergence_from_records(settled, {"mean_max_op_prob": 1.0})  # a method may only add figures


def test_kendall_tau_b_equals_scipys_with_ties():
    rng = random.Random(0)
    for n in (2, 5, 12, 40):
        x = [rng.choice([0.0, 0.25, 0.5, 0.75]) for _ in range(n)]
        y = [v + rng.choice([0.0, 0.25, -0.25]) for v in x]
        ref = kendalltau(x, y).statistic
        if ref != ref:  # nan: undefined
            assert kendall_tau_b(x, y) is None
        else:
            assert kendall_tau_b(x, y) == pytest.approx(ref, abs=1e-12)
    assert kendall_tau_b([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None


class NoisyNet(KnownAccuracyNet):
    """Accuracy of a cell = its quality plus an offset that depends on the images scored."""

    @staticmethod
    def right(ops: list[int], ids: list[int]) -> int:
        key = sum(ids) * 31 + sum(o * (e + 3) for e, o in enumerate(ops))
        offset = (key * 2654435761) % 17 - 8
        return max(0, min(len(ids), round(KnownAccuracyNet.quality(ops) * len(ids) / 2) + offset + 8))

    def forward(self, x, weights, active):
        ops, ids = active.tolist(), x[:, 0, 0, 1].long().tolist()
        self.calls.append((ops, ids, self.training))
        labels = x[:, 0, 0, 0].long()
        n_right = self.right(ops, ids)
        pred = torch.cat([labels[:n_right], (labels[n_right:] + 1) % 10])
        return torch.nn.functional.one_hot(pred, 10).float()


def test_rsps_rank_agreement_on_two_disjoint_samples_equals_an_independent_recomputation():
    net, ctx = _known_ctx()
    noisy = NoisyNet()
    ctx.network = noisy
    m = RSPS(RSPSConfig(candidates=15, eval_batch=32), seed=0)
    best = m.genotype()
    out = m.convergence_diagnostics(ctx)
    assert m.genotype() == best  # the diagnostic changes nothing
    calls = noisy.calls
    assert len(calls) == 30 and not any(training for _, _, training in calls)
    cells = [c[0] for c in calls[:15]]
    assert cells == [c[0] for c in calls[15:]]  # the same candidates on A, then on B
    sample_a, sample_b = set(calls[0][1]), set(calls[15][1])
    assert all(set(c[1]) == sample_a for c in calls[:15]) and all(set(c[1]) == sample_b for c in calls[15:])
    assert len(sample_a) == len(sample_b) == 32 and not sample_a & sample_b  # disjoint
    a = [NoisyNet.right(ops, ids) / len(ids) for ops, ids, _ in calls[:15]]
    b = [NoisyNet.right(ops, ids) / len(ids) for ops, ids, _ in calls[15:]]
    assert out["rank_agreement_kendall_tau"] == pytest.approx(kendalltau(a, b).statistic, abs=1e-6)
    assert -1 < out["rank_agreement_kendall_tau"] < 1
    assert out["rank_agreement_same_best"] == (a.index(max(a)) == b.index(max(b)))
    assert out["rank_agreement_candidates"] == 15 and out["rank_agreement_images"] == 32
    # a network whose scores do not depend on the images ranks identically on both samples
    net, ctx = _known_ctx()
    exact = RSPS(RSPSConfig(candidates=15, eval_batch=32), seed=0).convergence_diagnostics(ctx)
    assert exact["rank_agreement_kendall_tau"] == 1.0 and exact["rank_agreement_same_best"] is True


@pytest.mark.parametrize("method", ["darts-v1", "rsps"])
def test_the_loop_records_convergence_equal_to_its_metrics(method, tmp_path, one_thread):
    out = tmp_path / method
    result = run_search(tiny_config(method, epochs="5"), out, data=tiny_data(), quiet=True)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    block = result["convergence"]
    assert {k: block[k] for k in ("distinct_cells_last_quarter", "last_quarter_epochs", "mean_max_op_prob")} == \
        convergence_from_records(lines)
    assert block["last_quarter_epochs"] == 2
    assert block["distinct_cells_last_quarter"] == len({r["cell"] for r in lines[-2:]})
    assert json.loads((out / "result.json").read_text())["convergence"] == block
    if method == "rsps":
        assert block["mean_max_op_prob"] is None and "rank_agreement_kendall_tau" in block
        assert block["rank_agreement_candidates"] == 10
    else:
        assert block["mean_max_op_prob"] == pytest.approx(
            sum(max(row) for row in lines[-1]["op_probs"]) / NUM_EDGES, abs=1e-6)


# -- show and table print it -------------------------------------------------------------------------------
def _write_run(root: Path, group: str, seed: int, cells: list[str], recorded: bool = False) -> Path:
    result = write_result(root, group, seed, "darts-v1")
    d = root / group / f"seed-{seed}"
    recs = records(cells, peak=0.2 + 0.1 * seed)
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (d / "config.json").write_text(json.dumps(result["config"]))
    if recorded:
        (d / "result.json").write_text(json.dumps(dict(result, convergence=convergence_from_records(recs))))
    return d


@pytest.fixture
def mixed(tmp_path) -> Path:
    """darts-v1: two converged runs (one recorded, one from metrics.jsonl) and a wandering one."""
    root = tmp_path / "exp"
    _write_run(root, "darts-v1", 0, [CELLS[0]] * 8, recorded=True)
    _write_run(root, "darts-v1", 1, [CELLS[1]] * 6 + [CELLS[2]] * 2)
    _write_run(root, "darts-v1", 2, CELLS[:4] * 3)  # 12 epochs: 3 cells in the last 3
    return root


def test_show_prints_the_convergence_of_a_converged_and_a_wandering_run(mixed, capsys):
    code, out, _ = run_cli(capsys, "show", mixed / "darts-v1" / "seed-0")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("convergence"))
    assert "result.json" in line and "converged;" in line and "last 2 epochs" in line and ": 1 " in line
    code, out, _ = run_cli(capsys, "show", mixed / "darts-v1" / "seed-2")
    line = next(x for x in out.splitlines() if x.startswith("convergence"))
    assert "from metrics.jsonl" in line and "NOT converged" in line and "last 3 epochs" in line and ": 3 " in line


def test_table_marks_the_row_with_a_run_that_did_not_converge(mixed, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "table", mixed, "--out", tmp_path / "t", "--no-published", "--no-best")
    assert code == 0
    row = next(x for x in out.splitlines() if x.startswith("| darts-v1"))
    header = next(x for x in out.splitlines() if x.startswith("| method"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[cols.index("converged")] == "2/3†"
    assert cells[cols.index("max p")] == f"{(0.2 + 0.3 + 0.4) / 3:.2f}"
    assert "at most 2 distinct derived cells" in out and "2 run(s) predate" in out
    seeds = list(csv.DictReader((tmp_path / "t" / "table-seeds.csv").open()))
    verdicts = {r["seed"]: (r["converged"], r["distinct_cells_last_quarter"], r["convergence_source"])
                for r in seeds if r["column"] == "c10_test"}
    assert verdicts == {"0": ("True", "1", "result.json"), "1": ("True", "1", "metrics.jsonl"),
                        "2": ("False", "3", "metrics.jsonl")}
    table = list(csv.DictReader((tmp_path / "t" / "table.csv").open()))[0]
    assert (table["converged"], table["converged_of"], table["distinct_cells_last_quarter"]) == ("2", "3", "1 1 3")
