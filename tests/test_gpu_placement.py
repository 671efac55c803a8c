"""Who runs where on GPUs, checked without one: one GPU per local worker, no
CUDA in the driver, and clear refusals where no GPU can be had."""

from __future__ import annotations

import time

import pytest
import torch

from nasbench_sd.cli import main
from nasbench_sd.errors import UserError
from nasbench_sd.experiments import worker
from nasbench_sd.experiments.executors import PoolExecutor, gpu_slots, visible_gpus


def test_gpu_slots_round_robin_over_visible_gpus():
    assert gpu_slots(4, "cuda", ["0", "1"]) == ["0", "1", "0", "1"]
    assert gpu_slots(2, "cuda", ["3", "5", "6"]) == ["3", "5"]
    assert gpu_slots(3, "cpu", ["0"]) is None
    assert gpu_slots(3, "cuda:1", ["0", "1"]) is None  # an explicit GPU: every worker uses it
    with pytest.raises(UserError, match="no GPU is visible"):
        gpu_slots(2, "cuda", [])


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 7")
    assert visible_gpus() == ["2", "7"]


def test_pool_worker_initializer_pins_one_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    monkeypatch.setattr(worker, "_PINNED_GPU", None)
    monkeypatch.setattr(worker, "die_with_parent", lambda: None)  # not this test process
    import signal

    before = signal.getsignal(signal.SIGINT)
    try:
        worker.init_pool_worker("2")
    finally:
        signal.signal(signal.SIGINT, before)
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2" and worker.pinned_gpu() == "2"


def _random_tasks(tmp_path, n):
    from nasbench_sd.presets import build_run_config

    return [worker.RunTask("random", s, str(tmp_path / f"seed-{s}"), build_run_config("random", "cpu", s, {}))
            for s in range(n)]


def _gpus_of_runs(ex, tasks) -> set:
    for t in tasks:
        ex.submit(t)
    seen, deadline = {}, time.time() + 180
    while len(seen) < len(tasks) and time.time() < deadline:
        seen.update({t.key: o.get("gpu") for t, o in ex.wait(1.0)})
    assert len(seen) == len(tasks)
    return set(seen.values())


def test_each_pool_worker_takes_its_own_gpu(tmp_path):
    ex = PoolExecutor(2, "cuda", gpus=["3", "5"])
    try:
        assert ex.gpu_slots == ["3", "5"]
        # both workers up first: else the first one up may take every run before the other starts
        deadline = time.time() + 180
        while ex.ready_workers() < 2 and time.time() < deadline:
            ex.wait(0.5)
        assert ex.ready_workers() == 2
        # random search touches no GPU; each run reports the GPU its worker is pinned to
        assert _gpus_of_runs(ex, _random_tasks(tmp_path, 4)) == {"3", "5"}
        assert len(ex.worker_pids()) == 2
    finally:
        ex.close()


def test_cpu_pool_pins_nothing(tmp_path):
    ex = PoolExecutor(2, "cpu")
    try:
        assert ex.gpu_slots is None
        assert _gpus_of_runs(ex, _random_tasks(tmp_path, 1)) == {None}
    finally:
        ex.close()


def test_driver_checks_data_on_the_cpu(monkeypatch, tmp_path):
    """--device cuda: the plan's data check loads the files on the CPU (the driver
    may have no GPU, and must not park a copy on one)."""
    from nasbench_sd.experiments.runner import method_groups, plan_experiment

    devices = []
    monkeypatch.setattr(worker, "_DATA_CACHE", {})
    monkeypatch.setattr("nasbench_sd.data.load_search_data",
                        lambda *a, device=None, **k: devices.append(str(device)) or object())
    plan_experiment(method_groups(["darts-v1"], {}), [0], "cpu", tmp_path / "exp", device="cuda")
    assert devices == ["cpu"]


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code, capsys.readouterr().err


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_device_cuda_without_cuda_is_one_line(tmp_path, capsys, monkeypatch, executor):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if executor == "ray":
        pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    code, err = _cli(capsys, "run", "--method", "random", "--seeds", "2", "--device", "cuda", "--executor", executor,
                     "--out", tmp_path / "exp", "-q")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nasbench-sd: error:") and "cuda" in err, err
    assert not (tmp_path / "exp").exists()


