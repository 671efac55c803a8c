"""The README's first command computes in a fresh clone: user runs go to a folder
of their own (runs/, ignored by git), never into the committed results/, whose
finished runs of the same configuration would otherwise be reused in a second;
and a run that reuses finished runs says which another code revision or
machine made."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def first_command() -> list[str]:
    """The README's first command, as words."""
    match = re.search(r"^pip install \. && (nasbench-sd run .*)$", (REPO / "README.md").read_text(), re.M)
    assert match, "the README's first command is gone"
    return match.group(1).split()[1:]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The repository's tracked files, as a fresh clone has them."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    root = tmp_path_factory.mktemp("clone")
    for name in filter(None, files.decode().split("\0")):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_the_committed_results_hold_finished_runs_of_the_first_commands_configuration(clone):
    """The premise: reusing results/cpu would compute nothing (its sd-darts seeds 0-4 are finished)."""
    assert first_command() == ["run", "--method", "sd-darts", "--seeds", "5"]
    assert all((clone / "results/cpu/sd-darts" / f"seed-{s}" / "result.json").is_file() for s in range(5))


def test_the_first_commands_plan_in_a_fresh_clone_computes_every_run(clone, monkeypatch):
    from nasbench_sd.experiments.layout import experiment_dir
    from nasbench_sd.experiments.runner import method_groups, plan_experiment

    monkeypatch.chdir(clone)
    root = experiment_dir("cpu")  # where `run` without --out writes under the cpu preset
    plan = plan_experiment(method_groups(["sd-darts"], {}), list(range(5)), "cpu", root, check_data=False)
    assert plan.counts() == {"done": 0, "resume": 0, "new": 5}
    assert not plan.root.resolve().is_relative_to((clone / "results").resolve())
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", f"{root}/sd-darts/seed-0/result.json"])
    assert ignored.returncode == 0, f"{root} is not ignored by git"


def test_the_first_command_runs_searches_from_the_root_of_a_fresh_clone(clone, cifar10_format):
    """The command itself, from the clone's root, with a tiny setting: new run files, results/ untouched."""
    before = tree_digest(clone / "results")
    args = [*first_command(), "--seeds", "2", "--set", "epochs=1", "--quiet"]  # the last --seeds wins
    env = {**__import__("os").environ, "NASBENCH_SD_DATA": str(cifar10_format), "NASBENCH_SD_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "nasbench_sd", *args], cwd=clone, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "2 run now" in proc.stdout and "0 finished earlier" in proc.stdout
    for seed in (0, 1):
        result = json.loads((clone / "runs/cpu/sd-darts" / f"seed-{seed}" / "result.json").read_text())
        assert result["epochs"] == 1 and result["config"]["search"]["epochs"] == 1
    assert tree_digest(clone / "results") == before


def test_reused_runs_made_elsewhere_are_named(tmp_path, cifar10_format):
    import nasbench_sd as nb
    from nasbench_sd.search.rundir import RunDir

    lines: list[str] = []
    common = dict(seeds=[0, 1], preset="cpu", out=tmp_path / "exp", data_root=cifar10_format, epochs=1,
                  progress=False, echo=lines.append)
    nb.run("darts-v1", **common)
    assert not any(line.startswith("reusing") for line in lines)
    nb.run("darts-v1", **common)
    assert "reusing 2 finished runs (kept as they are); all made by this code revision on this kind of machine." \
        in lines
    for seed, (cpu, revision) in enumerate([("Another CPU(TM)", None), (None, "0123abcd4567")]):
        run = RunDir(tmp_path / "exp" / "darts-v1" / f"seed-{seed}")
        result = run.result()
        if cpu:
            result["provenance"]["cpu"] = cpu
        if revision:
            result["provenance"]["code_revision"] = revision
        run.write_result(result)
    lines.clear()
    exp = nb.run("darts-v1", **common)
    note = next(line for line in lines if line.startswith("reusing"))
    assert "1 made by another code revision (1 by 0123abcd4567" in note
    assert "1 on another machine (1 on Another CPU(TM)" in note and "move them aside" in note
    assert exp.counts == {"done": 2, "resume": 0, "new": 0}
