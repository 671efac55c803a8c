"""The main job with no flags: without --preset a CUDA machine gets the published
protocol (``paper``) and any other machine the scaled-down ``cpu`` preset, and the
first line of output says which preset and device were chosen and why."""

from __future__ import annotations

import pytest
import torch

from nasbench_sd.cli import main
from nasbench_sd.runtime import choice_line, default_preset


def test_default_preset_follows_the_device():
    assert default_preset("cuda") == default_preset("cuda:1") == "paper"
    assert default_preset("cpu") == "cpu"


def first_line(capsys, monkeypatch, cuda: bool, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "not found" in err, err  # stops at the (absent) data
    return exc.value.code, out.splitlines()[0]


@pytest.mark.parametrize("command", ["search", "run"])
def test_first_line_names_preset_and_device_and_why(command, capsys, monkeypatch, tmp_path):
    """The absent data stop each command before any device work, so the CUDA branch
    is exercised on a CPU-only machine too."""
    args = [command, "-m", "darts-v1", "--out", str(tmp_path / "x"), "--data-root", str(tmp_path / "none"),
            "--no-download", "-q", *(["--seeds", "1"] if command == "run" else [])]
    code, line = first_line(capsys, monkeypatch, False, *args)
    assert code == 2
    assert line == choice_line("cpu", False, "cpu", False)
    assert line.startswith("preset cpu (default without CUDA") and "device cpu (auto: no CUDA device found)" in line
    code, line = first_line(capsys, monkeypatch, True, *args)
    assert code == 2
    assert line == "preset paper (default on CUDA: the published protocol), device cuda (auto: CUDA is available)"
    code, line = first_line(capsys, monkeypatch, True, *args, "--preset", "cpu", "--device", "cpu")
    assert line == "preset cpu (--preset), device cpu (--device)"
