"""A Weights & Biases run (``pip install 'nasbench-sd[wandb]'``).

The same content as the TensorBoard log, at W&B step = epoch: the scalars,
``op_probs`` as an image, ``cell`` as text, the configuration as the run's
config. The project is ``$WANDB_PROJECT`` (else ``nasbench-sd``), the entity
``$WANDB_ENTITY``, the mode ``$WANDB_MODE`` (``offline`` writes the run below
``<dir>/wandb/`` without a network; ``wandb sync`` uploads it later) - wandb's
own environment variables.

A resumed run continues the same W&B run (its id is kept in
``<dir>/wandb/nasbench-sd.json``) and sends only the epochs W&B does not hold
yet: online, those from the run's ``starting_step`` on (what the server has);
offline, those after the last step in the earlier offline runs' ``.wandb``
files (what reached the disk: W&B writes asynchronously, so a killed process
may have sent epochs that were never written, and they are sent again).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasbench_sd.loggers.base import CatchingUp
from nasbench_sd.loggers.content import OP_IMAGE_CAPTION, cell_text, op_image, run_name, scalars

STATE = "nasbench-sd.json"


def new_id() -> str:
    """A W&B run id (8 lowercase letters and digits, as W&B makes them)."""
    import secrets
    import string

    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def last_step(files: list[Path]) -> int:
    """The largest history step in W&B transaction logs (``run-<id>.wandb``: a LevelDB log of
    protobuf records); 0 when none. A torn tail (a killed writer) ends the reading of a file."""
    from wandb.proto import wandb_internal_pb2 as pb

    block, head, best = 32768, 7, 0
    for path in files:
        data, pos, pending = path.read_bytes(), 7, b""
        while pos + head <= len(data):
            if block - pos % block < head:  # the block's trailer
                pos += block - pos % block
                continue
            _crc, length, kind = struct.unpack("<IHB", data[pos:pos + head])
            chunk, pos = data[pos + head:pos + head + length], pos + head + length
            if kind == 0 or len(chunk) < length:
                break
            pending = chunk if kind in (1, 2) else pending + chunk
            if kind in (1, 4):  # a whole record
                record = pb.Record()
                try:
                    record.ParseFromString(pending)
                except Exception:  # noqa: BLE001 - a damaged record: nothing after it counts
                    break
                if record.WhichOneof("record_type") == "history":
                    best = max([best] + [int(json.loads(i.value_json)) for i in record.history.item
                                         if (i.key or "/".join(i.nested_key)) == "_step"])
    return best


class WandbLogger(CatchingUp):
    def __init__(self, folder: Path, history: Callable[[], list[dict[str, Any]]], config: dict[str, Any]):
        super().__init__(folder, history, config)
        self._run: Any = None
        self._done = 0

    def start(self) -> int:
        import wandb

        from nasbench_sd.io import atomic_write_json, ensure_writable_dir

        state_path = ensure_writable_dir(self.folder / "wandb") / STATE
        try:
            run_id = str(json.loads(state_path.read_text())["id"])
        except (OSError, ValueError, KeyError, TypeError):
            run_id = new_id()
            atomic_write_json(state_path, {"id": run_id})
        self._run = wandb.init(project=os.environ.get("WANDB_PROJECT") or "nasbench-sd", dir=str(self.folder),
                               id=run_id, resume="allow", name=run_name(self.config), config=self.config,
                               reinit="finish_previous")
        if self._run.offline:
            mine = Path(self._run.settings.sync_dir).resolve()
            earlier = [p for p in sorted(self.folder.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb"))
                       if p.parent.resolve() != mine]
            self._done = last_step(earlier)
        else:
            self._done = max(0, int(self._run.starting_step) - 1)
        return self._done

    def write(self, record: dict[str, Any]) -> None:
        import wandb

        step = int(record["epoch"])
        if step <= self._done:
            return  # W&B holds it already (sent before a kill, then redone from the checkpoint)
        data: dict[str, Any] = {**scalars(record), "cell": cell_text(record)}
        image = op_image(record)
        if image is not None:
            data["op_probs"] = wandb.Image(image, caption=OP_IMAGE_CAPTION)
        self._run.log(data, step=step)

    def close(self) -> None:
        if self._run is not None:
            self._run.finish()
            self._run = None
