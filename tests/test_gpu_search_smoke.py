"""benchmarks/gpu_search.py, prepared for a short GPU window, runs here in
--smoke mode (toy sizes on the CPU): every part produces its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_search_smoke_writes_every_part(tmp_path):
    out = tmp_path / "gpu_search.md"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_search.py"), "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert "(cpu)" in text and "--smoke" in text
    for part in ("## 1.", "## 2.", "## 3."):
        assert part in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert any(line.startswith("| darts-v1 | paper") for line in rows)
    assert any(line.startswith("| sd-darts | method.warmup=1") for line in rows)
    assert any("| darts: SuperNet | bf16 | on |" in line for line in rows)
    gdas = next(line for line in rows if line.startswith("| gdas | "))
    assert gdas.split("|")[2].strip() == "1"  # its one read of the sampled ops per step
    assert "skipped" not in text
