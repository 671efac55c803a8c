"""One setting swept over values (SD-DARTS Fig. 5: warm-up, Fig. 6: window K).

Each value is a group ``<method>-<param>=<value>`` run by the ordinary runner
with ``--set <key>=<value>`` added (``key`` = a SearchConfig field, else
``method.<param>``). Its summary (CSV and plot) is
:mod:`nasbench_sd.report.ablation`.
"""

from __future__ import annotations

import dataclasses

from nasbench_sd.errors import UserError
from nasbench_sd.experiments.layout import check_label
from nasbench_sd.experiments.runner import Group


def setting_key(method: str, param: str) -> str:
    """``warmup`` -> ``method.warmup``; ``epochs`` -> ``epochs``; unknown -> UserError."""
    from nasbench_sd.config import SearchConfig
    from nasbench_sd.methods import get_method

    name = param.removeprefix("method.")
    search_fields = {f.name for f in dataclasses.fields(SearchConfig)}
    method_fields = {f.name for f in dataclasses.fields(get_method(method).Config)}
    if param.startswith("method.") or name not in search_fields:
        if name not in method_fields:
            known = f"method: {', '.join(sorted(method_fields)) or 'none'}; search: {', '.join(sorted(search_fields))}"
            raise UserError(f"unknown setting {param!r} for {method} ({known})")
        return f"method.{name}"
    return name


def parse_values(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",")]
    if not text.strip() or any(not v for v in values):
        raise UserError(f"--values expects a comma-separated list like 0,5,10, got {text!r}")
    if len(set(values)) != len(values):
        raise UserError(f"--values lists a value twice: {text!r}")
    return values


def ablation_groups(method: str, param: str, values: str, sets: dict[str, str]
                    ) -> tuple[list[Group], str, list[str]]:
    """The groups of an ablation, the ``--set`` key swept, and the values."""
    key = setting_key(method, param)
    name = key.removeprefix("method.")
    if key in sets or name in sets or f"method.{name}" in sets:
        raise UserError(f"{param!r} is swept by --param; do not also --set it")
    value_list = parse_values(values)
    groups = [Group(label=check_label(f"{method}-{name}={v}"), method=method, sets=tuple({**sets, key: v}.items()))
              for v in value_list]
    return groups, key, value_list
