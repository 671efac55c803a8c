"""A stop lands on the next step, not the next epoch: SIGTERM or Ctrl-C (or a
caller's stop request) writes a checkpoint right after the step in progress, the
command ends with its usual one line, and ``--resume`` ends bit for bit where an
uninterrupted run ends."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from nasbench_sd.errors import Stopped
from nasbench_sd.search import run_search
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.search.stop import StopRequest, stop_on_signals
from nasbench_sd.testing.contract import single_thread
from nasbench_sd.testing.faults import fault_env
from searchkit import STATE, assert_same_end, tiny_config, tiny_data

NASBENCH_SD = [sys.executable, "-c", "from nasbench_sd.cli import main; main()"]
#: sd-darts (teacher store in its state) on 64 images per half, batch 16: 3 epochs of 4 steps.
SEARCH = ["search", "--method", "sd-darts", "--preset", "cpu", "--seed", "3", "-q", "--set", "channels=4",
          "--set", "cells_per_stage=1", "--set", "train_limit=64", "--set", "batch_size=16", "--set", "epochs=3",
          "--set", "method.warmup=1", "--set", "method.K=2"]


def search(out, data_root, *extra, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*NASBENCH_SD, *SEARCH, "--data-root", str(data_root), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cifar10_format):
    out = tmp_path_factory.mktemp("stop") / "full"
    r = search(out, cifar10_format)
    assert r.returncode == 0, r.stderr
    return RunDir(out)


@pytest.mark.parametrize(("action", "step", "code", "words"), [
    ("term", 6, 143, "terminated (SIGTERM)"),  # epoch 2, after its 2nd of 4 steps
    ("int", 3, 130, "interrupted"),  # epoch 1, after its 3rd step: no checkpoint existed before
])
def test_a_signal_mid_epoch_checkpoints_that_step_and_resume_ends_the_same(tmp_path, cifar10_format, uninterrupted,
                                                                           action, step, code, words):
    cut, marker = tmp_path / "cut", tmp_path / "marker"
    stopped = search(cut, cifar10_format, env=fault_env(f"step:{step}={action}", marker))
    assert marker.read_text() == f"step {step}\n"  # the signal was sent there, by the process itself
    assert stopped.returncode == code, stopped.stderr
    assert stopped.stderr.count("\n") == 1 and stopped.stderr.startswith(f"nasbench-sd: {words}; finished work is kept")
    state = RunDir(cut).load_checkpoint()
    epoch, within = divmod(step, 4)  # the checkpoint is of the step the signal arrived in
    assert state["epoch"] == epoch - 1 and state["partial"]["step"] == within
    assert (state["loader"]["epoch"], state["loader"]["step"]) == (epoch, within)
    assert state["partial"]["stats"]["n_seen"] == 16 * within
    assert [r["epoch"] for r in RunDir(cut).metrics()] == list(range(1, epoch + 1))
    resumed = search(cut, cifar10_format, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    # every state and record (not torch's global RNG: the run draws nothing from it, and a fresh
    # process's is its own)
    assert_same_end(uninterrupted, RunDir(cut), keys=tuple(k for k in STATE if k != "torch_rng"))


class StopAfter:
    """A stop request that turns on at its n-th poll (the loop polls at every epoch's
    start and after every step)."""

    def __init__(self, n: int):
        self.n, self.polls = n, 0

    def __call__(self) -> bool:
        self.polls += 1
        return self.polls >= self.n


@pytest.mark.parametrize(("polls", "partial_step"), [
    (3, 2),  # epoch start, steps 1 and 2 of 3: mid-epoch
    (4, None),  # after the epoch's last step: the epoch ends, its checkpoint is the stop's
])
def test_a_stop_request_from_the_caller(tmp_path, polls, partial_step):
    cfg = tiny_config("gdas", epochs="3")  # 48 samples, batch 16: 3 steps per epoch
    with single_thread():
        full = run_search(cfg, tmp_path / "full", data=tiny_data(), quiet=True)
        with pytest.raises(Stopped, match="stopped after step 2 of epoch 1" if partial_step else
                           "stopped at the start of epoch 2"):
            run_search(cfg, tmp_path / "cut", data=tiny_data(), quiet=True, stop=StopAfter(polls))
        state = RunDir(tmp_path / "cut").load_checkpoint()
        assert (state.get("partial") or {}).get("step") == partial_step
        assert state["epoch"] == (-1 if partial_step else 0)
        again = run_search(cfg, tmp_path / "cut", data=tiny_data(), quiet=True, resume=True)
    assert again["cell"] == full["cell"]
    # (the global RNG state is the caller's, not the run's: this process's differs from a fresh one's)
    assert_same_end(RunDir(tmp_path / "full"), RunDir(tmp_path / "cut"), keys=tuple(k for k in STATE
                                                                                    if k != "torch_rng"))


def test_stop_on_signals_sets_the_request_and_a_second_signal_acts_as_before():
    stop = StopRequest()
    before = signal.getsignal(signal.SIGINT)
    with stop_on_signals(stop):
        signal.raise_signal(signal.SIGINT)
        assert stop() and stop.signum == signal.SIGINT and stop.reason == "SIGINT received"
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C twice: at once, as without the block
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
