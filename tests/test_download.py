"""Data on demand: a missing CIFAR-10 is downloaded, verified before it is
unpacked into place, and used; a corrupt or truncated archive is refused with
one line and leaves nothing behind; --no-download and NASBENCH_SD_OFFLINE=1
never touch the network. A local HTTP server on 127.0.0.1 plays the mirror."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nasbench_sd.cli import main
from nasbench_sd.data import download
from nasbench_sd.testing.synthetic import FOLDER, cifar10_archive

ARCHIVE = "cifar-10-python.tar.gz"
FILES = ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
         "readme.html", "test_batch"]
TINY = ["--set", "channels=4", "--set", "cells_per_stage=1", "--set", "train_limit=32", "--set", "batch_size=16",
        "--set", "epochs=1", "--set", "split=darts-half"]


class Mirror:
    """A bounded HTTP server on 127.0.0.1: serves ``files[path] = (body, cut)`` (``cut``:
    bytes sent before the connection drops, with the full Content-Length announced)
    and records every request. It stops by itself after ``lifetime_s``."""

    def __init__(self, lifetime_s: float = 120.0):
        self.files: dict[str, tuple[bytes, int | None]] = {}
        self.requests: list[str] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server protocol
                mirror.requests.append(self.path)
                if self.path not in mirror.files:
                    self.send_error(404)
                    return
                body, cut = mirror.files[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if cut is None else body[:cut])

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 0.1
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._stop = threading.Event()
        deadline = time.monotonic() + lifetime_s

        def serve():
            while not self._stop.is_set() and time.monotonic() < deadline:
                self.server.handle_request()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.server.server_close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[bytes, str]:
    """A small CIFAR-10 archive in the official format (300 train, 60 test images) and its MD5."""
    path = tmp_path_factory.mktemp("archive") / ARCHIVE
    md5 = cifar10_archive(path)
    return path.read_bytes(), md5


@pytest.fixture
def mirror(archive, monkeypatch, tmp_path):
    """The mirror serving good/, corrupt/ and truncated/ copies; the default data root
    in a temporary cache folder; the official checksum replaced by the archive's."""
    body, md5 = archive
    corrupt = bytearray(body)
    corrupt[len(body) // 2] ^= 0xFF
    server = Mirror()
    server.files = {f"/good/{ARCHIVE}": (body, None), f"/corrupt/{ARCHIVE}": (bytes(corrupt), None),
                    f"/truncated/{ARCHIVE}": (body, len(body) // 2)}
    monkeypatch.setitem(download.ARCHIVES, "cifar10", dataclasses.replace(download.ARCHIVES["cifar10"], md5=md5))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NASBENCH_SD_DATA", raising=False)
    monkeypatch.delenv("NASBENCH_SD_OFFLINE", raising=False)
    monkeypatch.setenv("NASBENCH_SD_DATA_MIRROR", f"{server.url}/good")
    yield server
    server.close()


def data_root(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "nasbench-sd" / "data"


def cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def search(out: Path, *extra: str) -> list[str]:
    return ["search", "-m", "darts-v1", "--preset", "cpu", "--device", "cpu", "--quiet", "--out", str(out), *TINY,
            *extra]


def test_search_downloads_verifies_and_uses_the_archive(mirror, tmp_path, capsys):
    code, out, err = cli(capsys, *search(tmp_path / "run"))
    assert code == 0, err
    assert mirror.requests == [f"/good/{ARCHIVE}"]
    root = data_root(tmp_path)
    assert sorted(p.name for p in (root / FOLDER).iterdir()) == FILES
    assert [p.name for p in root.iterdir()] == [FOLDER]  # no staging folder or archive left
    assert "checksum verified" in err and str(root / FOLDER) in err
    assert out.splitlines()[0].startswith("preset cpu (--preset), device cpu (--device)")
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["provenance"]["data"]["split"] == "darts-half" and result["provenance"]["data"]["n_train"] == 32
    # the data are now in place: a second search downloads nothing
    code, _, err = cli(capsys, *search(tmp_path / "run2"))
    assert code == 0, err
    assert mirror.requests == [f"/good/{ARCHIVE}"]


@pytest.mark.parametrize("kind, fragment", [("corrupt", "fails its checksum"), ("truncated", "stopped after")])
def test_bad_archive_is_refused_and_leaves_nothing(kind, fragment, mirror, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NASBENCH_SD_DATA_MIRROR", f"{mirror.url}/{kind}")
    code, _, err = cli(capsys, *search(tmp_path / "run"))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fragment in err and "nothing was kept" in err and f"{mirror.url}/{kind}/{ARCHIVE}" in err
    assert mirror.requests == [f"/{kind}/{ARCHIVE}"]
    root = data_root(tmp_path)
    assert list(root.iterdir()) == []  # no data folder, no staging folder, no partial archive
    assert not (tmp_path / "run").exists()


def test_mirror_is_checked_against_the_official_checksum(mirror, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(download.ARCHIVES, "cifar10",
                        dataclasses.replace(download.ARCHIVES["cifar10"], md5="c58f30108f718f92721af3b95e74349a"))
    code, _, err = cli(capsys, *search(tmp_path / "run"))
    assert code == 2 and "official c58f30108f718f92721af3b95e74349a" in err, err
    assert list(data_root(tmp_path).iterdir()) == []


@pytest.mark.parametrize("command", [
    ["search", "-m", "darts-v1", "--out", "{tmp}/run", "--no-download"],
    ["run", "-m", "darts-v1", "--seeds", "1", "--out", "{tmp}/exp", "--no-download"],
    ["ablate", "-m", "sd-darts", "--param", "K", "--values", "1,2", "--seeds", "1", "--out", "{tmp}/abl",
     "--no-download"],
    ["search", "-m", "darts-v1", "--out", "{tmp}/run", "NASBENCH_SD_OFFLINE=1"],
    ["run", "-m", "darts-v1", "--seeds", "1", "--out", "{tmp}/exp", "NASBENCH_SD_OFFLINE=1"],
], ids=["search-no-download", "run-no-download", "ablate-no-download", "search-offline", "run-offline"])
def test_no_download_and_offline_refuse_without_network(command, mirror, monkeypatch, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in command]
    if argv[-1] == "NASBENCH_SD_OFFLINE=1":
        monkeypatch.setenv("NASBENCH_SD_OFFLINE", "1")
        argv = argv[:-1]
    code, _, err = cli(capsys, *argv, "--preset", "cpu", "--device", "cpu", "-q")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "CIFAR-10 not found" in err, err
    assert ("--no-download" in argv) == ("NASBENCH_SD_OFFLINE" not in err)
    assert mirror.requests == []
    assert not data_root(tmp_path).exists()
    assert not any(tmp_path.glob("run")) and not any(tmp_path.glob("exp")) and not any(tmp_path.glob("abl"))


def test_imagenet16_keeps_its_message(mirror, tmp_path, capsys):
    code, _, err = cli(capsys, *search(tmp_path / "run", "--set", "dataset=imagenet16-120", "--set",
                                       "split=official"))
    assert code == 2 and "ImageNet16-120 not found" in err, err
    assert mirror.requests == []


def test_incomplete_folder_is_not_overwritten(mirror, tmp_path, capsys):
    folder = data_root(tmp_path) / FOLDER
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"mine")
    code, _, err = cli(capsys, *search(tmp_path / "run"))
    assert code == 2 and "exists but is incomplete" in err, err
    assert mirror.requests == [] and [p.name for p in folder.iterdir()] == ["data_batch_1"]


def test_a_killed_downloads_leftovers_are_removed_not_used(mirror, tmp_path, capsys):
    root = data_root(tmp_path)
    old, young = root / ".cifar-10-batches-py.old.download", root / ".cifar-10-batches-py.young.download"
    for folder in (old, young):
        (folder / FOLDER).mkdir(parents=True)
        (folder / ARCHIVE).write_bytes(b"half an archive")
    for p in (old / ARCHIVE, old / FOLDER, old):
        os.utime(p, (1, 1))
    code, _, err = cli(capsys, *search(tmp_path / "run"))
    assert code == 0, err
    assert sorted(p.name for p in root.iterdir()) == sorted([FOLDER, young.name])
    assert mirror.requests == [f"/good/{ARCHIVE}"]


def test_disk_full_while_downloading(mirror, monkeypatch, tmp_path, capsys):
    real_open = open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, chunk):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(download, "open", lambda p, mode="r": FullFile(real_open(p, mode)), raising=False)
    code, _, err = cli(capsys, *search(tmp_path / "run"))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.count("disk full") == 1 and ARCHIVE in err, err
    assert list(data_root(tmp_path).iterdir()) == []
