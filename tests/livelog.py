"""Reading live logs back as a user's tools would: TensorBoard's own event reader,
and the records of an offline W&B run (its ``run-<id>.wandb`` files)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any


def tensorboard(folder: Path) -> Any:
    """The event accumulator the TensorBoard server reads runs with (plugin_event_accumulator:
    orphaned steps of a restarted run purged), loaded with every event kept."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def _tags(acc: Any, plugin: str) -> list[str]:
    return list(acc.PluginTagToContent(plugin))


def tb_scalars(acc: Any) -> dict[str, list[tuple[int, float]]]:
    """Tag -> [(step, value)] as TensorBoard's scalar dashboard shows them."""
    from tensorboard.util import tensor_util

    return {tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
            for tag in _tags(acc, "scalars")}


def tb_texts(acc: Any, tag: str) -> list[tuple[int, str]]:
    """[(step, text)] of a text summary."""
    from tensorboard.util import tensor_util

    return [(e.step, tensor_util.make_ndarray(e.tensor_proto).item().decode()) for e in acc.Tensors(tag)]


def tb_images(acc: Any, tag: str) -> list[tuple[int, int, int]]:
    """[(step, width, height)] of an image summary."""
    from tensorboard.util import tensor_util

    out = []
    for e in acc.Tensors(tag):
        width, height, _png = tensor_util.make_ndarray(e.tensor_proto)[:3]
        out.append((e.step, int(width), int(height)))
    return out


_BLOCK, _HEADER = 32768, 7  # the LevelDB log format W&B writes its .wandb files in


def _records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", path
    out, pending, pos = [], b"", 7
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        if kind == 0 and length == 0:
            break
        chunk = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind == 1:  # full
            out.append(chunk)
        elif kind == 2:  # first
            pending = chunk
        elif kind == 3:  # middle
            pending += chunk
        elif kind == 4:  # last
            out.append(pending + chunk)
    return out


def wandb_history(folder: Path) -> list[dict[str, Any]]:
    """Every history row logged in every offline W&B run below ``folder``, in file order,
    each as {"_step": ..., key: value} (values decoded from JSON)."""
    from wandb.proto import wandb_internal_pb2 as pb

    rows = []
    for path in sorted(folder.glob("wandb/offline-run-*/run-*.wandb")):
        for raw in _records(path):
            record = pb.Record()
            record.ParseFromString(raw)
            if record.WhichOneof("record_type") != "history":
                continue
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            rows.append(row)
    return rows
