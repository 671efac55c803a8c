"""Step-wise search batches: one augmented train batch and one valid batch per step.

RNG streams. A loader owns three CPU ``torch.Generator`` objects seeded with
:func:`nasbench_sd.seeding.derive_seed` (sha256 of ``"<seed>:<stream>"``, 63 bits):

* ``STREAM_TRAIN_ORDER`` ("data-order-train"): the per-epoch permutation of the train half;
* ``STREAM_VALID_ORDER`` ("data-order-valid"): the per-epoch permutation(s) of the valid half;
* ``STREAM_AUGMENT`` ("augment"): crop offsets and flips, train batch first, then valid.

The draws are made on the CPU and moved to the data's device, so a seed
yields the same batches on CPU and CUDA.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from nasbench_sd.data.augment import normalize, random_crop_flip
from nasbench_sd.data.extra import BatchSource
from nasbench_sd.data.search_data import SearchData, load_search_data
from nasbench_sd.errors import UserError
from nasbench_sd.seeding import derive_seed

__all__ = [
    "STREAM_AUGMENT",
    "STREAM_TRAIN_ORDER",
    "STREAM_VALID_ORDER",
    "SearchData",
    "SearchLoader",
    "StepBatch",
    "load_search_data",
]

STREAM_TRAIN_ORDER = "data-order-train"
STREAM_VALID_ORDER = "data-order-valid"
STREAM_AUGMENT = "augment"


@dataclass(frozen=True, eq=False)
class StepBatch:
    """The data of one search step.

    ``x_*`` float32 [B,3,H,W] (augmented and normalised), ``y_*`` int64 [B],
    ``idx_*`` int64 [B]: the samples' indices in their source set
    (``SearchData.*_source``). ``epoch``/``step`` locate the batch (0-based).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    idx_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    idx_valid: torch.Tensor
    epoch: int
    step: int