def test_ray_cluster_without_gpus_is_refused(tmp_path):
    """A Ray cluster (here a local one started without GPUs) asked for CUDA runs:
    a clear error at once, not tasks waiting forever for a GPU."""
    ray = pytest.importorskip("ray")
    from nasbench_sd.experiments.executors import RayExecutor

    assert not ray.is_initialized()
    ray.init(num_cpus=1, num_gpus=0, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(UserError, match="no GPU resources"):
            RayExecutor("cuda", None, 1)
        RayExecutor("cpu", None, 1).close()  # the same cluster is fine for CPU runs
    finally:
        ray.shutdown()


def test_each_run_records_its_gpu(tmp_path):
    from nasbench_sd.experiments.runner import _record
    from nasbench_sd.experiments.worker import RunTask

    class FakeManifest:
        def __init__(self):
            self.runs = {}

        def set_run(self, key, **fields):
            self.runs.setdefault(key, {}).update(fields)

        def write(self):
            pass

    m = FakeManifest()
    task = RunTask("darts-v1", 0, str(tmp_path / "r"), config=None)
    _record(m, task, {"key": task.key, "status": "failed", "result": None, "error": "x", "gpu": "5"})
    assert m.runs[task.key]["gpu"] == "5"


def test_runs_per_device_puts_n_runs_on_each_gpu():
    from collections import Counter

    from nasbench_sd.experiments.executors import place_workers, ray_options

    assert place_workers(None, "cuda", 3, gpus=["0", "1"]) == 6  # default: N x the visible GPUs
    assert Counter(gpu_slots(6, "cuda", ["0", "1"])) == {"0": 3, "1": 3}
    assert max(Counter(gpu_slots(place_workers(5, "cuda", 3, gpus=["0", "1"]), "cuda", ["0", "1"])).values()) <= 3
    assert place_workers(None, "cuda:1", 4) == 4  # one named GPU
    assert place_workers(3, "cpu", 1) == 3 and place_workers(None, "cuda", 1, gpus=["0"]) is None  # N = 1: as given
    with pytest.raises(UserError, match="more than --runs-per-device 3 x 2 GPUs"):
        place_workers(7, "cuda", 3, gpus=["0", "1"])
    with pytest.raises(UserError, match="on the CPU|--device cpu"):
        place_workers(None, "cpu", 2)
    with pytest.raises(UserError, match=">= 1"):
        place_workers(None, "cuda", 0, gpus=["0"])
    assert ray_options("cuda", 4, 4) == {"num_gpus": 0.25, "num_cpus": 1}  # 4 Ray tasks share a GPU
    assert ray_options("cpu", 2, 1) == {"num_cpus": 2}


def test_a_pool_with_runs_per_device_pins_its_workers_round_robin(tmp_path):
    from nasbench_sd.experiments.executors import place_workers

    ex = PoolExecutor(place_workers(None, "cuda", 2, gpus=["3", "5"]), "cuda", gpus=["3", "5"])
    try:
        assert ex.gpu_slots == ["3", "5", "3", "5"]
        assert _gpus_of_runs(ex, _random_tasks(tmp_path, 4)) <= {"3", "5"}  # which worker is up first varies
    finally:
        ex.close()


def test_runs_per_device_on_the_cpu_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "-m", "random", "--seeds", "1", "--device", "cpu", "--runs-per-device", "2",
              "--out", str(tmp_path / "exp")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--runs-per-device" in err[0]
    assert not (tmp_path / "exp").exists()
