"""Redraw a committed ablation's summary (ablation-<param>.csv, .png, .pdf) from its
runs and experiment.json, without running anything (``nasbench-sd ablate`` writes
the same files after its runs).

    python benchmarks/summarize_ablation.py results/proxy-K [results/proxy-warmup ...]
"""

from __future__ import annotations

import argparse

from nasbench_sd.report.ablation import summarize_committed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+")
    for folder in p.parse_args(argv).folders:
        for path in summarize_committed(folder):
            print(path)


if __name__ == "__main__":
    main()
