"""A seed batch is as robust as a single run: a requested stop (a signal, a GPU
window's end) checkpoints every seed at that step and the batch resumes to the
uninterrupted end; a stopped seed also resumes alone; a batch whose worker died
is retried whole and ends as an uninterrupted batch; each seed has its own live
log and the convergence block its own run writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from livelog import tb_scalars, tensorboard

from nasbench_sd.errors import Stopped
from nasbench_sd.loggers import LogSpec
from nasbench_sd.presets import build_run_config
from nasbench_sd.search import run_search, run_seed_batch
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.faults import fault_env
from nasbench_sd.testing.seedbatch import TOY_SETS, default_dtype, toy_search_data
from searchkit import STATE, assert_same_end

pytestmark = pytest.mark.usefixtures("one_thread")


class StopAfter:
    """A stop request that answers True from its ``n``-th poll on (the loops poll once at
    each epoch's start and once after each step)."""

    def __init__(self, n: int) -> None:
        self.n, self.polls = n, 0

    def __call__(self) -> bool:
        self.polls += 1
        return self.polls >= self.n


def configs(seeds=(0, 1)):
    return [build_run_config("sd-darts", "cpu", s, {**TOY_SETS, "epochs": "3", "method.warmup": "1"})
            for s in seeds]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    with default_dtype(torch.float64):
        run_seed_batch(configs(), [root / "s0", root / "s1"], data=toy_search_data(), quiet=True)
    return root


# toy data: 3 steps per epoch. Polls: epoch 1 start (1), its steps (2, 3, 4), epoch 2 start (5), steps (6, 7, 8)
STOPS = {"mid-epoch (epoch 2, after step 1)": (6, 1), "at an epoch boundary (start of epoch 2)": (5, None)}


@pytest.mark.parametrize("poll,step", STOPS.values(), ids=STOPS.keys())
def test_a_stopped_batch_resumes_to_the_uninterrupted_end(poll, step, uninterrupted, tmp_path):
    outs = [tmp_path / "s0", tmp_path / "s1"]
    with default_dtype(torch.float64):
        with pytest.raises(Stopped):
            run_seed_batch(configs(), outs, data=toy_search_data(), quiet=True, stop=StopAfter(poll))
        for out in outs:
            state = RunDir(out).load_checkpoint()
            assert state["epoch"] == 0 and (state.get("partial") or {}).get("step") == step
            assert not (out / "result.json").exists()
        run_seed_batch(configs(), outs, data=toy_search_data(), quiet=True, resume=True)
    for i, out in enumerate(outs):
        assert_same_end(RunDir(out), RunDir(uninterrupted / f"s{i}"), keys=tuple(k for k in STATE if k != "torch_rng"))


def test_a_seed_of_a_batch_stopped_mid_epoch_resumes_alone(uninterrupted, tmp_path):
    """The stopped seed's checkpoint holds its own statistics of the epoch so far (``partial``):
    resumed as an ordinary run, it ends where the batch ends (float64, to rounding)."""
    outs = [tmp_path / "s0", tmp_path / "s1"]
    with default_dtype(torch.float64):
        with pytest.raises(Stopped):
            run_seed_batch(configs(), outs, data=toy_search_data(), quiet=True, stop=StopAfter(6))
        alone = run_search(configs()[1], outs[1], data=toy_search_data(), quiet=True, resume=True)
    batch = RunDir(uninterrupted / "s1")
    assert alone["cell"] == batch.result()["cell"] and "seed_batch" not in alone["provenance"]
    for a, b in zip(RunDir(outs[1]).metrics(), batch.metrics()):
        for key in ("train_loss", "train_acc", "valid_loss", "valid_acc", "kd_train", "kd_valid"):
            if key in b:
                assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-9), (a["epoch"], key)


def test_each_seed_has_its_own_live_log_and_convergence_block(tmp_path):
    pytest.importorskip("tensorboard")
    with default_dtype(torch.float64):
        cfgs = configs()
        results = run_seed_batch(cfgs, [tmp_path / "s0", tmp_path / "s1"], data=toy_search_data(), quiet=True,
                                 logs=[LogSpec("tensorboard", str(tmp_path / f"tb{s}")) for s in (0, 1)])
        alone = run_search(cfgs[0], tmp_path / "alone", data=toy_search_data(), quiet=True)
    for s, result in enumerate(results):
        records = RunDir(tmp_path / f"s{s}").metrics()
        scalars = tb_scalars(tensorboard(tmp_path / f"tb{s}"))
        assert scalars["loss/train"] == [(r["epoch"], pytest.approx(r["train_loss"])) for r in records]
        assert set(result["convergence"]) == set(alone["convergence"])
    assert results[0]["convergence"]["distinct_cells_last_quarter"] >= 1


NASBENCH_SD = [sys.executable, "-c", "import torch; torch.set_num_threads(1); from nasbench_sd.cli import main; main()"]
TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=64", "--set", "batch_size=32",
        "--set", "epochs=2", "-q"]


def run(out, data_root, *extra, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*NASBENCH_SD, "run", "-m", "darts-v1", "--seeds", "2", "--batch-seeds", "2",
                           "--data-root", str(data_root), "--out", str(out), *TINY, *map(str, extra)],
                          capture_output=True, text=True, timeout=900, env=env)


def records(root, seed):
    run = RunDir(root / f"darts-v1/seed-{seed}")
    return [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in run.metrics()]


def test_a_batch_whose_worker_died_is_retried_whole_and_ends_as_uninterrupted(tmp_path, cifar10_format):
    whole = tmp_path / "whole"
    assert run(whole, cifar10_format).returncode == 0
    out = tmp_path / "exp"
    # the batch's worker is SIGKILLed after its 3rd step (epoch 2, after epoch 1's checkpoints), once
    r = run(out, cifar10_format, "--workers", "2",
            env=fault_env("step:3@darts-v1/seed-0", tmp_path / "marker", once=True))
    assert r.returncode == 0, r.stderr
    runs = json.loads((out / "experiment.json").read_text())["runs"]
    for seed in (0, 1):
        attempts = [(a["outcome"], a["resumed"]) for a in runs[f"darts-v1/seed-{seed}"]["attempts"]]
        assert attempts == [("died", False), ("finished", True)]
        assert runs[f"darts-v1/seed-{seed}"]["status"] == "finished"
        assert records(out, seed) == records(whole, seed)
        assert RunDir(out / f"darts-v1/seed-{seed}").result()["provenance"]["seed_batch"]["seeds"] == [0, 1]
