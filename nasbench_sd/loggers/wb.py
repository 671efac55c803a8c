"""A Weights & Biases run (``pip install 'nasbench-sd[wandb]'``).

The same content as the TensorBoard log, at W&B step = epoch: the scalars,
``op_probs`` as an image, ``cell`` as text, the configuration as the run's
config. The project is ``$WANDB_PROJECT`` (else ``nasbench-sd``), the entity
``$WANDB_ENTITY``, the mode ``$WANDB_MODE`` (``offline`` writes the run below
``<dir>/wandb/`` without a network; ``wandb sync`` uploads it later) - wandb's
own environment variables.

A resumed run continues the same W&B run: its id and the last epoch sent are
kept in ``<dir>/wandb/nasbench-sd.json``, and only later epochs are sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasbench_sd.loggers.base import CatchingUp
from nasbench_sd.loggers.content import OP_IMAGE_CAPTION, cell_text, op_image, run_name, scalars

STATE = "nasbench-sd.json"


class WandbLogger(CatchingUp):
    def __init__(self, folder: Path, history: Callable[[], list[dict[str, Any]]], config: dict[str, Any]):
        super().__init__(folder, history, config)
        self._run: Any = None
        self._state: dict[str, Any] = {}

    @property
    def _state_path(self) -> Path:
        return self.folder / "wandb" / STATE

    def start(self) -> int:
        import wandb

        from nasbench_sd.io import atomic_write_json, ensure_writable_dir

        ensure_writable_dir(self.folder / "wandb")
        try:
            self._state = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            self._state = {"id": wandb.util.generate_id(), "epoch": 0}
            atomic_write_json(self._state_path, self._state)
        self._run = wandb.init(project=os.environ.get("WANDB_PROJECT") or "nasbench-sd", dir=str(self.folder),
                               id=self._state["id"], resume="allow", name=run_name(self.config),
                               config=self.config, reinit="finish_previous")
        return int(self._state.get("epoch", 0))

    def write(self, record: dict[str, Any]) -> None:
        import wandb

        from nasbench_sd.io import atomic_write_json

        step = int(record["epoch"])
        if step <= int(self._state.get("epoch", 0)):
            return  # sent by the process that was killed before this epoch's checkpoint
        data: dict[str, Any] = {**scalars(record), "cell": cell_text(record)}
        image = op_image(record)
        if image is not None:
            data["op_probs"] = wandb.Image(image, caption=OP_IMAGE_CAPTION)
        self._run.log(data, step=step)
        self._state["epoch"] = step
        atomic_write_json(self._state_path, self._state)

    def close(self) -> None:
        if self._run is not None:
            self._run.finish()
            self._run = None
