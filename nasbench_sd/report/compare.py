"""What a comparison of table rows needs beyond means: multiple-test correction,
the direction of each difference, and the shared settings in which rows differ.

* :func:`holm` - Holm's step-down adjustment of a family of p-values (the family
  is every test of one table: each measured row against the baseline, per column);
* :func:`shared_differences` - the shared (non-method) search settings whose
  values differ between the measured rows of one table. A method's own fields
  are its definition, and diagnostics change no result, so neither counts; any
  other difference confounds the comparison and is named in the caption.
"""

from __future__ import annotations

from typing import Any

from nasbench_sd.config import DIAGNOSTICS  # settings that change no result: rows may differ in them
from nasbench_sd.presets import with_defaults

#: Correction methods for ``--correction``.
CORRECTIONS = ("none", "holm")


def holm(pvalues: dict[Any, float]) -> dict[Any, float]:
    """Holm-adjusted p-values (step-down, monotone, capped at 1) of a family."""
    order = sorted(pvalues, key=lambda k: pvalues[k])
    m = len(order)
    out, running = {}, 0.0
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[key]))
        out[key] = running
    return out


def direction(diff: float | None) -> str:
    """'better' / 'worse' / 'equal' for (row mean - baseline mean) of an accuracy."""
    if diff is None:
        return ""
    return "better" if diff > 0 else "worse" if diff < 0 else "equal"


def _fmt(v: Any) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def shared_differences(configs: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Setting -> {row label: value} for each shared search setting whose value
    differs between rows (diagnostics excluded); ``configs`` are saved run
    configs (``config.json``) per row label. Also the preset when it differs."""
    out: dict[str, dict[str, str]] = {}
    if len(configs) < 2:
        return out
    configs = {label: with_defaults(cfg) for label, cfg in configs.items()}  # fields a config predates
    presets = {label: str(cfg.get("preset")) for label, cfg in configs.items()}
    if len(set(presets.values())) > 1:
        out["preset"] = presets
    keys = sorted({k for cfg in configs.values() for k in (cfg.get("search") or {})})
    for key in keys:
        if key in DIAGNOSTICS:
            continue
        values = {label: _fmt((cfg.get("search") or {}).get(key)) for label, cfg in configs.items()}
        if len(set(values.values())) > 1:
            out[key] = values
    return out


def describe_differences(diffs: dict[str, dict[str, str]]) -> str:
    """'w_weight_decay (darts-v1 0.0005; sd-darts 0.0003)' for every differing setting."""
    return "; ".join(f"{key} ({', '.join(f'{label} {v}' for label, v in values.items())})"
                     for key, values in diffs.items())
