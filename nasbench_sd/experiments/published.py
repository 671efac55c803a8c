"""The SD-DARTS paper's published NAS-Bench-201 numbers (its Table 4).

Copied from docs/SD-DARTS.md ("NAS-Bench-201 results (Table 4)"): Zhu, Li,
Liu, Wang, "Improving Differentiable Architecture Search via
Self-Distillation", Neural Networks 2023, arXiv 2302.05629 (v2). Searched on
CIFAR-10, the one genotype queried on all three data sets; accuracy in %, mean
± std over the paper's search runs (the paper does not restate n per row).
These are PUBLISHED figures, never measured here; tables label them so.
"""

from __future__ import annotations

SOURCE = "SD-DARTS (Zhu et al., Neural Networks 2023, arXiv 2302.05629), Table 4"

#: Our method name for the paper's rows where we implement the method (else None).
METHOD_NAMES: dict[str, str | None] = {
    "DARTS (1st)": "darts-v1",
    "DARTS (2nd)": "darts-v2",
    "GDAS": "gdas",
    "SNAS": None,
    "DSNAS": None,
    "PC-DARTS": "pc-darts",
    "iDARTS": None,
    "DARTS-": None,
    "SD-DARTS": "sd-darts",
}

#: Row -> six (mean, std) pairs in column order c10_valid, c10_test, c100_valid,
#: c100_test, in16_valid, in16_test.
TABLE4: dict[str, tuple[tuple[float, float], ...]] = {
    "DARTS (1st)": ((39.77, 0.00), (54.30, 0.00), (15.03, 0.00), (15.61, 0.00), (16.43, 0.00), (16.32, 0.00)),
    "DARTS (2nd)": ((39.77, 0.00), (54.30, 0.00), (15.03, 0.00), (15.61, 0.00), (16.43, 0.00), (16.32, 0.00)),
    "GDAS": ((89.89, 0.08), (93.61, 0.09), (71.34, 0.04), (70.70, 0.30), (41.59, 1.33), (41.71, 0.98)),
    "SNAS": ((90.10, 1.04), (92.77, 0.83), (69.69, 2.39), (69.34, 1.98), (42.84, 1.79), (43.16, 2.64)),
    "DSNAS": ((89.66, 0.29), (93.08, 0.13), (30.87, 16.40), (31.01, 16.38), (40.61, 0.09), (41.07, 0.09)),
    "PC-DARTS": ((89.96, 0.15), (93.41, 0.30), (67.12, 0.39), (67.48, 0.89), (40.83, 0.08), (41.31, 0.22)),
    "iDARTS": ((89.86, 0.60), (93.58, 0.32), (70.57, 0.24), (70.83, 0.48), (40.38, 0.59), (40.89, 0.68)),
    "DARTS-": ((91.03, 0.44), (93.80, 0.40), (71.36, 1.51), (71.53, 1.51), (44.87, 1.46), (45.12, 0.82)),
    "SD-DARTS": ((91.21, 0.11), (93.91, 0.08), (70.87, 0.33), (71.88, 0.76), (45.75, 0.26), (46.03, 0.59)),
}

#: The paper's last row: best cell of NB201 v1_1 per column (equal to the
#: column maxima of the bundled table, which the table command reads instead).
BEST_PUBLISHED: tuple[float, ...] = (91.61, 94.37, 73.49, 73.51, 46.73, 47.31)


def published_rows() -> list[tuple[str, tuple[tuple[float, float], ...]]]:
    """The published rows, in the paper's order."""
    return list(TABLE4.items())
