"""Fetching a missing CIFAR data set: download, verify, then unpack into place.

The archive is streamed into a hidden staging folder inside the data root,
its MD5 is checked against the official checksum, it is unpacked there, and
only then is the data set folder renamed into place (one atomic rename). A
partial, corrupt or interrupted download therefore never counts as data:
the staging folder is removed on every failure and nothing else is written.

Environment:

* ``NASBENCH_SD_OFFLINE=1`` - never download (offline clusters); the readers
  report the missing files instead.
* ``NASBENCH_SD_DATA_MIRROR=URL`` - fetch ``URL/<official archive name>``
  (e.g. ``URL/cifar-10-python.tar.gz``) instead of the official location; it
  is verified against the official checksum all the same.

:data:`ARCHIVES` is the one table of official locations and checksums. Tests
replace an entry (``monkeypatch.setitem``) to serve a small archive of known
checksum; nothing else reads or changes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nasbench_sd.errors import UserError
from nasbench_sd.io import reporting_disk_full

OFFLINE_ENV = "NASBENCH_SD_OFFLINE"
MIRROR_ENV = "NASBENCH_SD_DATA_MIRROR"
#: Seconds without data before a download is given up.
TIMEOUT_S = 60
#: A staging folder untouched this long was left by a killed process and is removed.
STALE_S = 3600
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """An official data set archive: where it lives, its checksum, the folder it unpacks to."""

    title: str
    url: str
    md5: str
    folder: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


#: Official archives; URLs and MD5 checksums as published on https://www.cs.toronto.edu/~kriz/cifar.html.
ARCHIVES: dict[str, Archive] = {
    "cifar10": Archive("CIFAR-10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                       "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py"),
    "cifar100": Archive("CIFAR-100", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                        "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python"),
}


def offline() -> bool:
    """True when ``NASBENCH_SD_OFFLINE`` is set to anything but '', '0', 'false' or 'no'."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def archive_url(archive: Archive) -> str:
    """The official URL, or ``$NASBENCH_SD_DATA_MIRROR/<archive name>`` when a mirror is set."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{archive.filename}" if mirror else archive.url


def fetch(name: str, root: Path) -> Path:
    """Download, verify and unpack data set ``name`` ("cifar10" | "cifar100") into ``root``.

    Returns ``root / <folder>``. Raises :class:`UserError` (one line) when the
    download fails, the checksum differs, the archive is malformed or the disk
    is full; nothing is left behind in any of these cases.
    """
    archive = ARCHIVES[name]
    url = archive_url(archive)
    target = root / archive.folder
    with reporting_disk_full(root):
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(root, archive)
        staging = Path(tempfile.mkdtemp(prefix=f".{archive.folder}.", suffix=".download", dir=root))
    try:
        tgz = staging / archive.filename
        _download(url, tgz, archive)
        _unpack(tgz, staging, archive, url)
        with reporting_disk_full(target):
            try:
                os.replace(staging / archive.folder, target)
            except OSError:
                if not target.is_dir():  # another process put it there first: keep theirs
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"nasbench-sd: {archive.title} downloaded from {url}, checksum verified, unpacked into {target}",
          file=sys.stderr)
    return target


def _remove_stale_staging(root: Path, archive: Archive) -> None:
    """Remove staging folders of killed downloads (unchanged for :data:`STALE_S`);
    a younger one may belong to a download in progress elsewhere and is kept."""
    import time

    for folder in root.glob(f".{archive.folder}.*.download"):
        try:
            newest = max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir())])
        except OSError:
            continue
        if time.time() - newest > STALE_S:
            shutil.rmtree(folder, ignore_errors=True)


def _download(url: str, dest: Path, archive: Archive) -> None:
    """Stream ``url`` into ``dest`` with a progress bar; check size and MD5."""
    import urllib.error
    import urllib.request
    from http.client import HTTPException

    from tqdm import tqdm

    md5, got = hashlib.md5(), 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with reporting_disk_full(dest), open(dest, "wb") as f, \
                    tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, disable=None,
                         desc=f"{archive.title} {archive.filename}", file=sys.stderr, leave=False) as bar:
                while chunk := resp.read(_CHUNK):
                    f.write(chunk)
                    md5.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except UserError:
        raise
    except (urllib.error.URLError, HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise UserError(f"{archive.title} download from {url} failed ({type(e).__name__}: {reason}); nothing "
                        f"was kept. {_alternatives(archive)}") from None
    if expected is not None and got != expected:
        raise UserError(f"{archive.title} download from {url} stopped after {got} of {expected} bytes; nothing "
                        f"was kept. Retry, or {_alternatives(archive, lower=True)}")
    if md5.hexdigest() != archive.md5:
        raise UserError(f"{archive.title} archive from {url} fails its checksum (md5 {md5.hexdigest()}, official "
                        f"{archive.md5}): corrupt or incomplete; nothing was kept. {_alternatives(archive)}")


def _unpack(tgz: Path, staging: Path, archive: Archive, url: str) -> None:
    """Unpack the verified archive into ``staging``: plain files and folders below
    ``archive.folder`` only (no links, no absolute or '..' paths)."""
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                inside = m.name == archive.folder or m.name.startswith(archive.folder + "/")
                if not inside or ".." in Path(m.name).parts or not (m.isfile() or m.isdir()):
                    raise ValueError(f"unexpected member {m.name!r}")
            with reporting_disk_full(staging):
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, members=members, filter="data")
                else:  # pragma: no cover - Python < 3.11.4; members were checked above
                    tar.extractall(staging, members=members)
    except UserError:
        raise
    except (tarfile.TarError, OSError, ValueError, EOFError) as e:
        raise UserError(f"{archive.title} archive from {url} cannot be unpacked ({e}); nothing was kept") from None
    if not (staging / archive.folder).is_dir():
        raise UserError(f"{archive.title} archive from {url} holds no {archive.folder}/; nothing was kept")


def _alternatives(archive: Archive, lower: bool = False) -> str:
    text = (f"Pass --data-root DIR holding {archive.folder}/, or set {MIRROR_ENV}=URL serving "
            f"{archive.filename}")
    return text[0].lower() + text[1:] if lower else text

