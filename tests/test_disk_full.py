"""A full disk is a user's everyday fault: one line naming the path, exit code 2,
no traceback, the previous state intact, and the run resumable to the end an
uninterrupted run reaches. The fault is injected where a real full disk shows
it: the fsync of a file being written raises ENOSPC (or EDQUOT)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch

from nasbench_sd.cli import main
from nasbench_sd.errors import DiskFullError
from nasbench_sd.io import atomic_write_text
from nasbench_sd.search.rundir import RunDir

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")

TINY = ["--preset", "cpu", "--device", "cpu", "--seed", "1", "--quiet", "--set", "channels=4", "--set",
        "cells_per_stage=1", "--set", "train_limit=64", "--set", "batch_size=32", "--set", "epochs=3",
        "--set", "method.warmup=1", "--set", "method.K=1"]


def fill_disk(monkeypatch, prefix: str, after: int = 0, code: int = errno.ENOSPC) -> list[str]:
    """Make the fsync of the (after+1)-th and later files whose name starts with ``prefix`` fail."""
    real, seen = os.fsync, []

    def fsync(fd: int) -> None:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(prefix):
            seen.append(name)
            if len(seen) > after:
                raise OSError(code, os.strerror(code))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def cli(capsys, *args) -> tuple[int, str, str]:
    torch.manual_seed(0)  # in-process runs: the same global RNG state for each
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def one_clean_line(err: str, *fragments: str) -> None:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("nasbench-sd: error: disk full: cannot write"), err
    for f in fragments:
        assert f in err, err


def test_full_disk_at_a_checkpoint_then_resume_ends_where_an_uninterrupted_run_ends(
        tmp_path, cifar10_format, monkeypatch, capsys):
    search = ["search", "-m", "sd-darts", "--data-root", cifar10_format, *TINY]
    code, _, err = cli(capsys, *search, "--out", tmp_path / "full")
    assert code == 0, err

    cut = tmp_path / "cut"
    seen = fill_disk(monkeypatch, ".checkpoint.pt.", after=1)  # the second checkpoint finds the disk full
    code, _, err = cli(capsys, *search, "--out", cut)
    monkeypatch.undo()
    assert code == 2 and len(seen) == 2
    one_clean_line(err, str(cut / "checkpoint.pt"), "--resume")
    assert not list(cut.glob(".*.tmp")) and not (cut / "result.json").exists()
    assert RunDir(cut).load_checkpoint()["epoch"] == 0  # the previous checkpoint is intact

    code, _, err = cli(capsys, *search, "--out", cut, "--resume")
    assert code == 0, err
    a, b = RunDir(tmp_path / "full"), RunDir(cut)
    assert a.result()["cell"] == b.result()["cell"]
    for x, y in zip(a.load_checkpoint()["method"]["arch"], b.load_checkpoint()["method"]["arch"]):
        assert torch.equal(x, y)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rs]  # noqa: E731
    assert strip(a.metrics()) == strip(b.metrics())


def test_full_disk_in_an_experiment_is_one_line_and_rerunning_finishes(tmp_path, cifar10_format, monkeypatch,
                                                                      capsys):
    out = tmp_path / "exp"
    run = ["run", "-m", "sd-darts", "--seeds", "1", "--data-root", cifar10_format, "--out", out, *TINY[:2],
           *TINY[6:], "-q"]
    fill_disk(monkeypatch, ".result.json.", code=errno.EDQUOT)
    code, _, err = cli(capsys, *run)
    monkeypatch.undo()
    assert code == 2
    one_clean_line(err, str(out / "sd-darts" / "seed-0" / "result.json"), "quota exceeded")
    manifest = json.loads((out / "experiment.json").read_text())
    assert manifest["runs"]["sd-darts/seed-0"]["status"] == "failed"
    code, _, err = cli(capsys, *run)
    assert code == 0, err
    assert (out / "sd-darts" / "seed-0" / "result.json").is_file()


def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "table.csv"
    atomic_write_text(target, "old\n")
    fill_disk(monkeypatch, ".table.csv.")
    with pytest.raises(DiskFullError, match=f"disk full: cannot write {target}"):
        atomic_write_text(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_full_disk_anywhere_else_is_still_one_line(monkeypatch, capsys, tmp_path):
    """The command line's backstop: an ENOSPC from a write no helper wrapped."""
    from nasbench_sd.cli import cli as group

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "somewhere"))

    monkeypatch.setattr(group, "invoke", full)
    code, _, err = cli(capsys, "methods")
    one_clean_line(err, str(tmp_path / "somewhere"))
    assert code == 2
