"""Diagnostics: the exact Hessian eigenvalue, and diagnostics outside a run's identity."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.cli import main
from nasbench_sd.config import DIAGNOSTICS
from nasbench_sd.nn.supernet import SuperNet
from nasbench_sd.presets import build_run_config, config_diff
from nasbench_sd.search import run_search
from nasbench_sd.search.hessian import exact_hessian, top_hessian_eigenvalue
from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.contract import single_thread
from searchkit import tiny_config, tiny_data


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def test_exact_hessian_equals_independent_double_autograd():
    torch.manual_seed(0)
    net = SuperNet(4, 1, 10).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (6,), generator=g)
    alpha = torch.randn(6, 5, generator=g, dtype=torch.float64).requires_grad_(True)

    def loss_of(a):
        return F.cross_entropy(net(x, F.softmax(a, -1)), y)

    reference = torch.autograd.functional.hessian(loss_of, alpha).reshape(30, 30)  # independent path
    reference = 0.5 * (reference + reference.T)
    ours = exact_hessian(lambda: loss_of(alpha), alpha)
    torch.testing.assert_close(ours, reference, rtol=1e-9, atol=1e-12)
    eig = top_hessian_eigenvalue(lambda: loss_of(alpha), alpha)
    ref_eigs = torch.linalg.eigvalsh(reference)
    assert eig == pytest.approx(float(ref_eigs[-1]), rel=1e-9, abs=1e-14)
    assert eig >= float(ref_eigs.max()) - 1e-12 and float(reference.abs().max()) > 0  # largest, not |largest|
    assert alpha.grad is None  # the diagnostic leaves no gradient behind


def test_config_diff_ignores_diagnostics_only():
    a = build_run_config("sd-darts", "cpu", 0).to_dict()
    b = build_run_config("sd-darts", "cpu", 0, {"hessian_every": "2", "hessian_samples": "8"}).to_dict()
    assert a != b and config_diff(a, b) == []
    legacy = json.loads(json.dumps(a))
    legacy["search"]["hessian_iters"] = 20  # saved before the exact Hessian
    assert config_diff(legacy, b) == [] and "hessian_iters" in DIAGNOSTICS
    c = build_run_config("sd-darts", "cpu", 0, {"hessian_every": "2", "w_lr": "0.05"}).to_dict()
    assert config_diff(a, c) == ["search.w_lr"]


def test_unfinished_run_resumes_with_a_diagnostic_added(tmp_path):
    data, out = tiny_data(), tmp_path / "run"
    plain = tiny_config("darts-v1")
    full = run_search(plain, tmp_path / "full", data=data, quiet=True)
    assert run_search(plain, out, data=data, quiet=True, max_steps=4) == {}  # killed in epoch 2
    with_hessian = tiny_config("darts-v1", hessian_every="1", hessian_samples="8")
    resumed = run_search(with_hessian, out, data=data, quiet=True, resume=True)
    records = RunDir(out).metrics()
    assert "hessian_eig" not in records[0] and all("hessian_eig" in r for r in records[1:])
    assert resumed["cell"] == full["cell"]
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("epoch_seconds", "hessian_eig")}  # noqa: E731
                        for r in rs]
    assert strip(records) == strip(RunDir(tmp_path / "full").metrics())  # the diagnostic changed nothing


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, err


def test_experiment_rerun_with_diagnostics_is_the_same_experiment(tmp_path, capsys):
    out = tmp_path / "exp"
    assert _cli(capsys, "run", "--method", "random", "--seeds", "2", "--out", out, "-q")[0] == 0
    code, err = _cli(capsys, "run", "--method", "random", "--seeds", "3", "--out", out, "-q",
                     "--set", "hessian_every=1")
    assert code == 0, err
    runs = json.loads((out / "experiment.json").read_text())["runs"]
    assert runs["random/seed-0"]["status"] == "skipped" and runs["random/seed-2"]["status"] == "finished"
    assert _cli(capsys, "table", out, "--no-published", "--no-best")[0] == 0  # seeds differ in diagnostics only
    code, err = _cli(capsys, "run", "--method", "random", "--seeds", "1", "--out", out, "-q", "--set", "epochs=3")
    assert code == 2 and "another configuration" in err  # a real difference is still refused
