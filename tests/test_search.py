"""The search loop: records per epoch, result provenance, resume == uninterrupted,
protection of existing results."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from nasbench_sd.benchmark import COLUMNS, get_benchmark
from nasbench_sd.cells import Cell
from nasbench_sd.errors import UserError
from nasbench_sd.methods import get_method
from nasbench_sd.methods.darts import DartsV1
from nasbench_sd.methods.registry import register, unregister
from nasbench_sd.search import cosine_lr, run_search
from nasbench_sd.search.rundir import RunDir
from searchkit import assert_same_end, tiny_config, tiny_data


def test_metrics_and_result(tmp_path):
    cfg = tiny_config("darts-v1", hessian_every="1", hessian_samples="8")
    result = run_search(cfg, tmp_path / "run", data=tiny_data(), quiet=True)
    records = RunDir(tmp_path / "run").metrics()
    assert [r["epoch"] for r in records] == [1, 2, 3]
    bench = get_benchmark()
    for r in records:
        cell = Cell.from_string(r["cell"])
        assert r["benchmark"] == bench.record(cell).figures()
        assert r["index"] == bench.index(cell)
        assert r["num_parameter_free"] == cell.num_parameter_free
        assert len(r["op_probs"]) == 6 and all(abs(sum(row) - 1) < 1e-4 for row in r["op_probs"])
        assert {"train_loss", "train_acc", "valid_loss", "valid_acc", "epoch_seconds"} <= set(r)
        assert isinstance(r["hessian_eig"], float) and math.isfinite(r["hessian_eig"])
    assert result["cell"] == records[-1]["cell"]
    assert set(result["benchmark"]) == set(COLUMNS)
    prov = result["provenance"]
    assert prov["benchmark"]["hp"] == "200" and prov["split_protocol"] == "official"
    assert prov["search_dataset"] == "cifar10" and "torch" in prov and "bn_mode" in prov
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["config"]["search"]["epochs"] == 3 and saved["seed"] == 0


def test_recorded_hessian_is_the_top_eigenvalue_of_the_final_network(tmp_path):
    """The last epoch's ``hessian_eig`` equals eigvalsh of a Hessian built independently
    (torch.autograd.functional.hessian) from the final checkpoint's network and alpha."""
    from nasbench_sd.data.augment import normalize
    from nasbench_sd.nn.supernet import SuperNet

    cfg, data = tiny_config("darts-v1", hessian_every="1", hessian_samples="8"), tiny_data()
    run_search(cfg, tmp_path / "run", data=data, quiet=True)
    recorded = RunDir(tmp_path / "run").metrics()[-1]["hessian_eig"]
    state = RunDir(tmp_path / "run").load_checkpoint()
    s = cfg.search
    net = SuperNet(s.channels, s.cells_per_stage, data.num_classes)
    net.load_state_dict(state["network"])
    alpha = state["method"]["arch"][0].clone()
    x, y = normalize(data.valid_images[:8], data.mean, data.std), data.valid_labels[:8]

    def loss_of(a):
        return torch.nn.functional.cross_entropy(net(x, torch.softmax(a, -1), None), y)

    h = torch.autograd.functional.hessian(loss_of, alpha).reshape(30, 30).double()
    expected = float(torch.linalg.eigvalsh(0.5 * (h + h.T))[-1])
    assert recorded == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert abs(expected) > 1e-6  # a zero Hessian would make the comparison vacuous


@pytest.fixture
def counting_method():
    """darts-v1 that logs (epoch, step) of every step it takes (class-wide)."""
    base = get_method("darts-v1")

    class Counting(base):
        name = "test-counting"
        steps: list[tuple[int, int]] = []

        def step(self, batch, ctx):
            Counting.steps.append((ctx.epoch, ctx.step))
            return super().step(batch, ctx)

    register(Counting)
    yield Counting
    unregister(Counting.name)


def test_resume_performs_only_the_remaining_steps(tmp_path, counting_method):
    cfg = tiny_config(counting_method.name, epochs="4")  # 48 samples, batch 16: 3 steps per epoch
    data = tiny_data()
    run_search(cfg, tmp_path / "full", data=data, quiet=True)
    assert len(counting_method.steps) == 12
    counting_method.steps.clear()
    # interrupted in epoch 3 (after its first step), then resumed in a fresh call
    assert run_search(cfg, tmp_path / "cut", data=data, quiet=True, max_steps=7) == {}
    cut = RunDir(tmp_path / "cut")
    before = cut.metrics()
    assert [r["epoch"] for r in before] == [1, 2] and cut.load_checkpoint()["epoch"] == 1
    with pytest.raises(UserError, match="--resume"):
        run_search(cfg, tmp_path / "cut", data=data, quiet=True)
    counting_method.steps.clear()
    run_search(cfg, tmp_path / "cut", data=data, quiet=True, resume=True)
    # epoch 3 is redone from its start (its first step was not checkpointed), epochs 1-2 are not
    assert counting_method.steps == [(e, s) for e in (2, 3) for s in range(3)]
    assert cut.metrics()[:2] == before  # the earlier epochs' records, wall times included, are kept
    assert_same_end(RunDir(tmp_path / "full"), cut)


