"""A checkpoint is data, never code: every checkpoint is loaded weights-only, and
one that needs anything beyond tensors and plain containers (here: one whose
unpickling would create a file) is refused with one line naming it, exit 2,
before anything of it runs; ``search --resume``, ``run`` and ``show`` alike."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import pytest
import torch

from nasbench_sd.errors import UnsafeCheckpointError
from nasbench_sd.io import checksummed, unframe
from nasbench_sd.search import run_search
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.contract import single_thread
from nasbench_sd.testing.faults import fault_env
from searchkit import STATE, assert_same_end, tiny_config, tiny_data

NASBENCH_SD = [sys.executable, "-c", "from nasbench_sd.cli import main; main()"]
TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=64", "--set", "batch_size=32",
        "--set", "epochs=2", "-q"]


class CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: the file appears if the checkpoint is unpickled unsafely."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def plant(run_dir, witness) -> None:
    """Replace the run's newest checkpoint with a valid frame (right checksum) around a state that
    holds a CreatesAFile: only weights-only loading tells it from a good one."""
    state = torch.load(io.BytesIO(unframe((run_dir / "checkpoint.pt").read_bytes())), weights_only=True)
    buf = io.BytesIO()
    torch.save({**state, "records": [*state["records"], CreatesAFile(witness)]}, buf)
    (run_dir / "checkpoint.pt").write_bytes(checksummed(buf.getvalue()))


def cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*NASBENCH_SD, *map(str, args)], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def stopped_experiment(tmp_path_factory, cifar10_format):
    """An experiment of darts-v1 seed 0 stopped by SIGTERM after its 3rd step (epoch 2 of 2,
    step 1 of 2): checkpoint.pt is that step's, checkpoint.prev.pt epoch 1's."""
    out = tmp_path_factory.mktemp("safe") / "exp"
    r = cli("run", "--method", "darts-v1", "--seeds", "1", "--data-root", cifar10_format, "--out", out, *TINY,
            env=fault_env("step:3=term", out.parent / "marker"))
    assert r.returncode == 143, r.stderr
    run = out / "darts-v1/seed-0"
    assert sorted(p.name for p in run.glob("checkpoint*")) == ["checkpoint.prev.pt", "checkpoint.pt"]
    return out


@pytest.fixture
def planted(stopped_experiment, tmp_path):
    """A copy of the stopped experiment whose newest checkpoint would create ``witness``."""
    out = tmp_path / "exp"
    shutil.copytree(stopped_experiment, out)
    witness = tmp_path / "created-by-the-checkpoint"
    plant(out / "darts-v1/seed-0", witness)
    return out, witness


def one_line_naming(err: str, path) -> bool:
    return err.count("\n") == 1 and err.startswith("nasbench-sd: error: checkpoint ") and f"{path} refused" in err


def test_search_resume_refuses_it(planted, cifar10_format):
    out, witness = planted
    run = out / "darts-v1/seed-0"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != ".lock"}
    r = cli("search", "--method", "darts-v1", "--preset", "cpu", "--seed", "0", "--data-root", cifar10_format,
            "--out", run, "--resume", *TINY)
    assert r.returncode == 2, r.stderr
    assert one_line_naming(r.stderr, run / "checkpoint.pt"), r.stderr
    assert "needs the Python object io.open" in r.stderr  # what it would have needed
    assert not witness.exists()
    # refused, not skipped: the previous (good) checkpoint was not used, nothing was written
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != ".lock"} == before


def test_run_refuses_it_before_any_run_starts(planted, cifar10_format):
    out, witness = planted
    manifest = (out / "experiment.json").read_bytes()
    r = cli("run", "--method", "darts-v1", "--seeds", "2", "--data-root", cifar10_format, "--out", out, *TINY)
    assert r.returncode == 2, r.stderr
    assert one_line_naming(r.stderr, out / "darts-v1/seed-0/checkpoint.pt"), r.stderr
    assert not witness.exists()
    assert not (out / "darts-v1/seed-1").exists() and (out / "experiment.json").read_bytes() == manifest


def test_show_refuses_it(planted):
    out, witness = planted
    r = cli("show", out / "darts-v1/seed-0")
    assert r.returncode == 2 and one_line_naming(r.stderr, out / "darts-v1/seed-0/checkpoint.pt"), r.stderr
    assert not witness.exists()


def test_unsafe_newest_is_refused_even_with_a_good_previous_one(tmp_path):
    cfg = tiny_config("darts-v1", epochs="3")
    with single_thread():
        run_search(cfg, tmp_path / "r", data=tiny_data(), quiet=True, max_steps=7)  # epochs 1 and 2 checkpointed
    plant(tmp_path / "r", tmp_path / "witness")
    with pytest.raises(UnsafeCheckpointError, match="checkpoint.pt refused: it needs the Python object"):
        RunDir(tmp_path / "r").load_checkpoint()
    assert not (tmp_path / "witness").exists()
    # a corrupt newest file (bad checksum) is still skipped for the previous one, with a warning
    blob = bytearray((tmp_path / "r/checkpoint.pt").read_bytes())
    blob[-3] ^= 1
    (tmp_path / "r/checkpoint.pt").write_bytes(bytes(blob))
    assert RunDir(tmp_path / "r").load_checkpoint(warn=False)["epoch"] == 0


def test_checkpoints_as_earlier_versions_wrote_them_load_and_resume_exactly(tmp_path):
    """Earlier versions saved the same plain state (tensors, generator ByteTensors, numbers,
    strings, lists, dicts) without ``code_revisions``; such a file loads weights-only and the
    run resumes to the same end."""
    cfg = tiny_config("sd-darts", epochs="3", **{"method.warmup": "1"})
    with single_thread():
        run_search(cfg, tmp_path / "full", data=tiny_data(), quiet=True)
        run_search(cfg, tmp_path / "old", data=tiny_data(), quiet=True, max_steps=4)  # epoch 1 checkpointed
        state = RunDir(tmp_path / "old").load_checkpoint()
        old = {k: state[k] for k in ("epoch", "network", "w_optimizer", "method", "loader", "torch_rng", "records",
                                     "elapsed")}
        buf = io.BytesIO()
        torch.save(old, buf)
        (tmp_path / "old/checkpoint.pt").write_bytes(checksummed(buf.getvalue()))
        run_search(cfg, tmp_path / "old", data=tiny_data(), quiet=True, resume=True)
    assert_same_end(RunDir(tmp_path / "full"), RunDir(tmp_path / "old"), keys=tuple(k for k in STATE
                                                                                    if k != "torch_rng"))