class SearchLoader:
    """Iterate over the steps of one epoch at a time; each ``iter()`` continues where the last stopped.

    An epoch has ``ceil(n_train / batch_size)`` steps (the last train batch
    may be smaller; the valid batch of a step has the same size), as in the NB201
    reference; ``drop_last=True`` gives ``n_train // batch_size`` steps of
    ``batch_size`` samples each (static shapes, for graph capture): the last
    ``n_train % batch_size`` samples of each epoch's permutation are not used in
    that epoch (another such set every epoch). The train
    half is reshuffled every epoch; the valid half too, its permutations
    concatenated (cycled) when it is shorter than the train half. Both halves
    get the training augmentation. Breaking out of a loop mid-epoch and
    iterating again resumes with the next step; :meth:`state_dict` captures
    that position, so a resumed run draws exactly the batches of an
    uninterrupted one. One iteration at a time per loader.
    """

    def __init__(self, data: SearchData, batch_size: int, seed: int, device: str | torch.device | None = None,
                 drop_last: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise UserError(f"batch_size must be a positive integer, got {batch_size!r}")
        if data.n_train == 0 or data.n_valid == 0:
            raise UserError(f"empty search half: {data.n_train} train / {data.n_valid} valid samples")
        if drop_last and data.n_train < batch_size:
            raise UserError(f"drop_last with {data.n_train} train samples and batch_size {batch_size} leaves no step")
        self.drop_last = bool(drop_last)
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.device = torch.device(device) if device is not None else data.device
        dev = self.device
        self._train = (data.train_images.to(dev), data.train_labels.to(dev), data.train_index.to(dev))
        self._valid = (data.valid_images.to(dev), data.valid_labels.to(dev), data.valid_index.to(dev))
        self._mean = torch.tensor(data.mean, dtype=torch.get_default_dtype(), device=dev)
        self._std = torch.tensor(data.std, dtype=torch.get_default_dtype(), device=dev)
        self._train_order = torch.Generator().manual_seed(derive_seed(seed, STREAM_TRAIN_ORDER))
        self._valid_order = torch.Generator().manual_seed(derive_seed(seed, STREAM_VALID_ORDER))
        self._augment = torch.Generator().manual_seed(derive_seed(seed, STREAM_AUGMENT))
        self.epoch = 0  # epochs completed
        self._step = 0  # steps of the current epoch already handed out
        self._perms: tuple[torch.Tensor, torch.Tensor] | None = None
        self._order_at_epoch_start: tuple[torch.Tensor, torch.Tensor] | None = None

    def __len__(self) -> int:
        """Steps per epoch."""
        if self.drop_last:
            return self.data.n_train // self.batch_size
        return math.ceil(self.data.n_train / self.batch_size)

    @property
    def step(self) -> int:
        """Steps of the current epoch already handed out."""
        self._roll_if_done()
        return self._step

    def __iter__(self) -> Iterator[StepBatch]:
        self._roll_if_done()
        if self._perms is None:
            self._perms = self._draw_perms()
        train_perm, valid_perm = self._perms
        n, bs = self.data.n_train, self.batch_size
        for s in range(self._step, len(self)):
            sl = slice(s * bs, min((s + 1) * bs, n))
            batch = self._make_batch(train_perm[sl], valid_perm[sl], s)
            self._step = s + 1
            yield batch
        self._roll_if_done()

    def _roll_if_done(self) -> None:
        if self._step >= len(self):
            self.epoch += 1
            self._step = 0
            self._perms = None
            self._order_at_epoch_start = None

    def _draw_perms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Permutations of this epoch, drawn from the order streams at the epoch start.

        The epoch-start states are kept so that :meth:`state_dict` taken
        mid-epoch lets a new loader redraw the same permutations.
        """
        self._order_at_epoch_start = (self._train_order.get_state(), self._valid_order.get_state())
        n, m = self.data.n_train, self.data.n_valid
        train_perm = torch.randperm(n, generator=self._train_order)
        cycles = [torch.randperm(m, generator=self._valid_order) for _ in range(math.ceil(n / m))]
        valid_perm = torch.cat(cycles)[:n]
        return train_perm.to(self.device), valid_perm.to(self.device)

    def extra_batches(self) -> BatchSource:
        """A :class:`~nasbench_sd.data.extra.BatchSource` over this loader's (device-resident)
        halves with its normalisation and crop padding, for methods that need more
        batches than a step's pair. It shares the tensors and draws only from the
        generators its callers pass: this loader's batches are unchanged."""
        return BatchSource({"train": self._train, "valid": self._valid}, self._mean, self._std, self.data.padding)

    def _make_batch(self, ti: torch.Tensor, vi: torch.Tensor, step: int) -> StepBatch:
        pad = self.data.padding
        (t_img, t_lab, t_idx), (v_img, v_lab, v_idx) = self._train, self._valid
        x_train = normalize(random_crop_flip(t_img[ti], pad, self._augment), self._mean, self._std)
        x_valid = normalize(random_crop_flip(v_img[vi], pad, self._augment), self._mean, self._std)
        return StepBatch(x_train, t_lab[ti], t_idx[ti], x_valid, v_lab[vi], v_idx[vi], self.epoch, step)

    def state_dict(self) -> dict[str, Any]:
        """Generator states and position (epoch, step); restore with :meth:`load_state_dict`."""
        self._roll_if_done()
        if self._order_at_epoch_start is not None:
            train_order, valid_order = self._order_at_epoch_start
        else:
            train_order, valid_order = self._train_order.get_state(), self._valid_order.get_state()
        return {
            "seed": self.seed,
            "batch_size": self.batch_size,
            "n_train": self.data.n_train,
            "n_valid": self.data.n_valid,
            "epoch": self.epoch,
            "step": self._step,
            "train_order": train_order.clone(),
            "valid_order": valid_order.clone(),
            "augment": self._augment.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a loader over the same data, batch size and seed.

        Raises:
            UserError: the state belongs to a different configuration.
        """
        for key in ("seed", "batch_size", "n_train", "n_valid"):
            mine = getattr(self, key) if hasattr(self, key) else getattr(self.data, key)
            if state[key] != mine:
                raise UserError(f"loader state has {key}={state[key]}, but this run has {key}={mine}")
        self.epoch = int(state["epoch"])
        self._step = int(state["step"])
        self._perms = None
        self._train_order.set_state(state["train_order"])
        self._valid_order.set_state(state["valid_order"])
        self._order_at_epoch_start = None
        self._augment.set_state(state["augment"])
