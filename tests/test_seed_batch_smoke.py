"""benchmarks/seed_batch.py, prepared for a short GPU window, runs here in --smoke mode
(a toy size on the CPU): every kind of row gets a figure and the file names the machine."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_seed_batch_smoke_measures_every_kind(tmp_path):
    out = tmp_path / "seed_batch.md"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "seed_batch.py"), "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert "--smoke" in text and "torch " in text and "cores" in text and "device cpu" in text
    row = json.loads(out.with_suffix(".json").read_text())["rows"][0]
    assert row["seeds"] == 2
    have_xautodl = importlib.util.find_spec("xautodl") is not None  # the `reference` extra
    for kind in ("batched", "separate", "vmap", *(("xautodl",) if have_xautodl else ())):
        assert row[kind]["per_seed"] > 0, kind
    assert "| 2 |" in text and "skipped" not in text
