"""benchmarks/paired_runs.py says when a seed's pair ran on two kinds of machine:
such a pair differs from epoch 1 whatever the setting, so its "first differ"
column measures the machine, not the setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CELL = "|skip_connect~0|+|skip_connect~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
MACHINE = {"platform": "Linux-x86_64", "cpu": "Some CPU", "cpu_capability": "AVX512", "device": "cpu",
           "torch": "2.14.1"}


def write_run(group: Path, seed: int, probs: float, **machine) -> None:
    run = group / f"seed-{seed}"
    run.mkdir(parents=True)
    records = [{"epoch": e, "cell": CELL, "op_probs": [[probs] * 5] * 6} for e in (1, 2)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = {"cell": CELL, "num_parameter_free": 4, "benchmark": {"c10_test": 91.95},
              "provenance": {**MACHINE, **machine}}
    (run / "result.json").write_text(json.dumps(result))


def rows(a: Path, b: Path) -> dict[str, str]:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "paired_runs.py"), str(a), str(b)],
                         capture_output=True, text=True, check=True).stdout
    table = [line.split(" | ") for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    return {cols[0].strip("| "): cols[-1].rstrip(" |") for cols in table}


def test_a_pair_from_two_kinds_of_cpu_is_marked(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_run(a, 0, 0.2)
    write_run(b, 0, 0.2)
    write_run(a, 1, 0.2)
    write_run(b, 1, 0.21, cpu_capability="AVX2")
    machine = rows(a, b)
    assert machine["0"] == "same"
    assert machine["1"] == "differs: cpu_capability AVX512 / AVX2"


def test_results_that_predate_the_cpu_fields_are_not_called_the_same_machine(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_run(a, 0, 0.2)
    write_run(b, 0, 0.2)
    for group in (a, b):  # an older result: no cpu, no cpu_capability
        path = group / "seed-0" / "result.json"
        result = json.loads(path.read_text())
        del result["provenance"]["cpu"], result["provenance"]["cpu_capability"]
        path.write_text(json.dumps(result))
    assert rows(a, b)["0"] == "same as far as recorded"
