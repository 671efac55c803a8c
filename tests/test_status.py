"""``nasbench-sd status``: each run's state comes from its directory (a live lock,
a checkpoint, a result), not from what experiment.json last said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_plots import run_cli
from test_table import write_result

from nasbench_sd.io import directory_lock
from nasbench_sd.presets import build_run_config


def unfinished(root: Path, group: str, seed: int, epochs_done: int, checkpoint: bool = True) -> Path:
    """A run directory part-way: config, some epoch records, maybe a checkpoint."""
    d = root / group / f"seed-{seed}"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(build_run_config("darts-v1", "cpu", seed, {}).to_dict()))
    (d / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "epoch_seconds": 10.0 + e}) + "\n"
                                             for e in range(1, epochs_done + 1)))
    if checkpoint:
        (d / "checkpoint.pt").write_bytes(b"x")
    return d


@pytest.fixture
def experiment(tmp_path):
    """darts-v1: seeds 0-1 finished, 2 running (lock held), 3 stopped at epoch 4 with a checkpoint,
    4 failed; sd-darts: seed 0 stopped without a checkpoint, seed 1 not started. The manifest still
    says everything is running, as it does after its process was killed."""
    root = tmp_path / "exp"
    finals = [write_result(root, "darts-v1", s, "darts-v1") for s in (0, 1)]
    running = unfinished(root, "darts-v1", 2, 7)
    unfinished(root, "darts-v1", 3, 4)
    unfinished(root, "sd-darts", 0, 2, checkpoint=False)
    runs = {f"{g}/seed-{s}": {"label": g, "method": g, "seed": s, "path": f"{g}/seed-{s}", "status": "running"}
            for g, s in [("darts-v1", k) for k in range(5)] + [("sd-darts", 0), ("sd-darts", 1)]}
    runs["darts-v1/seed-4"].update(status="failed", error="worker process failed: out of memory")
    (root / "experiment.json").write_text(json.dumps({"status": "running", "runs": runs}))
    with directory_lock(running):
        yield root, finals


def test_status_reads_each_run_from_its_directory(experiment, capsys):
    root, finals = experiment
    code, out, err = run_cli(capsys, "status", root, "--json")
    assert code == 0, err
    info = json.loads(out)
    states = {(r["label"], r["seed"]): r for r in info["runs"]}
    assert {k: r["state"] for k, r in states.items()} == {
        ("darts-v1", 0): "finished", ("darts-v1", 1): "finished", ("darts-v1", 2): "running",
        ("darts-v1", 3): "stopped", ("darts-v1", 4): "failed", ("sd-darts", 0): "stopped",
        ("sd-darts", 1): "not started"}
    epochs = build_run_config("darts-v1", "cpu", 0, {}).search.epochs
    assert (states[("darts-v1", 2)]["epoch"], states[("darts-v1", 2)]["epochs"]) == (7, epochs)
    mean_epoch = sum(10.0 + e for e in range(1, 8)) / 7  # epochs left x the mean epoch time so far
    assert states[("darts-v1", 2)]["seconds_left"] == pytest.approx((epochs - 7) * mean_epoch)
    assert states[("darts-v1", 0)]["seconds_left"] is None
    assert states[("darts-v1", 3)]["resumes"] and not states[("sd-darts", 0)]["resumes"]
    assert states[("darts-v1", 4)]["error"] == "worker process failed: out of memory"
    assert [states[("darts-v1", s)]["c10_test"] for s in (0, 1)] == [f["benchmark"]["c10_test"] for f in finals]
    assert info["counts"] == {"finished": 2, "running": 1, "stopped": 2, "failed": 1, "not started": 1}
    assert info["manifest_status"] == "running" and info["live"] is True  # seed 2's process holds its lock


def test_status_table(experiment, capsys):
    root, finals = experiment
    code, out, err = run_cli(capsys, "status", root)
    assert code == 0, err
    assert out.startswith(f"{root}: 2 of 7 runs finished; a nasbench-sd process is working on it now")
    (row,) = [line for line in out.splitlines() if line.startswith("darts-v1 ")]
    mean = sum(f["benchmark"]["c10_test"] for f in finals) / 2
    epochs = build_run_config("darts-v1", "cpu", 0, {}).search.epochs
    assert row.split()[1:5] == ["0", "1", "2", f"({7}/{epochs},"]
    assert f"2 (7/{epochs}, {(epochs - 7) * sum(10.0 + e for e in range(1, 8)) / 7:.0f} s left)" in row
    assert f"{mean:.2f} ± " in row and "(n=2)" in row
    assert "darts-v1/seed-4 failed: worker process failed: out of memory" in out


def test_status_while_the_experiment_runs(experiment, capsys):
    root, _ = experiment
    with directory_lock(root, "experiment directory"):
        code, out, err = run_cli(capsys, "status", root)
    assert code == 0, err
    assert "a nasbench-sd process is working on it now" in out.splitlines()[0]


def test_status_bad_input(tmp_path, capsys):
    code, _, err = run_cli(capsys, "status", tmp_path / "missing")
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "status", tmp_path / "empty")
    assert code == 2 and err.count("\n") == 1 and "no runs in" in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "experiment.json").write_text("{not json")
    code, _, err = run_cli(capsys, "status", tmp_path / "bad")
    assert code == 2 and err.count("\n") == 1 and "is corrupt" in err


def test_status_of_one_group_or_one_run(experiment, capsys):
    root, _ = experiment
    code, out, err = run_cli(capsys, "status", root / "darts-v1", "--json")
    assert code == 0, err
    assert [(r["label"], r["seed"], r["state"]) for r in json.loads(out)["runs"]] == [
        ("darts-v1", 0, "finished"), ("darts-v1", 1, "finished"), ("darts-v1", 2, "running"),
        ("darts-v1", 3, "stopped")]
    code, out, err = run_cli(capsys, "status", root / "darts-v1" / "seed-3", "--json")
    assert code == 0, err
    assert [(r["label"], r["seed"], r["state"], r["epoch"]) for r in json.loads(out)["runs"]] == [
        ("darts-v1", 3, "stopped", 4)]


def test_status_says_when_the_manifest_is_stale(tmp_path, capsys):
    root = tmp_path / "exp"
    unfinished(root, "darts-v1", 0, 3)
    (root / "experiment.json").write_text(json.dumps({"status": "running", "runs": {"darts-v1/seed-0": {
        "label": "darts-v1", "method": "darts-v1", "seed": 0, "path": "darts-v1/seed-0", "status": "running"}}}))
    code, out, err = run_cli(capsys, "status", root)  # its process was killed: nothing holds a lock
    assert code == 0, err
    first = out.splitlines()[0]
    assert "no process is working on it" in first and "experiment.json still says running" in first
    assert "rerun its command to continue" in first


def test_attempts_whose_process_ended_unrecorded_are_lost_not_running(experiment, capsys):
    """An experiment's process killed mid-run leaves its attempts without an outcome; the next
    invocation adds attempts. status shows each attempt that is over as lost (or finished when the
    run's result is on disk), and only a live run's last attempt as running."""
    root, _ = experiment
    manifest = json.loads((root / "experiment.json").read_text())
    open_attempt = {"outcome": None, "reason": None}
    manifest["runs"]["darts-v1/seed-0"]["attempts"] = [{"attempt": 1, **open_attempt}, {"attempt": 2, **open_attempt}]
    manifest["runs"]["darts-v1/seed-2"]["attempts"] = [{"attempt": 1, **open_attempt}, {"attempt": 2, **open_attempt}]
    manifest["runs"]["darts-v1/seed-3"]["attempts"] = [{"attempt": 1, "outcome": "died", "reason": "SIGKILL"},
                                                       {"attempt": 2, **open_attempt}]
    (root / "experiment.json").write_text(json.dumps(manifest))
    code, out, err = run_cli(capsys, "status", root)
    assert code == 0, err
    lines = out.splitlines()
    lost = "lost (no outcome recorded: the experiment's process ended first)"
    assert f"darts-v1/seed-0: 2 attempts: 1 {lost}; 2 finished" in lines  # finished: its result is on disk
    assert f"darts-v1/seed-2: 2 attempts: 1 {lost}; 2 running" in lines  # its lock is held
    assert f"darts-v1/seed-3: 2 attempts: 1 died (SIGKILL); 2 {lost}" in lines  # stopped, no live process
