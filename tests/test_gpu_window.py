"""The GPU-window command (benchmarks/gpu_window.py, issue 25): a budget of seconds
stops the runs with checkpoints, the pack carries them to a fresh directory, where
another process resumes them; every run ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_window.py"
SMOKE = ["channels=4", "cells_per_stage=1", "train_limit=128", "batch_size=32", "epochs=10"]


def window(*args) -> subprocess.CompletedProcess:
    code = ("import sys, runpy, torch; torch.set_num_threads(1); sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code, str(BENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=900)


def records(root: Path) -> dict:
    out = {}
    for p in sorted(root.glob("*/seed-*/result.json")):
        r = json.loads(p.read_text())
        lines = (p.parent / "metrics.jsonl").read_text().splitlines()
        epochs = [{k: v for k, v in json.loads(x).items() if k != "epoch_seconds"} for x in lines]
        out[p.parent.relative_to(root).as_posix()] = (r["cell"], r["benchmark"], epochs)
    return out


def test_windows_in_fresh_directories_end_where_an_uninterrupted_run_ends(tmp_path, cifar10_format):
    whole = tmp_path / "whole"
    sets = [a for s in SMOKE for a in ("--set", s)]
    r = subprocess.run([sys.executable, "-c", "import torch; torch.set_num_threads(1); "
                        "from nasbench_sd.cli import main; main()", "run", "-m", "darts-v1,sd-darts", "--seeds", "2",
                        "--preset", "cpu", "--device", "cpu", "--data-root", str(cifar10_format), "--out", str(whole),
                        *sets, "-q"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    stopped, k = 0, 0
    while True:  # short windows until two of them stopped runs, then one that finishes; each in a fresh folder
        k += 1
        out, pack = tmp_path / f"machine-{k}" / "paper", tmp_path / f"machine-{k}" / "export"
        if k > 1:
            applied = window("apply", tmp_path / f"machine-{k - 1}" / "export", "--to", out)
            assert applied.returncode == 0, applied.stderr
        budget = 600 if stopped >= 2 or k > 6 else 2
        w = window("run", "--smoke", "--device", "cpu", "--budget", budget, "--margin", 0, "--seeds", 2,
                   "--data-root", cifar10_format, "--out", out, "--export", pack, "-q")
        assert w.returncode == 0, w.stderr
        info = json.loads((pack / "window.json").read_text())
        assert info["device"].startswith("CPU") and info["budget_s"] == budget
        if info["stopped"]:
            stopped += 1
            for run in info["stopped"]:  # a stopped run's checkpoint travels with the pack
                assert f"{run}/checkpoint.pt" in info["pack"]["files"]
        if len(info["finished"]) == 4:
            break
    assert stopped >= 1, "no window was short enough to stop a run"
    final = tmp_path / "final"
    assert window("apply", pack, "--to", final).returncode == 0
    assert not list(final.rglob("checkpoint*.pt"))  # finished runs need no checkpoint
    assert records(final) == records(whole)
    assert len(records(whole)) == 4


def test_apply_refuses_a_pack_that_writes_outside_its_target(tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"x"
        info = tarfile.TarInfo("../evil.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "runs.tar.gz.000").write_bytes(buf.getvalue())
    r = window("apply", tmp_path / "pack", "--to", tmp_path / "to")
    assert r.returncode == 2 and "refused" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "evil.txt").exists()
