"""Published NAS-Bench-201 numbers: the SD-DARTS paper's Table 4, and rows from other sources.

Copied from Table 4 of Zhu, Li, Liu, Wang, "Improving Differentiable Architecture Search via
Self-Distillation", Neural Networks 2023, arXiv 2302.05629 (v2). Searched on
CIFAR-10, the one genotype queried on all three data sets; accuracy in %, mean
± std over the paper's search runs (the paper does not restate n per row).
These are PUBLISHED figures, never measured here; tables label them so.
Rows of methods that Table 4 lacks (beta-DARTS, DrNAS, RSPS) come from their own
sources (:data:`OTHER_ROWS`), each labelled with that source.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "SD-DARTS (Zhu et al., Neural Networks 2023, arXiv 2302.05629), Table 4"

#: Our method name for the paper's rows where we implement the method (else None).
METHOD_NAMES: dict[str, str | None] = {
    "DARTS (1st)": "darts-v1",
    "DARTS (2nd)": "darts-v2",
    "GDAS": "gdas",
    "SNAS": "snas",
    "DSNAS": "dsnas",
    "PC-DARTS": "pc-darts",
    "iDARTS": "idarts",
    "DARTS-": "darts-minus",
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




@dataclass(frozen=True)
class PublishedRow:
    """A published NB201 row from a source other than the SD-DARTS paper's Table 4."""

    name: str  # the method as its source names it
    method: str | None  # our method name
    source: str  # short label shown beside the row (table label and CSV)
    figures: tuple[tuple[float, float], ...]  # six (mean, std), column order as TABLE4
    note: str = ""  # how the values were checked


#: Rows from the methods' own sources (not in SD-DARTS Table 4). See ../shared/docs/METHODS.md, sections (e).
OTHER_ROWS: tuple[PublishedRow, ...] = (
    PublishedRow(
        "beta-DARTS", "beta-darts", "beta-DARTS (Ye et al., CVPR 2022), NB201 table",
        ((91.55, 0.00), (94.36, 0.00), (73.49, 0.00), (73.51, 0.00), (46.37, 0.00), (46.34, 0.00)),
        "as copied in GENIUS (arXiv 2304.10970) Table 1; the beta-DARTS table itself not read "
        "(paperswithcode lists 46.71 ImageNet16-120 test for beta-DARTS, possibly another search setting)"),
    PublishedRow(
        "DrNAS", "drnas", "DrNAS (Chen et al., ICLR 2021), NB201 table",
        ((91.55, 0.00), (94.36, 0.00), (73.49, 0.00), (73.51, 0.00), (46.37, 0.00), (46.34, 0.00)),
        "test columns checked against the DrNAS repository README (94.36 / 73.51 / 46.34, all ± 0.00); "
        "valid columns as copied in GENIUS Table 1"),
    PublishedRow(
        "RSPS", "rsps", "NAS-Bench-201 (Dong & Yang, ICLR 2020), main comparison table",
        ((84.16, 1.69), (87.66, 1.69), (45.78, 6.33), (46.60, 6.57), (31.09, 5.65), (30.78, 6.12)),
        "3 runs, CIFAR-10 search; values as copied in the EEEA-Net NB201 table; table number not confirmed"),
)


def published_rows() -> list[tuple[str, tuple[tuple[float, float], ...]]]:
    """The SD-DARTS Table 4 rows, in the paper's order."""
    return list(TABLE4.items())


def all_published() -> list[tuple[str, str | None, str, tuple[tuple[float, float], ...]]]:
    """Every published row as (name, our method or None, source label, figures):
    Table 4 first (in the paper's order), then :data:`OTHER_ROWS`."""
    rows = [(name, METHOD_NAMES[name], SOURCE, pairs) for name, pairs in TABLE4.items()]
    return rows + [(r.name, r.method, r.source, r.figures) for r in OTHER_ROWS]
