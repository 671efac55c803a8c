"""Data layer: readers, search splits, batch augmentation and the resumable search loader."""

from __future__ import annotations

import io
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nasbench_sd.data import (
    DATA_ROOT_ENV,
    DATASETS,
    DEFAULT_DATA_ROOT,
    SPLIT_PROTOCOLS,
    SearchData,
    SearchLoader,
    crop_flip,
    dataset_info,
    load_search_data,
    load_split_file,
    normalize,
    random_crop_flip,
    read_cifar10,
    read_cifar100,
    read_imagenet16,
    resolve_data_root,
    search_split,
)
from nasbench_sd.data.loader import STREAM_AUGMENT
from nasbench_sd.errors import UserError
from nasbench_sd.seeding import derive_seed

# ---------------------------------------------------------------- synthetic files


def _dump(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)  # the original files are protocol-2 pickles


def _write_cifar100(root: Path, n_train: int, n_test: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write cifar-100-python/{train,test} in the official format; return (data, fine_labels) per file."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("train", n_train), ("test", n_test)):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = rng.integers(0, 100, n)
        _dump(
            root / "cifar-100-python" / name,
            {
                "filenames": [f"img_{i}.png" for i in range(n)],
                "batch_label": f"{name} batch",
                "fine_labels": [int(v) for v in fine],
                "coarse_labels": [int(v) // 5 for v in fine],
                "data": data,
            },
        )
        out[name] = (data, fine)
    return out


def _write_imagenet16(root: Path, per_file: int, n_val: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write ImageNet16/train_data_batch_1..10 and val_data (1-based labels over 1000 classes).

    Train labels are drawn from 1..1000 (so most are dropped by the 120-class
    filter, and labels 120/121 always appear); val labels are all in 1..120.
    """
    rng = np.random.default_rng(seed)
    out = {}
    names = [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]
    for name in names:
        n = n_val if name == "val_data" else per_file
        data = rng.integers(0, 256, (n, 768), dtype=np.uint8)
        high = 121 if name == "val_data" else 1001
        labels = rng.integers(1, high, n)
        if name != "val_data":
            labels[:2] = (120, 121)
        _dump(root / "ImageNet16" / name, {"data": data, "labels": [int(v) for v in labels], "mean": data.mean(0)})
        out[name] = (data, labels)
    return out


def _small_search_data(n_train: int = 300, n_valid: int = 200, size: int = 32, pad: int = 4) -> SearchData:
    """An in-memory SearchData with random pixels; indices are offset so they differ from positions."""
    g = torch.Generator().manual_seed(123)
    return SearchData(
        dataset="cifar10",
        split="official",
        train_images=torch.randint(0, 256, (n_train, 3, size, size), generator=g, dtype=torch.uint8),
        train_labels=torch.randint(0, 10, (n_train,), generator=g),
        train_index=torch.arange(n_train) * 2,
        valid_images=torch.randint(0, 256, (n_valid, 3, size, size), generator=g, dtype=torch.uint8),
        valid_labels=torch.randint(0, 10, (n_valid,), generator=g),
        valid_index=torch.arange(n_valid) * 2 + 1,
        num_classes=10,
        mean=dataset_info("cifar10").mean,
        std=dataset_info("cifar10").std,
        padding=pad,
    )


def _epoch(loader: SearchLoader) -> list[tuple[torch.Tensor, ...]]:
    return [(b.x_train, b.y_train, b.idx_train, b.x_valid, b.y_valid, b.idx_valid) for b in loader]


def _same(a: list[tuple[torch.Tensor, ...]], b: list[tuple[torch.Tensor, ...]]) -> bool:
    return len(a) == len(b) and all(all(torch.equal(x, y) for x, y in zip(sa, sb)) for sa, sb in zip(a, b))


def _reference_crop_flip(img: np.ndarray, dy: int, dx: int, flip: bool, pad: int) -> np.ndarray:
    """Direct per-image computation: zero-pad, crop at (dy, dx), mirror."""
    c, h, w = img.shape
    padded = np.zeros((c, h + 2 * pad, w + 2 * pad), dtype=img.dtype)
    padded[:, pad : pad + h, pad : pad + w] = img
    out = padded[:, dy : dy + h, dx : dx + w]
    return out[:, :, ::-1] if flip else out


# ---------------------------------------------------------------- root, import


def test_data_root_argument_then_env_then_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root(str(tmp_path / "arg")) == tmp_path / "arg"
    assert resolve_data_root(None) == tmp_path / "env"
    monkeypatch.delenv(DATA_ROOT_ENV)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert resolve_data_root(None) == DEFAULT_DATA_ROOT.expanduser()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_root(None) == tmp_path / "cache" / "nasbench-sd" / "data"
    assert "~" not in str(resolve_data_root("~/x"))


def test_importing_the_data_package_is_cheap() -> None:
    code = "import sys, nasbench_sd.data as d; d.SPLIT_PROTOCOLS; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# ---------------------------------------------------------------- synthetic readers


def test_cifar100_reader_reads_the_official_format(tmp_path: Path) -> None:
    written = _write_cifar100(tmp_path, n_train=40, n_test=20)
    for train, name in ((True, "train"), (False, "test")):
        images, labels = read_cifar100(tmp_path, train=train)
        data, fine = written[name]
        assert images.dtype == torch.uint8 and images.shape == (len(fine), 3, 32, 32)
        assert labels.dtype == torch.int64 and labels.tolist() == fine.tolist()
        # row layout: 1024 red, then green, then blue values, each row-major
        assert np.array_equal(images[3, 1].numpy().ravel(), data[3, 1024:2048])
        assert np.array_equal(images.numpy().reshape(len(fine), -1), data)


def test_imagenet16_reader_keeps_120_classes_and_shifts_labels(tmp_path: Path) -> None:
    written = _write_imagenet16(tmp_path, per_file=30, n_val=12)
    images, labels = read_imagenet16(tmp_path, train=True)
    data = np.concatenate([written[f"train_data_batch_{i}"][0] for i in range(1, 11)])
    raw = np.concatenate([written[f"train_data_batch_{i}"][1] for i in range(1, 11)])
    keep = raw <= 120
    assert images.shape == (keep.sum(), 3, 16, 16) and images.dtype == torch.uint8
    assert labels.tolist() == (raw[keep] - 1).tolist()  # 1-based -> 0-based, order kept
    assert labels.min() >= 0 and labels.max() <= 119 and 119 in labels.tolist()
    assert np.array_equal(images.numpy().reshape(-1, 768), data[keep])
    val_images, val_labels = read_imagenet16(tmp_path, train=False)
    assert val_images.shape == (12, 3, 16, 16)
    assert val_labels.tolist() == (written["val_data"][1] - 1).tolist()


def test_cifar100_official_split_uses_xvalid_of_the_test_set(tmp_path: Path) -> None:
    written = _write_cifar100(tmp_path, n_train=100, n_test=10_000)
    data = load_search_data("CIFAR100", tmp_path)
    xvalid = load_split_file("cifar100-test-split.txt")["xvalid"]
    assert data.dataset == "cifar100" and data.split == "official" and data.num_classes == 100
    assert (data.train_source, data.valid_source) == ("train", "test")
    assert data.train_index.tolist() == list(range(100))  # weights see the whole train set
    assert data.valid_index.tolist() == xvalid.tolist() and data.n_valid == 5000
    test_data, test_fine = written["test"]
    assert data.valid_labels.tolist() == test_fine[xvalid].tolist()
    assert np.array_equal(data.valid_images.numpy().reshape(5000, -1), test_data[xvalid])
    half = load_search_data("cifar100", tmp_path, split="darts-half")
    assert half.train_index.tolist() == list(range(50)) and half.valid_index.tolist() == list(range(50, 100))
    assert half.valid_source == "train"


def test_imagenet16_search_data_and_batches(tmp_path: Path) -> None:
    written = _write_imagenet16(tmp_path, per_file=8, n_val=6000)
    data = load_search_data("imagenet16-120", tmp_path)
    xvalid = load_split_file("imagenet-16-120-test-split.txt")["xvalid"]
    assert data.dataset == "ImageNet16-120" and data.num_classes == 120 and data.padding == 2
    assert data.valid_index.tolist() == xvalid.tolist()
    assert data.valid_labels.tolist() == (written["val_data"][1][xvalid] - 1).tolist()
    batch = next(iter(SearchLoader(data, batch_size=4, seed=0)))
    assert batch.x_train.shape == (4, 3, 16, 16) and batch.x_valid.shape == (4, 3, 16, 16)
    with pytest.raises(UserError, match="darts-half"):
        load_search_data("ImageNet16-120", tmp_path, split="darts-half")


def test_too_small_data_set_for_the_split_is_a_user_error(tmp_path: Path) -> None:
    _write_cifar100(tmp_path, n_train=10, n_test=100)  # xvalid needs indices up to 9999
    with pytest.raises(UserError, match="are the data files complete"):
        load_search_data("cifar100", tmp_path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_reader_accepts_every_pickle_protocol_and_bytes_keys(protocol: int, tmp_path: Path) -> None:
    data = np.arange(4 * 768, dtype=np.int64).astype(np.uint8).reshape(4, 768)
    labels = [np.int64(1), np.int32(120), 121, 7]  # numpy scalars as some writers leave them
    path = tmp_path / "ImageNet16" / "val_data"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps({b"data": data, b"labels": labels, "mean": data.mean(0)}, protocol=protocol))
    images, got = read_imagenet16(tmp_path, train=False)
    assert got.tolist() == [0, 119, 6]
    assert np.array_equal(images.numpy().reshape(3, 768), data[[0, 1, 3]])


# ---------------------------------------------------------------- missing and corrupt files


@pytest.mark.parametrize(
    ("reader", "path"),
    [
        (read_cifar10, "cifar-10-batches-py/data_batch_1"),
        (read_cifar100, "cifar-100-python/train"),
        (read_imagenet16, "ImageNet16/train_data_batch_1"),
    ],
)
def test_missing_files_are_a_user_error_naming_the_path(reader, path: str, tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        reader(tmp_path)
    message = str(err.value)
    assert str(tmp_path / path) in message and "--data-root" in message and DATA_ROOT_ENV in message
    assert "\n" not in message


def _corrupt_variants(good: bytes) -> dict[str, bytes]:
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    return {
        "truncated": good[: len(good) // 2],
        "garbage": b"not a pickle at all",
        "empty": b"",
        "not a dict": pickle.dumps([1, 2, 3], protocol=2),
        "no labels": pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}, protocol=2),
        "wrong width": pickle.dumps({"data": np.zeros((2, 100), np.uint8), "fine_labels": [0, 1]}, protocol=2),
        "wrong dtype": pickle.dumps({"data": np.zeros((2, 3072), np.float32), "fine_labels": [0, 1]}, protocol=2),
        "label count": pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "fine_labels": [0]}, protocol=2),
        "label range": pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "fine_labels": [0, 100]}, protocol=2),
        "foreign object": pickle.dumps({"data": Evil(), "fine_labels": [0]}, protocol=2),
    }


def test_corrupt_files_are_a_user_error_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _write_cifar100(tmp_path, n_train=4, n_test=4)
    path = tmp_path / "cifar-100-python" / "train"
    for kind, content in _corrupt_variants(path.read_bytes()).items():
        path.write_bytes(content)
        with pytest.raises(UserError, match="corrupt data file") as err:
            read_cifar100(tmp_path)
        assert str(path) in str(err.value), kind
    assert "executed" not in capsys.readouterr().out  # the foreign object was never called


# ---------------------------------------------------------------- splits


def test_split_names_and_errors() -> None:
    assert SPLIT_PROTOCOLS[0] == "official" and "darts-half" in SPLIT_PROTOCOLS
    assert DATASETS == ("cifar10", "cifar100", "ImageNet16-120")
    with pytest.raises(UserError, match="official, darts-half"):
        search_split("cifar10", "random")
    with pytest.raises(UserError, match="cifar10, cifar100, ImageNet16-120"):
        search_split("mnist")
    with pytest.raises(UserError, match="limit"):
        load_search_data("cifar10", "/nonexistent", limit=0)


def test_official_cifar10_split_is_two_disjoint_interleaved_halves() -> None:
    sp = search_split("cifar10")
    train, valid = sp.train_index, sp.valid_index
    assert (sp.protocol, sp.train_source, sp.valid_source) == ("official", "train", "train")
    assert len(train) == len(valid) == 25_000
    assert len(set(train.tolist()) | set(valid.tolist())) == 50_000
    assert set(train.tolist()).isdisjoint(valid.tolist())
    assert train.min() == 0 and max(train.max(), valid.max()) == 49_999
    assert train.max() > 25_000  # interleaved, not first/last half


def test_darts_half_is_first_and_last_half() -> None:
    sp = search_split("cifar10", "darts-half")
    assert sp.train_index.tolist() == list(range(25_000))
    assert sp.valid_index.tolist() == list(range(25_000, 50_000))


# ---------------------------------------------------------------- augmentation


def test_crop_flip_equals_per_image_reference() -> None:
    g = torch.Generator().manual_seed(0)
    for size, pad in ((32, 4), (16, 2)):
        images = torch.randint(0, 256, (40, 3, size, size), generator=g, dtype=torch.uint8)
        offsets = torch.randint(0, 2 * pad + 1, (40, 2), generator=g)
        offsets[:4] = torch.tensor([[0, 0], [2 * pad, 2 * pad], [0, 2 * pad], [pad, pad]])  # corners, centre
        flips = torch.randint(0, 2, (40,), generator=g).bool()
        out = crop_flip(images, offsets, flips, pad)
        assert out.shape == images.shape and out.dtype == torch.uint8
        for i in range(40):
            dy, dx = offsets[i].tolist()
            expect = _reference_crop_flip(images[i].numpy(), dy, dx, bool(flips[i]), pad)
            assert np.array_equal(out[i].numpy(), expect), i


def test_crop_is_a_true_shift_and_flip_a_mirror() -> None:
    img = torch.randint(1, 256, (1, 3, 32, 32), dtype=torch.uint8)  # no zero pixels
    no = torch.tensor([False])
    centre = crop_flip(img, torch.tensor([[4, 4]]), no, 4)
    assert torch.equal(centre, img)
    shifted = crop_flip(img, torch.tensor([[0, 0]]), no, 4)  # content moves 4 down, 4 right
    assert torch.equal(shifted[..., 4:, 4:], img[..., :28, :28])
    assert (shifted[..., :4, :] == 0).all() and (shifted[..., :, :4] == 0).all()
    mirrored = crop_flip(img, torch.tensor([[4, 4]]), torch.tensor([True]), 4)
    assert torch.equal(mirrored, img.flip(-1))


def test_random_crop_flip_draws_from_the_generator_only() -> None:
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    a = random_crop_flip(images, 4, torch.Generator().manual_seed(5))
    b = random_crop_flip(images, 4, torch.Generator().manual_seed(5))
    c = random_crop_flip(images, 4, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == images.shape


def test_normalisation_constants() -> None:
    c10, c100, in16 = (dataset_info(n) for n in DATASETS)
    assert c10.mean == (0.4914, 0.4822, 0.4465) and c10.std == (0.2470, 0.2435, 0.2616)
    assert c100.mean == (0.5071, 0.4865, 0.4409) and c100.std == (0.2673, 0.2564, 0.2762)
    assert in16.mean == pytest.approx((0.48110, 0.45749, 0.40788), abs=1e-5)
    assert in16.std == pytest.approx((0.24792, 0.24024, 0.25525), abs=1e-5)
    assert (c10.padding, c100.padding, in16.padding) == (4, 4, 2)
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    mean, std = torch.tensor(c10.mean)[:, None, None], torch.tensor(c10.std)[:, None, None]
    y = normalize(x, c10.mean, c10.std)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, (x.float() / 255 - mean) / std, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- loader


def test_loader_steps_cover_each_half_once_per_epoch() -> None:
    data = _small_search_data(n_train=300, n_valid=120)
    loader = SearchLoader(data, batch_size=64, seed=0)
    assert len(loader) == math.ceil(300 / 64) == 5
    batches = list(loader)
    assert [b.step for b in batches] == list(range(5)) and {b.epoch for b in batches} == {0}
    assert [len(b.y_train) for b in batches] == [64, 64, 64, 64, 44]
    assert all(len(b.y_valid) == len(b.y_train) for b in batches)
    train_idx = torch.cat([b.idx_train for b in batches])
    assert sorted(train_idx.tolist()) == data.train_index.tolist()  # a permutation of the train half
    valid_counts = torch.bincount(torch.cat([b.idx_valid for b in batches]))[1::2]
    assert set(valid_counts.tolist()) <= {2, 3} and valid_counts.sum() == 300  # cycled 300/120 times
    assert loader.epoch == 1 and loader.step == 0


def test_loader_batches_are_augmented_copies_of_the_indexed_samples() -> None:
    data = _small_search_data()
    batch = next(iter(SearchLoader(data, batch_size=16, seed=3)))
    pos_t, pos_v = batch.idx_train // 2, batch.idx_valid // 2  # _small_search_data's index = 2*pos (+1)
    assert torch.equal(batch.y_train, data.train_labels[pos_t]) and torch.equal(batch.y_valid, data.valid_labels[pos_v])
    # replay the documented augmentation stream: train offsets, train flips, valid offsets, valid flips
    aug = torch.Generator().manual_seed(derive_seed(3, STREAM_AUGMENT))
    for x, images in ((batch.x_train, data.train_images[pos_t]), (batch.x_valid, data.valid_images[pos_v])):
        offsets = torch.randint(0, 9, (16, 2), generator=aug)
        flips = torch.randint(0, 2, (16,), generator=aug).bool()
        ref = np.stack(
            [_reference_crop_flip(images[i].numpy(), *offsets[i].tolist(), bool(flips[i]), 4) for i in range(16)]
        )
        torch.testing.assert_close(x, normalize(torch.from_numpy(ref), data.mean, data.std), atol=0, rtol=0)


def test_same_seed_same_batches_different_seed_different() -> None:
    data = _small_search_data()
    a = _epoch(SearchLoader(data, 64, seed=1))
    b = _epoch(SearchLoader(data, 64, seed=1))
    c = _epoch(SearchLoader(data, 64, seed=2))
    assert _same(a, b) and not _same(a, c)
    loader = SearchLoader(data, 64, seed=1)
    assert not _same(_epoch(loader), _epoch(loader))  # reshuffled every epoch


def test_resume_between_epochs_equals_uninterrupted_run() -> None:
    data = _small_search_data()
    straight = SearchLoader(data, 64, seed=7)
    _epoch(straight)
    second = _epoch(straight)
    first = SearchLoader(data, 64, seed=7)
    _epoch(first)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)  # the state survives a checkpoint file
    buf.seek(0)
    resumed = SearchLoader(data, 64, seed=7)
    resumed.load_state_dict(torch.load(buf))
    assert resumed.epoch == 1
    assert _same(_epoch(resumed), second)


def test_resume_mid_epoch_equals_uninterrupted_run() -> None:
    data = _small_search_data()
    straight = _epoch(SearchLoader(data, 64, seed=7))
    partial = SearchLoader(data, 64, seed=7)
    head = []
    for batch in partial:
        head.append(batch)
        if len(head) == 2:
            break
    state = partial.state_dict()
    assert (state["epoch"], state["step"]) == (0, 2)
    resumed = SearchLoader(data, 64, seed=7)
    resumed.load_state_dict(state)
    tail_batches = list(resumed)
    assert [b.step for b in tail_batches] == [2, 3, 4] and resumed.epoch == 1
    tail = [(b.x_train, b.y_train, b.idx_train, b.x_valid, b.y_valid, b.idx_valid) for b in tail_batches]
    head_t = [(b.x_train, b.y_train, b.idx_train, b.x_valid, b.y_valid, b.idx_valid) for b in head]
    assert _same(head_t + tail, straight)
    assert _same(_epoch(partial), tail)  # iterating the interrupted loader again also continues


def test_loader_state_from_another_configuration_is_rejected() -> None:
    data = _small_search_data()
    state = SearchLoader(data, 64, seed=7).state_dict()
    with pytest.raises(UserError, match="batch_size"):
        SearchLoader(data, 32, seed=7).load_state_dict(state)
    with pytest.raises(UserError, match="batch_size"):
        SearchLoader(data, 0, seed=7)


# ---------------------------------------------------------------- real CIFAR-10


@pytest.fixture(scope="module")
def cifar10_train(cifar10_root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return read_cifar10(cifar10_root, train=True)


def test_real_cifar10_sizes_and_class_balance(cifar10_root: Path, cifar10_train) -> None:
    images, labels = cifar10_train
    assert images.shape == (50_000, 3, 32, 32) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=10).tolist() == [5_000] * 10
    test_images, test_labels = read_cifar10(cifar10_root, train=False)
    assert test_images.shape == (10_000, 3, 32, 32)
    assert torch.bincount(test_labels, minlength=10).tolist() == [1_000] * 10
    mean = images[:5000].float().mean(dim=(0, 2, 3)) / 255
    assert mean.tolist() == pytest.approx(dataset_info("cifar10").mean, abs=0.01)


def test_real_cifar10_search_data(cifar10_root: Path, cifar10_train) -> None:
    images, labels = cifar10_train
    data = load_search_data("cifar10", cifar10_root, limit=1000)
    official = search_split("cifar10")
    assert data.limit == 1000 and data.n_train == data.n_valid == 1000
    assert data.provenance()["split"] == "official"
    assert data.train_index.tolist() == official.train_index[:1000].tolist()
    assert data.valid_index.tolist() == official.valid_index[:1000].tolist()
    assert torch.equal(data.train_images, images[data.train_index])
    assert torch.equal(data.valid_labels, labels[data.valid_index])
    for batch in list(SearchLoader(data, 64, seed=0))[:3]:
        assert torch.equal(batch.y_train, labels[batch.idx_train])
        assert torch.equal(batch.y_valid, labels[batch.idx_valid])
        assert batch.x_train.shape == (64, 3, 32, 32) and batch.x_train.dtype == torch.float32
    full = load_search_data("cifar10", cifar10_root, split="darts-half")
    assert full.n_train == 25_000 and len(SearchLoader(full, 64, seed=0)) == 391
    assert torch.equal(full.valid_images[:10], images[25_000:25_010])


# ---------------------------------------------------------------- the synthetic CIFAR-10 of the tests


def test_synthetic_cifar10_has_the_official_format_and_learnable_classes(tmp_path: Path) -> None:
    """The stand-in for the real files: official member names and keys, read by the
    same reader, and classes a nearest-class-mean probe separates on held-out images."""
    from nasbench_sd.testing.synthetic import FOLDER, write_cifar10

    write_cifar10(tmp_path, per_batch=200, n_test=400, protocol=2)
    names = sorted(p.name for p in (tmp_path / FOLDER).iterdir())
    assert names == ["batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "readme.html", "test_batch"]
    with open(tmp_path / FOLDER / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    assert set(raw) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert raw[b"data"].dtype == np.uint8 and raw[b"data"].shape == (200, 3072)
    x, y = read_cifar10(tmp_path, train=True)
    xt, yt = read_cifar10(tmp_path, train=False)
    assert x.shape == (1000, 3, 32, 32) and xt.shape == (400, 3, 32, 32)
    assert torch.bincount(y, minlength=10).tolist() == [100] * 10
    x, xt = x.flatten(1).double(), xt.flatten(1).double()
    means = torch.stack([x[y == c].mean(0) for c in range(10)])
    accuracy = (torch.cdist(xt, means).argmin(1) == yt).double().mean().item()
    assert accuracy > 0.9
