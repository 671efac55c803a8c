"""The search protocol of the DrNAS authors' NB201 code (``201-space/train_search.py``).

SNAS and DrNAS were run on NB201 with this code (METHODS.md Sec. 1.4, 2, 7);
its shared settings differ from the NB201 DARTS protocol of the toolkit's
presets. Methods run with it take these changes through
``preset_search_overrides`` and cite them in their protocol cards.
"""

from __future__ import annotations

from typing import Any

#: What the DrNAS-family NB201 codes change in the shared search settings (METHODS.md Sec. 1.4).
DRNAS_FAMILY_SEARCH = {
    "w_weight_decay": 3e-4,  # DrNAS 201-space/train_search.py --weight_decay 3e-4 (NB201 protocol: 5e-4)
    "w_nesterov": False,  # DrNAS 201-space/train_search.py: torch.optim.SGD(..., momentum) without nesterov
    "split": "darts-half",  # DrNAS 201-space/train_search.py: train set indices [0, 25k) weights, [25k, 50k) arch
}
#: Search epochs of the DrNAS-family NB201 codes.
DRNAS_FAMILY_EPOCHS = 100  # DrNAS 201-space/train_search.py --epochs 100


def drnas_family_overrides(preset: str) -> dict[str, Any]:
    """Shared-setting changes of the methods run with the DrNAS NB201 code: weight decay,
    Nesterov and split under every preset, the 100 epochs only under ``paper``."""
    over: dict[str, Any] = dict(DRNAS_FAMILY_SEARCH)
    if preset == "paper":
        over["epochs"] = DRNAS_FAMILY_EPOCHS
    return over


#: Where the shared-setting changes come from, for the protocol cards.
DRNAS_FAMILY_SOURCES = {
    "epochs": "DrNAS repo, 201-space/train_search.py, --epochs 100",
    "w_weight_decay": "DrNAS repo, 201-space/train_search.py, --weight_decay 3e-4",
    "w_nesterov": "DrNAS repo, 201-space/train_search.py, SGD with momentum 0.9 and no Nesterov",
    "split": "DrNAS repo, 201-space/train_search.py, --train_portion 0.5: first 25k of the train set for "
             "the weights, last 25k for the architecture",
}
#: Deviations shared by the methods ported from the DrNAS NB201 code.
DRNAS_FAMILY_DEVIATIONS = (
    "valid batches: one shuffled pass per epoch in step with the train batches; the reference draws "
    "each valid batch at random (next(iter(valid_queue)))",
    "split darts-half exists for CIFAR only: search ImageNet16-120 with `--set split=official`",
    "gradient clipping covers the supernet weights only; the reference's clip also counts alpha's "
    "(discarded) gradient from the weight step",
)
