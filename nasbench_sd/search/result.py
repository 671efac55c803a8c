"""result.json: the final cell, its six benchmark figures, how settled the search ended
(``convergence``: :mod:`nasbench_sd.convergence`), and how it was made."""

from __future__ import annotations

from typing import Any

from nasbench_sd.cells import Cell
from nasbench_sd.config import RunConfig
from nasbench_sd.convergence import convergence_from_records
from nasbench_sd.provenance import environment

BN_MODE = "search cells: BatchNorm affine=False with batch statistics (track_running_stats=False)"


def build_result(cfg: RunConfig, cell: Cell, bench, records: list[dict[str, Any]], wall_time: float,
                 data, revisions: list[str] | None = None,
                 diagnostics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of result.json for a finished run. ``revisions``: the code revisions
    that ran it, in order; more than one (a run resumed under other code) are all listed.
    ``diagnostics``: the method's end-of-search figures, added to ``convergence``."""
    rec = bench.record(cell)
    data_prov = data.provenance() if data is not None else {"dataset": cfg.search.dataset,
                                                             "split": cfg.search.split}
    return {
        "method": cfg.method,
        "seed": cfg.seed,
        "preset": cfg.preset,
        "cell": str(cell),
        "index": rec.index,
        "benchmark": rec.figures(),
        "params_mb_cifar10": rec.params_mb_cifar10,
        "num_parameter_free": cell.num_parameter_free,
        "epochs": len(records),
        "convergence": convergence_from_records(records, diagnostics),
        "wall_time_s": round(wall_time, 3),
        "config": cfg.to_dict(),
        "provenance": {
            **environment(cfg.device),
            "benchmark": bench.provenance(),
            "search_dataset": cfg.search.dataset,
            "query_datasets": ["cifar10-valid (x-valid)", "cifar10 (ori-test)", "cifar100 (x-valid, x-test)",
                               "ImageNet16-120 (x-valid, x-test)"],
            "split_protocol": cfg.search.split,
            "data": data_prov,
            "bn_mode": BN_MODE,
            **({"code_revisions": revisions} if revisions and len(revisions) > 1 else {}),
        },
    }
