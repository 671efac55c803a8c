"""Extra batches of a search half, for methods that need more data than a step's pair.

The search loop hands a method one train and one valid batch per step
(:class:`~nasbench_sd.data.loader.StepBatch`). Some methods need more: iDARTS
takes weight steps and Hessian-vector products on further train batches, RSPS
scores candidate cells on 512-image valid batches. They get them from the
:class:`BatchSource` at ``ctx.batches`` (:class:`~nasbench_sd.methods.base.SearchContext`).

Conventions (the same for every method):

* **Randomness.** Every draw (which samples, crop offsets, flips) comes from
  the CPU ``torch.Generator`` the caller passes, and nothing else. A method
  passes a generator it owns and saves its state in ``state_dict``; the
  loader's own streams are never touched, so adding a method that uses extra
  batches changes no other method's results, and a resumed run draws exactly
  the batches of an uninterrupted one.
* **Sampling.** A batch holds ``size`` distinct samples of the half, drawn
  uniformly (a prefix of a random permutation); ``size`` larger than the half
  gives the whole half, shuffled. :meth:`BatchSource.stream` hands out
  consecutive slices of one permutation (disjoint batches, as iterating a
  shuffled data loader does) and draws a fresh permutation when fewer than
  ``size`` samples are left.
* **Augmentation.** ``augment=True`` applies the training augmentation exactly
  as the search loader does (random crop with the data set's zero padding and
  a horizontal flip, :func:`~nasbench_sd.data.augment.random_crop_flip`), then
  the normalisation; use it for batches a method trains on. ``augment=False``
  only normalises (the NB201 reference evaluates with the test transform); use
  it for evaluation batches.
* **Device.** The tensors live where the loader keeps the data (the run's
  device); the index draws are made on the CPU and moved there, so a seed
  gives the same batches on every device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from nasbench_sd.data.augment import normalize, random_crop_flip
from nasbench_sd.errors import UserError

HALVES = ("train", "valid")


@dataclass(frozen=True, eq=False)
class ExtraBatch:
    """``x`` float32 [B,3,H,W] (normalised; augmented if asked), ``y`` int64 [B],
    ``idx`` int64 [B]: the samples' indices in their source set (cache keys)."""

    x: torch.Tensor
    y: torch.Tensor
    idx: torch.Tensor


class BatchSource:
    """Batches of the ``"train"`` or ``"valid"`` half on demand (see the module doc).

    Args:
        halves: per half, (images [N,C,H,W], labels [N], source indices [N]) on one device.
        mean, std: per-channel normalisation of uint8 images (as the loader's);
            ``None`` for images that are already float and normalised (test harnesses).
        padding: zero padding of the random crop (``SearchData.padding``).
    """

    def __init__(self, halves: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                 mean: Sequence[float] | torch.Tensor | None = None,
                 std: Sequence[float] | torch.Tensor | None = None, padding: int = 0) -> None:
        if set(halves) != set(HALVES):
            raise ValueError(f"BatchSource needs the halves {HALVES}, got {sorted(halves)}")
        if (mean is None) != (std is None):
            raise ValueError("BatchSource needs both mean and std, or neither")
        self._halves = dict(halves)
        self._mean, self._std, self.padding = mean, std, int(padding)

    def size(self, half: str) -> int:
        """Number of samples in ``half``."""
        return int(self._half(half)[1].shape[0])

    def draw(self, half: str, size: int, generator: torch.Generator, augment: bool) -> ExtraBatch:
        """One batch of ``min(size, n)`` distinct uniformly drawn samples of ``half``."""
        n = self.size(half)
        return self._make(half, torch.randperm(n, generator=generator)[:self._check(size)], generator, augment)

    def stream(self, half: str, size: int, count: int, generator: torch.Generator,
               augment: bool) -> Iterator[ExtraBatch]:
        """``count`` batches: consecutive ``size``-slices of random permutations of
        ``half`` (a fresh permutation when fewer than ``size`` samples remain).
        Draws lazily, batch by batch, from ``generator``."""
        size, n = self._check(size), self.size(half)
        size = min(size, n)
        perm, pos = None, n
        for _ in range(count):
            if n - pos < size or perm is None:
                perm, pos = torch.randperm(n, generator=generator), 0
            chosen, pos = perm[pos:pos + size], pos + size
            yield self._make(half, chosen, generator, augment)

    # -- internals ------------------------------------------------------------------
    def _half(self, half: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if half not in self._halves:
            raise UserError(f"unknown search half {half!r} (choose from {', '.join(HALVES)})")
        return self._halves[half]

    @staticmethod
    def _check(size: int) -> int:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UserError(f"an extra batch needs a positive integer size, got {size!r}")
        return size

    def _make(self, half: str, chosen: torch.Tensor, generator: torch.Generator, augment: bool) -> ExtraBatch:
        images, labels, index = self._half(half)
        sel = chosen.to(images.device)
        x = images[sel]
        if augment:
            x = random_crop_flip(x, self.padding, generator)
        x = normalize(x, self._mean, self._std) if self._mean is not None else x.to(torch.float32)
        return ExtraBatch(x, labels[sel], index[sel])
