"""Names and paths of an experiment: methods, seeds, run directories, discovery.

Nothing here writes to disk; :func:`check_writable` answers whether a
directory could be created and written without creating it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError

MANIFEST = "experiment.json"
#: Where searches go unless told otherwise (``--out``): a folder of the user's own, relative to the
#: working directory (ignored by git in a clone of this repository), never the committed ``results/``,
#: whose runs are regenerated only by an explicit ``--out results/...``.
DEFAULT_ROOT = "runs"
SEED_DIR = re.compile(r"^seed-(\d+)$")
_LABEL_OK = re.compile(r"^[A-Za-z0-9_.,=+-]+$")


def parse_methods(text: str) -> list[str]:
    """``"sd-darts,gdas"`` -> ``["sd-darts", "gdas"]``; each name must be registered."""
    from nasbench_sd.methods import get_method

    names = [m.strip() for m in text.split(",")]
    if not text.strip() or any(not m for m in names):
        raise UserError(f"--method expects NAME[,NAME...], got {text!r}")
    if len(set(names)) != len(names):
        raise UserError(f"--method lists a method twice: {text!r}")
    for name in names:
        get_method(name)  # unknown -> UserError naming the available ones
    return names


def parse_seeds(text: str) -> list[int]:
    """``"5"`` -> seeds 0..4; ``"0,3,7"`` -> that list (a single seed: ``"7,"``)."""
    text = str(text).strip()
    parts = [p.strip() for p in text.split(",")]
    if "," in text:
        if parts and parts[-1] == "":  # "7," = the one seed 7
            parts = parts[:-1]
        if not parts or not all(p.isdigit() for p in parts):
            raise UserError(f"--seeds expects a count N (seeds 0..N-1) or a list of seeds >= 0, got {text!r}")
        seeds = [int(p) for p in parts]
        if len(set(seeds)) != len(seeds):
            raise UserError(f"--seeds lists a seed twice: {text!r}")
        return seeds
    if not re.fullmatch(r"[+-]?\d+", text):
        raise UserError(f"--seeds expects a count N (seeds 0..N-1) or a list like 0,3,7, got {text!r}")
    count = int(text)
    if count <= 0:
        raise UserError(f"--seeds must be a count > 0 or a list of seeds, got {text!r}")
    return list(range(count))


def check_label(label: str) -> str:
    """A group label is one directory name: letters, digits and ``_.,=+-``."""
    if not _LABEL_OK.match(label) or label in (".", ".."):
        raise UserError(f"{label!r} cannot name a results directory (use letters, digits and _.,=+-)")
    return label


def experiment_dir(preset: str) -> str:
    """The default experiment directory of ``run``: ``runs/<preset>``."""
    return f"{DEFAULT_ROOT}/{preset}"


def ablation_dir(preset: str, method: str, param: str) -> str:
    """The default experiment directory of ``ablate``: ``runs/<preset>-<method>-<param>``."""
    return f"{DEFAULT_ROOT}/{preset}-{method}-{param}"


def run_path(root: str | Path, label: str, seed: int) -> Path:
    """``<root>/<label>/seed-<seed>``."""
    return Path(root) / label / f"seed-{seed}"


def check_writable(folder: str | Path) -> Path:
    """Fail with a :class:`UserError` unless ``folder`` exists as a writable
    directory or could be created (nearest existing parent writable); writes nothing."""
    folder = Path(folder).expanduser()
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"output directory {folder} cannot be created: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"output directory {folder} is not writable (no write permission on {probe})")
    return folder


def is_locked(folder: Path) -> bool:
    """Whether a live nasbench-sd process holds ``folder/.lock`` now (the lock
    goes with the process that held it, however it ended); creates nothing."""
    import fcntl

    lock = Path(folder) / ".lock"
    if not lock.is_file():
        return False
    try:
        with open(lock) as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def check_not_locked(folder: Path, what: str = "run directory") -> None:
    """Fail if a live nasbench-sd process holds ``folder/.lock``; creates nothing."""
    if is_locked(folder):
        raise UserError(f"{what} {folder} is in use by another nasbench-sd process")


@dataclass(frozen=True)
class FoundRun:
    """A finished run found below a results directory."""

    group: str  # path of the group directory relative to the results root ("sd-darts")
    seed: int
    path: Path  # the run directory
    result: dict[str, Any]


def _single_run(root: Path, marker: str) -> tuple[str, int] | None:
    """(group, seed) when ``root`` is itself a run directory (holds ``marker``), else None.

    A ``seed-<n>`` directory belongs to the group named by its parent; any other
    run directory (``search --out runs/sd0``) to its method, read from config.json."""
    if not (root / marker).is_file():
        return None
    m = SEED_DIR.match(root.name)
    if m:
        return root.resolve().parent.name, int(m.group(1))
    try:
        cfg = json.loads((root / "config.json").read_text())
        return str(cfg.get("method") or root.name), int(cfg.get("seed", 0))
    except (OSError, ValueError, TypeError):
        return root.resolve().name, 0


def _read_result(p: Path) -> dict[str, Any]:
    try:
        result = json.loads(p.read_text())
        if not isinstance(result, dict) or "benchmark" not in result:
            raise ValueError("not a result")
        return result
    except (OSError, ValueError):
        raise UserError(f"{p} is not a readable result.json; move that run aside") from None


def find_results(root: str | Path) -> list[FoundRun]:
    """Every finished run at or below ``root``: ``root`` may be one run directory
    (a ``seed-<n>`` directory or a ``search --out`` directory), a group (method)
    directory, or an experiment (``<group>/seed-<n>/result.json``, recursively)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"results directory {root} does not exist")
    single = _single_run(root, "result.json")
    if single is not None:
        return [FoundRun(group=single[0], seed=single[1], path=root, result=_read_result(root / "result.json"))]
    found = []
    for p in sorted(root.rglob("result.json")):
        m = SEED_DIR.match(p.parent.name)
        if not m:
            continue
        result = _read_result(p)
        group = p.parent.parent.relative_to(root).as_posix()
        if group == ".":
            group = p.parent.parent.resolve().name
        found.append(FoundRun(group=group, seed=int(m.group(1)), path=p.parent, result=result))
    return found


def find_run_dirs(root: str | Path) -> dict[str, list[Path]]:
    """Group -> run directories (finished or not) holding a metrics.jsonl, at or below
    ``root`` (one run directory, a group directory or an experiment)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"results directory {root} does not exist")
    single = _single_run(root, "metrics.jsonl")
    if single is not None:
        return {single[0]: [root]}
    groups: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("metrics.jsonl")):
        if not SEED_DIR.match(p.parent.name):
            continue
        group = p.parent.parent.relative_to(root).as_posix()
        groups.setdefault(group if group != "." else p.parent.parent.resolve().name, []).append(p.parent)
    for dirs in groups.values():
        dirs.sort(key=lambda d: int(SEED_DIR.match(d.name).group(1)))
    return groups
