"""``drop_last``: a search whose every step has the same shapes (what CUDA graphs and
``torch.compile`` need). By default the last, partial batch of an epoch is kept, as the
NB201 reference's DataLoader does; with ``drop_last=true`` it is dropped and the steps
before it are unchanged."""

from __future__ import annotations

import pytest
import torch

from nasbench_sd.cards import protocol_card
from nasbench_sd.config import PAPER
from nasbench_sd.data import SearchLoader
from nasbench_sd.errors import UserError
from nasbench_sd.presets import build_run_config
from nasbench_sd.search import run_search, run_seed_batch
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.seedbatch import toy_search_data


def epoch(loader):
    return [(b.x_train.clone(), b.y_train.clone(), b.x_valid.clone(), b.idx_valid.clone()) for b in loader]


def test_by_default_the_last_batch_is_partial_as_in_the_reference():
    assert PAPER.drop_last is False
    setting = next(s for s in protocol_card("darts-v1")["settings"] if s["key"] == "drop_last")
    assert setting["value"] is False and "without drop_last" in setting["source"]
    sizes = [b.y_train.shape[0] for b in SearchLoader(toy_search_data(50), 16, seed=0)]
    assert sizes == [16, 16, 16, 2]


def test_drop_last_keeps_the_full_steps_and_drops_the_partial_one():
    data = toy_search_data(50)
    kept = epoch(SearchLoader(data, 16, seed=3))
    loader = SearchLoader(data, 16, seed=3, drop_last=True)
    dropped = epoch(loader)
    assert len(loader) == 3 and [b[0].shape for b in dropped] == [torch.Size([16, 3, 8, 8])] * 3
    for a, b in zip(dropped, kept):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    second = epoch(loader)  # a new permutation: other samples are left out this time
    assert len(second) == 3 and not torch.equal(second[0][1], dropped[0][1])


def test_drop_last_needs_a_full_batch():
    with pytest.raises(UserError, match="drop_last"):
        SearchLoader(toy_search_data(8), 16, seed=0, drop_last=True)


@pytest.mark.usefixtures("one_thread")
def test_searches_with_static_shapes_run_plain_and_batched(tmp_path):
    data = toy_search_data(40)  # batches of 16: 2 full steps, 8 samples dropped per epoch
    sets = {"channels": "4", "cells_per_stage": "1", "batch_size": "16", "epochs": "2", "drop_last": "true"}
    cfgs = [build_run_config("darts-v1", "cpu", s, sets) for s in (0, 1)]
    alone = run_search(cfgs[0], tmp_path / "alone", data=data, quiet=True)
    batched = run_seed_batch(cfgs, [tmp_path / "b0", tmp_path / "b1"], data=data, quiet=True)
    assert alone["config"]["search"]["drop_last"] is True
    assert batched[0]["cell"] == alone["cell"]
    assert RunDir(tmp_path / "alone").load_checkpoint()["loader"]["step"] == 0  # two epochs of two full steps
    assert RunDir(tmp_path / "b0").load_checkpoint()["method"]["a_optimizer"]["state"][0]["step"] == 4
