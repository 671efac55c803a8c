"""CIFAR-10's training set onto a lent GPU machine, in parts that fit its calls (issue 25, item 4).

A device call sends the repository's working tree (tracked and untracked-not-ignored
files) plus the ignored paths it ``carry``-s, 64 MiB in all, and nothing beside it: the
``../shared`` data folder stays here. The paper search reads the 50,000 training images of
CIFAR-10 (the official 25k/25k halves), 154 MB as pickles, more than one call can carry
next to the repository (~35 MB). So the images travel losslessly compressed (a MED
predictor, the residual of each channel minus the previous channel's, lzma: ~56% of the
raw bytes, ~82 MiB) and cut into parts sized to what one call has room for; each call
stages its part into a folder that stays on the warm machine, and the last one unpacks.

Here, once (prints the calls to make)::

    python benchmarks/device_data.py pack --data-root ../shared/data/cifar10 --to .devdata

On the device, call k of n (carry ``.devdata/part-k``; the machine stays warm 30 s after a
call, so make the calls back to back)::

    python benchmarks/device_data.py stage .devdata/part-k --cache .devcache
    # the last call also:
    python benchmarks/device_data.py unpack --cache .devcache --to .devcache/cifar10

``unpack`` writes ``cifar-10-batches-py/data_batch_1..5`` (the python-version layout the
toolkit reads; no test_batch: the search does not read it) after checking that the decoded
images and labels hash to what ``pack`` read from the original files. Every check that
fails (a part from another pack, a corrupted or missing part, a destination holding other
data) is one line on stderr and exit code 2; nothing already written is overwritten.
``.devdata/`` and ``.devcache/`` are ignored by git (a carried path must be ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import math
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from nasbench_sd.data.pickles import read_image_pickle  # noqa: E402

FORMAT = "nasbench-sd device data 1"
FOLDER = "cifar-10-batches-py"
FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CODEC = "MED (LOCO-I) predictor per channel, residual minus the previous channel's, mod 256; lzma preset 6"
#: What one device call carries in all (tree + carried paths), and room kept for the tree to grow.
CALL_LIMIT = 64 * 2**20
MARGIN = 2 * 2**20
DATA_NAME = "data.bin"
MANIFEST = "manifest.json"


class DataError(Exception):
    """A check failed: one line for the user."""


# -- the codec -------------------------------------------------------------------------------------
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shifted(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(up, left, up-left) neighbours of every pixel of x [N,3,H,W], zero outside the image."""
    up, left, ul = (np.zeros_like(x) for _ in range(3))
    up[..., 1:, :] = x[..., :-1, :]
    left[..., :, 1:] = x[..., :, :-1]
    ul[..., 1:, 1:] = x[..., :-1, :-1]
    return up, left, ul


def _med(up: np.ndarray, left: np.ndarray, ul: np.ndarray) -> np.ndarray:
    """LOCO-I's median edge detector: min/max of up and left at an edge, else up + left - ul (in [0, 255])."""
    hi, lo = np.maximum(up, left), np.minimum(up, left)
    return np.where(ul >= hi, lo, np.where(ul <= lo, hi, up + left - ul))


def encode(images: np.ndarray) -> np.ndarray:
    """Residuals (uint8, same shape) of images uint8 [N,3,H,W]: lossless, see :func:`decode`."""
    x = images.astype(np.int16)
    r = (x - _med(*_shifted(x))) % 256
    r[:, 1:] = (r[:, 1:] - r[:, :-1]) % 256  # channel c's residual minus channel c-1's
    return r.astype(np.uint8)


def decode(residuals: np.ndarray) -> np.ndarray:
    """The images :func:`encode` was given (pixel by pixel in raster order, all images and channels at once)."""
    r = residuals.astype(np.int16)
    r = np.cumsum(r, axis=1) % 256  # undo the channel differences
    n, c, h, w = r.shape
    x = np.zeros((n, c, h, w), dtype=np.int16)
    zero = np.zeros((n, c), dtype=np.int16)
    for i in range(h):
        for j in range(w):
            up = x[:, :, i - 1, j] if i else zero
            left = x[:, :, i, j - 1] if j else zero
            ul = x[:, :, i - 1, j - 1] if i and j else zero
            x[:, :, i, j] = (_med(up, left, ul) + r[:, :, i, j]) % 256
    return x.astype(np.uint8)


