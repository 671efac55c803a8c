"""Live logs (``--log tensorboard|wandb``) read back as a user's tools read them:
every epoch once, at step = epoch, with the values of metrics.jsonl, also for a
run killed (by fault injection) and resumed, and for a run first logged on its
resume; logging is no part of a run's identity; an absent package is one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from livelog import tb_images, tb_scalars, tb_texts, tensorboard, wandb_history

from nasbench_sd.search.rundir import RunDir
from nasbench_sd.testing.faults import FAULT_VAR, MARKER_VAR

TESTS = Path(__file__).parent
#: SD-DARTS on the tiny synthetic data: 3 steps an epoch, 4 epochs, distillation from epoch 2 (kd terms).
SETS = {"epochs": "4", "method.warmup": "1"}
#: (live log, fault, max_steps) per invocation: killed in epoch 2 before any log; logged from the
#: resume on and killed after epoch 2 was logged but before its checkpoint (epoch 2 is done again);
#: stopped cleanly in epoch 3 (a time-boxed job: its log is complete up to epoch 2); then to the end.
KILLS = [(None, "step:5", None), ("LOG", "checkpoint-rotated:1", None), ("LOG", None, 4), ("LOG", None, None)]


def search_process(out: Path, log: str | None, fault: str | None, marker: Path, env: dict[str, str],
                   max_steps: int | None = None):
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import torch; torch.set_num_threads(1); "
            "from searchkit import tiny_config, tiny_data; from nasbench_sd.search import run_search; "
            "from nasbench_sd.loggers import LogSpec; "
            f"run_search(tiny_config('sd-darts', **{SETS!r}), {str(out)!r}, data=tiny_data(), quiet=True, "
            f"resume={out.exists()!r}, max_steps={max_steps!r}, log={None if log is None else f'LogSpec({log!r})'})")
    env = {**os.environ, **env}
    env.pop(FAULT_VAR, None)
    if fault:
        env.update({FAULT_VAR: fault, MARKER_VAR: str(marker)})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)


def killed_and_resumed(tmp_path: Path, log: str, env: dict[str, str] | None = None) -> Path:
    out = tmp_path / "run"
    for i, (kind, fault, max_steps) in enumerate(KILLS):
        proc = search_process(out, log if kind else None, fault, tmp_path / f"marker-{i}", env or {}, max_steps)
        if fault:
            assert proc.returncode == -signal.SIGKILL, proc.stderr
            assert (tmp_path / f"marker-{i}").read_text().split()[0] == fault.split(":")[0]
        else:
            assert proc.returncode == 0, proc.stderr
    assert RunDir(out).is_finished()
    return out


def expected(out: Path) -> list[dict]:
    records = RunDir(out).metrics()
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    return records


def test_tensorboard_shows_every_epoch_once_after_kills_and_resumes(tmp_path):
    pytest.importorskip("tensorboard")
    out = killed_and_resumed(tmp_path, "tensorboard")
    records = expected(out)
    acc = tensorboard(out)
    scalars = tb_scalars(acc)
    names = {"loss/train": "train_loss", "loss/valid": "valid_loss", "supernet_acc/valid": "valid_acc",
             "cell/parameter_free_ops": "num_parameter_free", "method/kd_train": "kd_train"}
    for tag, key in names.items():
        want = [(r["epoch"], r[key]) for r in records if key in r]
        assert [s for s, _ in scalars[tag]] == [s for s, _ in want], tag  # each epoch once, none missing
        assert [v for _, v in scalars[tag]] == pytest.approx([v for _, v in want], rel=1e-6), tag
    assert [s for s, _ in scalars["method/kd_train"]] == [2, 3, 4]  # the method's own statistic, from its warm-up
    for column in ("c10_valid", "c10_test", "c100_valid", "c100_test", "in16_valid", "in16_test"):
        assert [v for _, v in scalars[f"nb201/{column}"]] == pytest.approx([r["benchmark"][column] for r in records])
    assert tb_images(acc, "op_probs") == [(step, 5 * 16, 6 * 16) for step in (1, 2, 3, 4)]  # edge x op
    cells = tb_texts(acc, "cell/text_summary")
    assert [s for s, _ in cells] == [1, 2, 3, 4] and all(r["cell"] in t for (_, t), r in zip(cells, records))
    assert len(list(out.glob("events.out.tfevents.*"))) == 3  # one file per logged invocation
    assert "log" not in json.loads((out / "config.json").read_text())  # not part of the run's identity


def test_wandb_offline_run_holds_every_epoch_once_after_kills_and_resumes(tmp_path):
    pytest.importorskip("wandb", reason="wandb is not installed (pip install 'nasbench-sd[wandb]')")
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_CONSOLE": "off",
           **{v: str(tmp_path / "wandb-home" / v) for v in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")}}
    out = killed_and_resumed(tmp_path, "wandb", env)
    records = expected(out)
    rows = wandb_history(out)
    assert [r["_step"] for r in rows] == [1, 2, 3, 4]  # across the offline runs of the three logged invocations
    runs = sorted(out.glob("wandb/offline-run-*"))
    assert len(runs) == 3 and len({p.name.rsplit("-", 1)[1] for p in runs}) == 1  # one W&B run, resumed twice
    for row, r in zip(rows, records):
        assert row["loss/train"] == pytest.approx(r["train_loss"])
        assert row["nb201/c10_test"] == r["benchmark"]["c10_test"] and r["cell"] in row["cell"]
        assert row["op_probs/_type"] == "image-file" and (row["op_probs/width"], row["op_probs/height"]) == (80, 96)
        assert any((run / "files" / row["op_probs/path"]).is_file() for run in runs)
    assert [("method/kd_train" in row) for row in rows] == [False, True, True, True]


def test_an_absent_logging_package_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    from nasbench_sd.cli import main

    monkeypatch.setitem(sys.modules, "wandb", None)  # importlib.util.find_spec now says: not installed
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["search", "-m", "darts-v1", "--preset", "cpu", "--out", str(out), "--log", "wandb",
              "--data-root", str(tmp_path / "no-data"), "--no-download"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "pip install 'nasbench-sd[wandb]'" in err
    assert not out.exists()


def test_log_dir_needs_log(tmp_path, capsys):
    from nasbench_sd.cli import main

    with pytest.raises(SystemExit) as e:
        main(["run", "-m", "darts-v1", "--seeds", "1", "--log-dir", str(tmp_path / "tb")])
    assert e.value.code == 2 and "--log-dir needs --log" in capsys.readouterr().err


def test_an_experiment_logs_each_run_below_log_dir_and_logging_is_no_part_of_identity(tmp_path, cifar10_format):
    pytest.importorskip("tensorboard")
    import nasbench_sd as nb

    lines: list[str] = []
    common = dict(seeds=[0], preset="cpu", out=tmp_path / "exp", data_root=cifar10_format, epochs=2, progress=False,
                  echo=lines.append)
    nb.run(["darts-v1", "gdas"], log="tensorboard", log_dir=tmp_path / "tb", **common)
    for method in ("darts-v1", "gdas"):
        scalars = tb_scalars(tensorboard(tmp_path / "tb" / method / "seed-0"))
        records = RunDir(tmp_path / "exp" / method / "seed-0").metrics()
        assert scalars["loss/train"] == [(r["epoch"], pytest.approx(r["train_loss"])) for r in records]
    assert not list((tmp_path / "exp").rglob("events.out.tfevents.*"))  # --log-dir: not in the run directories
    nb.run(["darts-v1", "gdas"], **common)  # the same runs without a log: reused, not "another configuration"
    assert any(line.startswith("reusing 2 finished runs") for line in lines)


def test_every_number_of_a_record_is_logged_under_its_name():
    from nasbench_sd.loggers.content import op_image, scalars

    record = {"epoch": 3, "index": 123, "train_loss": 2.0, "valid_acc": 40.0, "kd_train": 0.1, "beta_reg": 0.5,
              "hessian_eig": 7.5, "num_parameter_free": 2, "lr_end": 0.02, "epoch_seconds": 1.5, "cell": "|x|",
              "benchmark": {"c10_test": 90.0}, "op_probs": [[0.2] * 5] * 5 + [[1.0, 0.0, 0.0, 0.0, 0.0]]}
    assert scalars(record) == {"loss/train": 2.0, "supernet_acc/valid": 40.0, "method/kd_train": 0.1,
                               "method/beta_reg": 0.5, "hessian/top_eigenvalue": 7.5, "cell/parameter_free_ops": 2.0,
                               "schedule/w_lr": 0.02, "time/epoch_seconds": 1.5, "nb201/c10_test": 90.0}
    image = op_image(record)
    assert image.shape == (6 * 16, 5 * 16, 3) and image.dtype.name == "uint8"
    assert image[-1, 0].sum() < image[0, 0].sum() < image[-1, -1].sum()  # darker = more probable
    assert op_image({"op_probs": None}) is None
