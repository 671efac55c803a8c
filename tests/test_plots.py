"""``nasbench-sd plot`` and the ablation figure: non-empty PNG and PDF files from
synthetic run directories; the curves are the per-epoch mean ± std of the records."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.cli import main
from nasbench_sd.config import build_run_config

PNG, PDF = b"\x89PNG\r\n\x1a\n", b"%PDF"


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def write_run(root: Path, group: str, method: str, seed: int, epochs: int = 4, hessian: bool = True) -> None:
    """config.json and metrics.jsonl shaped like the search loop's."""
    rng = random.Random(f"{group}/{seed}")
    d = root / group / f"seed-{seed}"
    d.mkdir(parents=True)
    cfg = build_run_config(method, "cpu", seed, {"epochs": str(epochs)})
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    lines = []
    for e in range(1, epochs + 1):
        probs = []
        for _ in range(6):
            w = [rng.random() for _ in range(5)]
            probs.append([x / sum(w) for x in w])
        rec = {"epoch": e, "train_loss": 2.0 / e, "benchmark": {c: rng.uniform(30, 94) for c in COLUMNS},
               "num_parameter_free": rng.randint(0, 6), "op_probs": probs, "epoch_seconds": 1.0}
        if hessian:
            rec["hessian_eig"] = rng.uniform(0, 0.5) * e
        lines.append(json.dumps(rec))
    (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def check_figures(paths: list[Path], names: list[str]) -> None:
    assert sorted(p.name for p in paths) == sorted(f"{n}.{ext}" for n in names for ext in ("png", "pdf"))
    for p in paths:
        data = p.read_bytes()
        assert len(data) > 5000, p
        assert data.startswith(PNG if p.suffix == ".png" else PDF), p


def test_plot_all_figures(tmp_path, capsys):
    root = tmp_path / "exp"
    for s in range(3):
        write_run(root, "darts-v1", "darts-v1", s)
        write_run(root, "sd-darts", "sd-darts", s)
    code, out, err = run_cli(capsys, "plot", root)
    assert code == 0, err
    paths = [Path(line) for line in out.split()]
    check_figures(paths, ["accuracy", "hessian", "param-free", "op-probs-darts-v1", "op-probs-sd-darts"])
    assert all(p.parent == root / "plots" for p in paths)


def test_plot_without_hessian_and_one_group(tmp_path, capsys):
    root = tmp_path / "exp"
    write_run(root, "gdas", "gdas", 0, hessian=False)
    write_run(root, "sd-darts", "sd-darts", 0, hessian=False)
    code, out, err = run_cli(capsys, "plot", root, "--out", tmp_path / "figs", "--ops-of", "gdas")
    assert code == 0, err
    check_figures([Path(x) for x in out.split()], ["accuracy", "param-free", "op-probs-gdas"])


def test_band_is_mean_and_sample_std(tmp_path):
    from nasbench_sd.experiments.curves import band, load_curves

    root = tmp_path / "exp"
    for s in range(3):
        write_run(root, "sd-darts", "sd-darts", s)
    (g,) = load_curves(root)
    epochs, mean, std, n = band(g, lambda r: r["benchmark"]["c10_test"])
    assert epochs == [1, 2, 3, 4] and n == [3, 3, 3, 3]
    import numpy as np

    for e, m, s in zip(epochs, mean, std):
        v = [json.loads((root / f"sd-darts/seed-{k}/metrics.jsonl").read_text().splitlines()[e - 1])
             ["benchmark"]["c10_test"] for k in range(3)]
        assert m == pytest.approx(np.mean(v)) and s == pytest.approx(np.std(v, ddof=1))


def test_plot_bad_input(tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "random" / "seed-0").mkdir(parents=True)  # random search writes no metrics
    code, _, err = run_cli(capsys, "plot", empty)
    assert code == 2 and err.count("\n") == 1 and "no per-epoch metrics" in err
    assert not (empty / "plots").exists()
    root = tmp_path / "exp"
    write_run(root, "sd-darts", "sd-darts", 0)
    code, _, err = run_cli(capsys, "plot", root, "--ops-of", "gdas")
    assert code == 2 and err.count("\n") == 1 and not (root / "plots").exists()


def test_ablation_summary_figure(tmp_path):
    from nasbench_sd.experiments.ablate import ablation_groups, summarize_ablation

    root = tmp_path / "abl"
    groups, key, values = ablation_groups("sd-darts", "warmup", "0,2,5", {})
    assert key == "method.warmup" and [g.label for g in groups] == ["sd-darts-warmup=0", "sd-darts-warmup=2",
                                                                     "sd-darts-warmup=5"]
    for g in groups:
        for s in range(2):
            cfg = build_run_config("sd-darts", "cpu", s, dict(g.sets))
            d = root / g.label / f"seed-{s}"
            d.mkdir(parents=True)
            rng = random.Random(f"{g.label}{s}")
            (d / "result.json").write_text(json.dumps({
                "method": "sd-darts", "seed": s, "preset": "cpu", "config": cfg.to_dict(),
                "benchmark": {c: rng.uniform(30, 94) for c in COLUMNS}}))
    paths = summarize_ablation(root, "sd-darts", "warmup", key, values, groups)
    assert paths[0].name == "ablation-warmup.csv"
    check_figures(paths[1:], ["ablation-warmup"])
