"""Shared by the benchmark scripts: write a Markdown report and echo it."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_report(name: str, lines: list[str]) -> Path:
    """Write ``lines`` to benchmarks/results/<name> and print them."""
    out = RESULTS / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return out
