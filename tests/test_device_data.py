"""CIFAR-10 onto a lent GPU machine in parts (benchmarks/device_data.py, issue 25): the
images a search reads there are exactly the ones here, a damaged, foreign or missing
part is one line and exit code 2, and nothing already written is overwritten."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import device_data  # noqa: E402

from nasbench_sd.data.cifar import read_cifar10  # noqa: E402
from nasbench_sd.testing.synthetic import write_cifar10  # noqa: E402


@pytest.fixture
def packed(tmp_path):
    src = write_cifar10(tmp_path / "src", per_batch=60, n_test=4, seed=3, protocol=2)
    assert device_data.main(["pack", "--data-root", str(src), "--to", str(tmp_path / "devdata"),
                             "--part-mib", "0.02"]) == 0
    parts = sorted((tmp_path / "devdata").iterdir(), key=lambda p: int(p.name.split("-")[1]))
    assert len(parts) >= 3  # several calls' worth
    return src, parts


def test_the_codec_is_lossless_on_extremes_edges_and_noise():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
    images[0] = 0
    images[1] = 255
    images[2, :, :, ::2] = 255  # stripes: every prediction wrong by 255
    images[3, 0], images[3, 1], images[3, 2] = 0, 255, 0
    residuals = device_data.encode(images)
    assert residuals.dtype == np.uint8 and residuals.shape == images.shape
    assert np.array_equal(device_data.decode(residuals), images)


def test_parts_staged_one_call_at_a_time_unpack_to_the_same_training_set(tmp_path, packed, capsys):
    src, parts = packed
    cache = tmp_path / "machine" / ".devcache"
    for part in parts:  # one device call each
        assert device_data.main(["stage", str(part), "--cache", str(cache)]) == 0
    dest = tmp_path / "machine" / "cifar10"
    assert device_data.main(["unpack", "--cache", str(cache), "--to", str(dest)]) == 0
    images, labels = read_cifar10(dest, train=True)
    want_images, want_labels = read_cifar10(src, train=True)
    assert torch.equal(images, want_images) and torch.equal(labels, want_labels)
    assert device_data.main(["unpack", "--cache", str(cache), "--to", str(dest)]) == 0  # again: kept, not rewritten
    assert "already holds" in capsys.readouterr().out


def test_a_damaged_part_is_refused_in_one_line(tmp_path, packed, capsys):
    _, parts = packed
    data = parts[1] / "data.bin"
    blob = bytearray(data.read_bytes())
    blob[5] ^= 1
    data.write_bytes(bytes(blob))
    cache = tmp_path / "cache"
    assert device_data.main(["stage", str(parts[1]), "--cache", str(cache)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged" in err and "Traceback" not in err
    assert not (cache / f"{parts[1].name}.bin").exists()


def test_unpack_names_the_missing_part(tmp_path, packed, capsys):
    _, parts = packed
    cache = tmp_path / "cache"
    for part in parts[:-1]:
        assert device_data.main(["stage", str(part), "--cache", str(cache)]) == 0
    capsys.readouterr()
    assert device_data.main(["unpack", "--cache", str(cache), "--to", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and parts[-1].name in err
    assert not (tmp_path / "out" / device_data.FOLDER).exists()


def test_nothing_written_is_overwritten(tmp_path, packed, capsys):
    src, parts = packed
    cache = tmp_path / "cache"
    for part in parts:
        assert device_data.main(["stage", str(part), "--cache", str(cache)]) == 0
    other = tmp_path / "other" / device_data.FOLDER
    other.mkdir(parents=True)
    (other / "data_batch_1").write_bytes(b"someone else's")
    capsys.readouterr()
    assert device_data.main(["unpack", "--cache", str(cache), "--to", str(tmp_path / "other")]) == 2
    assert (other / "data_batch_1").read_bytes() == b"someone else's"
    # a second pack into a used folder is refused too, and a part of another pack into this cache
    assert device_data.main(["pack", "--data-root", str(src), "--to", str(parts[0].parent), "--part-mib", "1"]) == 2
    src2 = write_cifar10(tmp_path / "src2", per_batch=60, n_test=4, seed=4, protocol=2)
    assert device_data.main(["pack", "--data-root", str(src2), "--to", str(tmp_path / "dd2"), "--part-mib", "1"]) == 0
    assert device_data.main(["stage", str(tmp_path / "dd2" / "part-1"), "--cache", str(cache)]) == 2
    assert "another pack" in capsys.readouterr().err