def test_corrupt_checkpoint_falls_back_to_previous(tmp_path, capsys, counting_method):
    cfg = tiny_config(counting_method.name, epochs="4")
    data = tiny_data()
    run_search(cfg, tmp_path / "cut", data=data, quiet=True, max_steps=7)  # epochs 1 and 2 checkpointed
    shutil.copytree(tmp_path / "cut", tmp_path / "prev")
    (tmp_path / "prev" / "checkpoint.pt").unlink()  # the reference: resumed from the previous checkpoint
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:-100])  # truncated
    counting_method.steps.clear()
    run_search(cfg, tmp_path / "cut", data=data, quiet=True, resume=True)
    assert "unreadable" in capsys.readouterr().err
    assert counting_method.steps == [(e, s) for e in (1, 2, 3) for s in range(3)]
    counting_method.steps.clear()
    run_search(cfg, tmp_path / "prev", data=data, quiet=True, resume=True)
    assert counting_method.steps == [(e, s) for e in (1, 2, 3) for s in range(3)]
    assert_same_end(RunDir(tmp_path / "prev"), RunDir(tmp_path / "cut"))
    assert [r["epoch"] for r in RunDir(tmp_path / "cut").metrics()] == [1, 2, 3, 4]


def test_finished_run_is_never_overwritten(tmp_path):
    cfg = tiny_config("darts-v1", epochs="1")
    run_search(cfg, tmp_path / "r", data=tiny_data(), quiet=True)
    before = (tmp_path / "r" / "result.json").read_bytes()
    with pytest.raises(UserError, match="finished run"):
        run_search(cfg, tmp_path / "r", data=tiny_data(), quiet=True, resume=True)
    other = tiny_config("darts-v1", epochs="2")
    with pytest.raises(UserError, match="another configuration"):
        run_search(other, tmp_path / "r", data=tiny_data(), quiet=True, resume=True)
    assert (tmp_path / "r" / "result.json").read_bytes() == before


def _reference_cosine():
    """The NB201 authors' scheduler (xautodl.procedures.optimizers), loaded without the
    package's heavy __init__."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("xautodl")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("xautodl is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "procedures" / "optimizers.py"
    module_spec = importlib.util.spec_from_file_location("_xautodl_optimizers", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.CosineAnnealingLR


class LrProbe(DartsV1):
    """DARTS-V1 that records the weight learning rate the loop applied at every step."""

    name = "lr-probe"
    seen: list = []

    def step(self, batch, ctx):
        LrProbe.seen.append((ctx.epoch, ctx.step, ctx.w_optimizer.param_groups[0]["lr"], ctx.lr))
        return super().step(batch, ctx)


def test_learning_rate_is_the_references_cosine_once_per_epoch(tmp_path):
    epochs = 8
    register(LrProbe)
    try:
        LrProbe.seen = []
        run_search(tiny_config("lr-probe", epochs=str(epochs)), tmp_path / "r", data=tiny_data(), quiet=True)
    finally:
        unregister("lr-probe")
    s = tiny_config("darts-v1", epochs=str(epochs)).search
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=s.w_lr)
    ref = _reference_cosine()(ref_opt, 0, epochs, epochs, s.w_lr_min)  # warmup 0, T_max = epochs
    steps = max(step for _, step, _, _ in LrProbe.seen) + 1
    assert len(LrProbe.seen) == epochs * steps and steps > 1
    for epoch, step, applied, told in LrProbe.seen:
        ref.update(epoch if step == 0 else None, 1.0 * step / steps)  # the reference's per-step call
        assert applied == told == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12, abs=0), (epoch, step)
        assert applied == cosine_lr(s, epoch)  # constant within the epoch
    per_epoch = {e: lr for e, _, lr, _ in LrProbe.seen}
    span = s.w_lr - s.w_lr_min
    assert per_epoch[0] == s.w_lr
    assert per_epoch[epochs // 4] == pytest.approx(s.w_lr_min + span * (1 + math.sqrt(0.5)) / 2, rel=1e-12)
    assert per_epoch[epochs // 2] == pytest.approx((s.w_lr + s.w_lr_min) / 2, rel=1e-12)
    assert per_epoch[epochs - 1] == pytest.approx(s.w_lr_min + span * (1 + math.cos(math.pi * 7 / 8)) / 2)
    assert cosine_lr(s, epochs) == pytest.approx(s.w_lr_min, rel=1e-12)


def test_random_method_needs_no_training(tmp_path):
    r1 = run_search(tiny_config("random", seed=1), tmp_path / "a", quiet=True)
    r2 = run_search(tiny_config("random", seed=1), tmp_path / "b", quiet=True)
    assert r1["cell"] == r2["cell"] and Cell.from_string(r1["cell"])


def test_bf16_computes_in_bf16_and_differs_from_fp32(tmp_path):
    dtypes: dict[str, set] = {}

    def conv_output_dtype(module, args, output):
        if isinstance(module, torch.nn.Conv2d):
            dtypes.setdefault(amp, set()).add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(conv_output_dtype)
    try:
        for amp in ("off", "bf16"):
            run_search(tiny_config("darts-v1", epochs="1", amp=amp), tmp_path / amp, data=tiny_data(), quiet=True)
    finally:
        handle.remove()
    assert dtypes == {"off": {torch.float32}, "bf16": {torch.bfloat16}}
    fp32, bf16 = RunDir(tmp_path / "off"), RunDir(tmp_path / "bf16")
    assert bf16.result()["config"]["search"]["amp"] == "bf16"
    a, b = fp32.load_checkpoint()["method"]["arch"][0], bf16.load_checkpoint()["method"]["arch"][0]
    assert not torch.equal(a, b) and a.dtype == b.dtype == torch.float32  # the parameters stay float32
