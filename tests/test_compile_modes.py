"""``compile`` and ``compile_mode`` (issue 25, item 3): the search steps through the
supernet compiled in the mode asked for, one CUDA-graph step mark per step under the
graph modes, and a compiled search is the same search (TorchDynamo's eager backend on
the CPU; inductor and CUDA graphs need a GPU run, benchmarks/gpu_search.py)."""

from __future__ import annotations

import json

import pytest
import torch

import nasbench_sd.search.compiled as compiled_mod
from nasbench_sd.errors import UserError
from nasbench_sd.presets import build_run_config
from nasbench_sd.search import run_search, run_seed_batch
from nasbench_sd.testing.seedbatch import toy_search_data

TOY = {"channels": "4", "cells_per_stage": "1", "batch_size": "16", "epochs": "2", "drop_last": "true"}


def test_an_unknown_mode_is_refused_and_the_default_is_torch_compiles():
    with pytest.raises(UserError, match="compile_mode"):
        build_run_config("darts-v1", "cpu", 0, {"compile": "true", "compile_mode": "fastest"})
    assert build_run_config("darts-v1", "cpu", 0, {}).search.compile_mode == "default"


def test_the_loops_compile_in_the_mode_asked_and_mark_each_step(tmp_path, monkeypatch):
    calls, marks = [], []

    def fake_compile(net, **kw):  # inductor needs minutes on a CPU: record the call, step the plain net
        calls.append(kw)
        return net

    monkeypatch.setattr(compiled_mod.torch, "compile", fake_compile)
    monkeypatch.setattr(compiled_mod.torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    data = toy_search_data(40)  # 2 steps per epoch x 2 epochs
    sets = {**TOY, "compile": "true", "compile_mode": "reduce-overhead"}
    run_search(build_run_config("darts-v1", "cpu", 0, sets), tmp_path / "one", data=data, quiet=True)
    cfgs = [build_run_config("darts-v1", "cpu", s, sets) for s in (0, 1)]
    run_seed_batch(cfgs, [tmp_path / "b0", tmp_path / "b1"], data=data, quiet=True)
    assert calls == [{"mode": "reduce-overhead"}] * 2 and len(marks) == 8  # 4 steps in each loop
    # the other modes: compiled as asked, no step marks (no CUDA graphs to release)
    for mode, kw, marked in [("max-autotune", {"mode": "max-autotune"}, 1), ("default", {"mode": "default"}, 0),
                             ("eager", {"backend": "eager"}, 0)]:
        calls.clear(), marks.clear()
        s = build_run_config("darts-v1", "cpu", 0, {**TOY, "compile": "true", "compile_mode": mode}).search
        compiled_mod.compiled(torch.nn.Linear(1, 1), s)
        compiled_mod.step_begin(s)
        assert calls == [kw] and len(marks) == marked
    calls.clear(), marks.clear()
    s = build_run_config("darts-v1", "cpu", 0, {**TOY, "compile_mode": "reduce-overhead"}).search  # compile off
    net = torch.nn.Linear(1, 1)
    assert compiled_mod.compiled(net, s) is net
    compiled_mod.step_begin(s)
    assert calls == [] and marks == []


@pytest.mark.usefixtures("one_thread")
def test_a_search_compiled_with_the_eager_backend_is_the_same_search(tmp_path):
    data = toy_search_data(40)
    plain = run_search(build_run_config("darts-v1", "cpu", 0, TOY), tmp_path / "plain", data=data, quiet=True)
    torch._dynamo.reset()
    sets = {**TOY, "compile": "true", "compile_mode": "eager"}
    traced = run_search(build_run_config("darts-v1", "cpu", 0, sets), tmp_path / "traced", data=data, quiet=True)
    assert traced["config"]["search"]["compile_mode"] == "eager" and traced["cell"] == plain["cell"]
    epochs = [[json.loads(x) for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
              for d in ("plain", "traced")]
    assert len(epochs[0]) == len(epochs[1]) == 2
    for x, y in zip(*epochs):
        for key in ("train_loss", "valid_loss"):
            assert y[key] == pytest.approx(x[key], rel=1e-5)
        assert sum(y["op_probs"], []) == pytest.approx(sum(x["op_probs"], []), rel=1e-5)
