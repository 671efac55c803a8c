"""A result names the code that made it, even when the checkout changes while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nasbench_sd import provenance
from nasbench_sd.search import run_search
from searchkit import tiny_config, tiny_data


@pytest.fixture
def checkout(monkeypatch):
    """A fake checkout whose revision the test sets; the per-process cache is cleared around it."""
    state = {"rev": "aaaaaaaaaaaa"}
    monkeypatch.setattr(provenance, "git_revision", lambda: state["rev"])
    provenance.code_revision.cache_clear()
    yield state
    provenance.code_revision.cache_clear()


def test_a_commit_during_a_run_does_not_change_the_revision_it_reports(checkout, tmp_path, monkeypatch):
    from nasbench_sd.search import loop

    cfg = tiny_config("darts-v1", epochs="2")
    original = loop.create_method

    def create(*args, **kwargs):
        method = original(*args, **kwargs)
        inner = method.step

        def stepping(batch, ctx):
            checkout["rev"] = "bbbbbbbbbbbb"  # someone commits while the run goes on
            return inner(batch, ctx)

        method.step = stepping
        return method

    monkeypatch.setattr(loop, "create_method", create)
    result = run_search(cfg, tmp_path / "run", data=tiny_data(n=32), quiet=True)
    assert checkout["rev"] == "bbbbbbbbbbbb"
    assert result["provenance"]["code_revision"] == "aaaaaaaaaaaa"
    assert "code_revisions" not in result["provenance"]


def test_a_run_resumed_under_other_code_lists_every_revision(checkout, tmp_path):
    cfg = tiny_config("darts-v1", epochs="2")
    data = tiny_data(n=32)  # 2 steps per epoch
    assert run_search(cfg, tmp_path / "run", data=data, quiet=True, max_steps=3) == {}
    checkout["rev"] = "bbbbbbbbbbbb"
    provenance.code_revision.cache_clear()  # a new process
    result = run_search(cfg, tmp_path / "run", data=data, quiet=True, resume=True)
    assert result["provenance"]["code_revision"] == "bbbbbbbbbbbb"
    assert result["provenance"]["code_revisions"] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]


def test_dirty_means_the_packages_own_files_changed(tmp_path):
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo, pkg = tmp_path / "repo", tmp_path / "repo" / "pkg"
    (repo / "results").mkdir(parents=True)
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    (repo / "results" / "experiment.json").write_text("{}\n")
    (repo / ".gitignore").write_text("__pycache__/\n")

    def git(*args):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    clean = provenance.git_revision(pkg)
    assert len(clean) == 12 and not clean.endswith("+dirty")
    (repo / "results" / "experiment.json").write_text('{"status": "running"}\n')  # a run's own output
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.pyc").write_bytes(b"\0")  # ignored
    assert provenance.git_revision(pkg) == clean
    (pkg / "b.py").write_text("y = 2\n")  # a new module, not yet committed
    assert provenance.git_revision(pkg) == clean + "+dirty"
    (pkg / "b.py").unlink()
    (pkg / "a.py").write_text("x = 2\n")  # an edited one
    assert provenance.git_revision(pkg) == clean + "+dirty"


def test_a_result_names_the_cpu_kernels_it_ran_on():
    """CPU sums depend on the instruction set torch's kernels use (the same run
    differs between an AVX2 and an AVX-512 machine), so a result records the
    set actually used in its process, not the hardware's best: one lowered with
    $ATEN_CPU_CAPABILITY reports the lower set."""
    code = "import json; from nasbench_sd.provenance import environment; print(json.dumps(environment('cpu')))"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    prov = json.loads(out.stdout)
    assert prov["cpu_capability"] == "DEFAULT"
    assert "DEFAULT kernels" in prov["device_name"]
    assert prov["cpu"] and prov["cpu"] != "unknown"