# -- pack (here) -----------------------------------------------------------------------------------
def tree_bytes(repo: Path = REPO) -> int:
    """Bytes of what a device call sends besides its carried paths (tracked + untracked-not-ignored files)."""
    out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout
    return sum((repo / n).stat().st_size for n in out.decode().split("\0") if n and (repo / n).is_file())


def read_train(root: Path) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Images uint8 [N,3,32,32], labels uint8 [N] and the images per file, from the python-version files."""
    folder = root / FOLDER
    if not all((folder / f).is_file() for f in FILES):
        missing = next(folder / f for f in FILES if not (folder / f).is_file())
        raise DataError(f"CIFAR-10 training file not found: {missing} (pass --data-root DIR holding {FOLDER}/)")
    parts = [read_image_pickle(folder / f, "labels", 32, (0, 9)) for f in FILES]
    images = np.concatenate([im.reshape(-1, 3, 32, 32) for im, _ in parts])
    labels = np.concatenate([lb for _, lb in parts]).astype(np.uint8)
    return images, labels, [len(lb) for _, lb in parts]


def pack(root: Path, dest: Path, part_bytes: int) -> dict:
    """Write ``dest/part-k/{data.bin,manifest.json}``; returns the manifest."""
    if dest.exists() and any(dest.iterdir()):
        raise DataError(f"{dest} is not empty: remove it or pick another --to (nothing was overwritten)")
    images, labels, per_file = read_train(root)
    blob = lzma.compress(encode(images).tobytes() + labels.tobytes(), preset=6)
    n_parts = math.ceil(len(blob) / part_bytes)
    chunks = [blob[k * part_bytes:(k + 1) * part_bytes] for k in range(n_parts)]
    manifest = {
        "format": FORMAT, "codec": CODEC, "files": list(FILES), "images_per_file": per_file,
        "shape": list(images.shape), "images_sha256": _sha(images.tobytes()), "labels_sha256": _sha(labels.tobytes()),
        "blob_bytes": len(blob), "blob_sha256": _sha(blob), "raw_bytes": images.nbytes + labels.nbytes,
        "parts": [{"name": f"part-{k + 1}", "bytes": len(c), "sha256": _sha(c)} for k, c in enumerate(chunks)],
    }
    for part, chunk in zip(manifest["parts"], chunks):
        folder = dest / part["name"]
        folder.mkdir(parents=True)
        (folder / DATA_NAME).write_bytes(chunk)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# -- stage and unpack (on the device) -------------------------------------------------------------
def _manifest(path: Path) -> dict:
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise DataError(f"{path} is not a manifest of {FORMAT!r}")
    return m


def stage(part: Path, cache: Path) -> str:
    """Check one part against its manifest and copy it into ``cache`` (kept between calls on a warm machine)."""
    m = _manifest(part / MANIFEST)
    entry = next((p for p in m["parts"] if p["name"] == part.name), None)
    if entry is None:
        names = ", ".join(p["name"] for p in m["parts"])
        raise DataError(f"{part} is not one of the parts its manifest names ({names})")
    data = (part / DATA_NAME).read_bytes() if (part / DATA_NAME).is_file() else b""
    if len(data) != entry["bytes"] or _sha(data) != entry["sha256"]:
        raise DataError(f"{part / DATA_NAME} is damaged: {len(data)} bytes, its manifest says {entry['bytes']} "
                        "with another sha256")
    cache.mkdir(parents=True, exist_ok=True)
    if (cache / MANIFEST).is_file() and _manifest(cache / MANIFEST)["blob_sha256"] != m["blob_sha256"]:
        raise DataError(f"{cache} holds parts of another pack: stage into an empty --cache")
    tmp = cache / f".{part.name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, cache / f"{part.name}.bin")
    (cache / MANIFEST).write_text(json.dumps(m, indent=1) + "\n")
    have = sum((cache / f"{p['name']}.bin").is_file() for p in m["parts"])
    return f"staged {part.name} ({entry['bytes'] / 2**20:.1f} MiB) in {cache}: {have} of {len(m['parts'])} parts"


def unpack(cache: Path, to: Path) -> str:
    """Join the staged parts, check, decode and write the python-version training files under ``to``."""
    m = _manifest(cache / MANIFEST)
    missing = [p["name"] for p in m["parts"] if not (cache / f"{p['name']}.bin").is_file()]
    if missing:
        raise DataError(f"{cache} lacks {', '.join(missing)} of {len(m['parts'])} parts: stage them first")
    folder = to / FOLDER
    if folder.is_dir() and (folder / MANIFEST).is_file() and \
            _manifest(folder / MANIFEST)["images_sha256"] == m["images_sha256"]:
        return f"{folder} already holds these {m['shape'][0]} images (checked by their manifest)"
    if folder.exists() and any(folder.iterdir()):
        raise DataError(f"{folder} exists and holds other files: pick another --to (nothing was overwritten)")
    blob = b"".join((cache / f"{p['name']}.bin").read_bytes() for p in m["parts"])
    if _sha(blob) != m["blob_sha256"]:
        raise DataError(f"the joined parts in {cache} do not hash to the manifest's blob_sha256")
    raw = lzma.decompress(blob)
    n = m["shape"][0]
    images = decode(np.frombuffer(raw[:-n], dtype=np.uint8).reshape(m["shape"]))
    labels = np.frombuffer(raw[-n:], dtype=np.uint8)
    if _sha(images.tobytes()) != m["images_sha256"] or _sha(labels.tobytes()) != m["labels_sha256"]:
        raise DataError("the decoded images or labels differ from the packed ones (sha256): the codec is broken")
    tmp = to / f".{FOLDER}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    start = 0
    for name, count in zip(m["files"], m["images_per_file"]):
        batch = {b"batch_label": f"{name} (nasbench-sd device copy)".encode(),
                 b"labels": labels[start:start + count].astype(int).tolist(),
                 b"data": np.ascontiguousarray(images[start:start + count].reshape(count, -1))}
        with open(tmp / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        start += count
    (tmp / MANIFEST).write_text(json.dumps(m, indent=1) + "\n")
    if folder.exists():
        folder.rmdir()  # empty (checked above)
    os.replace(tmp, folder)
    return f"wrote {n} images in {len(m['files'])} files to {folder} (images and labels checked by sha256)"


# -- command line ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("pack", help="here: compress and cut the training set into parts")
    k.add_argument("--data-root", required=True, help=f"folder holding {FOLDER}/")
    k.add_argument("--to", default=".devdata")
    k.add_argument("--part-mib", type=float, default=None,
                   help="bytes per part in MiB [64 MiB less the working tree a call sends, less 2 MiB]")
    s = sub.add_parser("stage", help="on the device: check one part and keep it in the cache")
    s.add_argument("part", help="a part folder (.devdata/part-k)")
    s.add_argument("--cache", default=".devcache")
    u = sub.add_parser("unpack", help="on the device: join the staged parts into the python-version files")
    u.add_argument("--cache", default=".devcache")
    u.add_argument("--to", default=".devcache/cifar10", help="the --data-root to search with")
    a = p.parse_args(argv)
    try:
        if a.cmd == "pack":
            if a.part_mib is not None:
                size = int(a.part_mib * 2**20)
                if size < 1:
                    raise DataError(f"--part-mib must be positive, got {a.part_mib}")
            else:
                size = CALL_LIMIT - tree_bytes() - MARGIN
                if size < 2**20:
                    raise DataError(f"the working tree ({tree_bytes() / 2**20:.1f} MiB) leaves a call no room "
                                    "for data: carry less, or pass --part-mib")
            m = pack(Path(a.data_root), Path(a.to), size)
            print(f"{m['shape'][0]} images, {m['raw_bytes'] / 2**20:.1f} MiB raw -> {m['blob_bytes'] / 2**20:.1f} "
                  f"MiB in {len(m['parts'])} parts under {a.to}. Device calls, back to back:")
            for i, part in enumerate(m["parts"]):
                last = i == len(m["parts"]) - 1
                cmd = f"python3 benchmarks/device_data.py stage {a.to}/{part['name']} --cache .devcache"
                if last:
                    cmd += " && python3 benchmarks/device_data.py unpack --cache .devcache --to .devcache/cifar10"
                print(f"  {i + 1}. carry [\"{a.to}/{part['name']}\"]: {cmd}{' && <the window>' if last else ''}")
        elif a.cmd == "stage":
            print(stage(Path(a.part), Path(a.cache)))
        else:
            print(unpack(Path(a.cache), Path(a.to)))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
