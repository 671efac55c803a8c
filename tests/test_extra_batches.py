"""Extra batches for methods (``ctx.batches``, nasbench_sd.data.extra): what they
contain, that they come only from the caller's generator, and that the search
loader's own batches stay exactly as they were."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasbench_sd.data import SearchLoader, normalize
from nasbench_sd.data.extra import BatchSource
from nasbench_sd.errors import UserError
from searchkit import tiny_data


def _source(n: int = 48, padding: int = 1) -> tuple[BatchSource, object]:
    data = tiny_data(n)
    data = type(data)(**{**data.__dict__, "padding": padding})
    return SearchLoader(data, batch_size=16, seed=0).extra_batches(), data


def _gen(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rows(data, half: str, idx: torch.Tensor) -> torch.Tensor:
    """tiny_data's index is arange(2n): train rows are idx, valid rows idx - n."""
    return idx if half == "train" else idx - data.n_train


def test_loader_batches_are_unchanged_by_extra_draws():
    data = tiny_data()
    plain, mixed = SearchLoader(data, 16, seed=3), SearchLoader(data, 16, seed=3)
    source, g = mixed.extra_batches(), _gen()
    for _ in range(2):  # two epochs, extra draws of both kinds between every step
        got = []
        for b in mixed:
            got.append(b)
            source.draw("train", 16, g, augment=True)
            next(source.stream("valid", 8, 2, g, augment=False))
        expected = list(plain)
        assert len(got) == len(expected) == 3
        for a, b in zip(expected, got):
            assert all(torch.equal(getattr(a, k), getattr(b, k))
                       for k in ("x_train", "y_train", "idx_train", "x_valid", "y_valid", "idx_valid"))
    assert _same_state(plain.state_dict(), mixed.state_dict())


def _same_state(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)


def test_unaugmented_batch_is_the_normalised_indexed_samples():
    source, data = _source()
    for half in ("train", "valid"):
        b = source.draw(half, 20, _gen(), augment=False)
        rows = _rows(data, half, b.idx)
        images = data.train_images if half == "train" else data.valid_images
        labels = data.train_labels if half == "train" else data.valid_labels
        assert len(set(b.idx.tolist())) == 20  # distinct samples
        assert torch.equal(b.y, labels[rows])
        torch.testing.assert_close(b.x, normalize(images[rows], data.mean, data.std), atol=0, rtol=0)


def test_augmented_batch_is_a_crop_and_flip_of_each_indexed_sample():
    source, data = _source(padding=2)
    b = source.draw("train", 24, _gen(), augment=True)
    images = data.train_images[_rows(data, "train", b.idx)]
    padded = F.pad(images, (2, 2, 2, 2))
    h, w = images.shape[-2:]
    flipped_any = shifted_any = False
    for i in range(len(b.y)):
        candidates = [(dy, dx, flip) for dy in range(5) for dx in range(5) for flip in (False, True)]
        found = []
        for dy, dx, flip in candidates:
            crop = padded[i, :, dy:dy + h, dx:dx + w]
            crop = crop.flip(-1) if flip else crop
            if torch.equal(normalize(crop[None], data.mean, data.std)[0], b.x[i]):
                found.append((dy, dx, flip))
        assert found, f"extra batch image {i} is no crop/flip of sample {int(b.idx[i])}"
        flipped_any |= any(f for _, _, f in found) and not any(not f for _, _, f in found)
        shifted_any |= all((dy, dx) != (2, 2) for dy, dx, _ in found)
    assert flipped_any and shifted_any  # the augmentation really happens


def test_draws_come_only_from_the_callers_generator():
    source, _ = _source()
    torch.manual_seed(0)
    a = source.draw("train", 16, _gen(1), augment=True)
    torch.manual_seed(99)
    b = source.draw("train", 16, _gen(1), augment=True)
    assert torch.equal(a.x, b.x) and torch.equal(a.idx, b.idx)
    c = source.draw("train", 16, _gen(2), augment=True)
    assert not torch.equal(a.idx, c.idx)
    g = _gen(5)
    source.draw("valid", 8, g, augment=True)
    state = g.get_state()
    first = source.draw("valid", 8, g, augment=True)
    g.set_state(state)  # a method restoring its generator from a checkpoint draws the same batch again
    again = source.draw("valid", 8, g, augment=True)
    assert torch.equal(first.x, again.x) and torch.equal(first.idx, again.idx)


def test_stream_gives_disjoint_batches_covering_the_half_then_reshuffles():
    source, data = _source(n=48)
    batches = list(source.stream("valid", 16, 6, _gen(), augment=False))
    assert [len(b.y) for b in batches] == [16] * 6
    first_pass = torch.cat([b.idx for b in batches[:3]])
    assert sorted(first_pass.tolist()) == data.valid_index.tolist()  # a permutation of the half
    second_pass = torch.cat([b.idx for b in batches[3:]])
    assert sorted(second_pass.tolist()) == data.valid_index.tolist() and not torch.equal(first_pass, second_pass)
    uneven = list(source.stream("valid", 20, 3, _gen(), augment=False))  # 48 = 20 + 20 + 8: no short batch
    assert [len(b.y) for b in uneven] == [20, 20, 20]
    assert not set(uneven[0].idx.tolist()) & set(uneven[1].idx.tolist())


def test_size_larger_than_the_half_gives_the_whole_half():
    source, data = _source(n=48)
    b = source.draw("valid", 512, _gen(), augment=False)
    assert sorted(b.idx.tolist()) == data.valid_index.tolist()
    assert [len(b.y) for b in source.stream("train", 512, 2, _gen(), augment=False)] == [48, 48]


@pytest.mark.parametrize("half, size", [("test", 8), ("train", 0), ("valid", 2.5)])
def test_bad_requests_are_user_errors(half, size):
    source, _ = _source()
    with pytest.raises(UserError):
        source.draw(half, size, _gen(), augment=False)
