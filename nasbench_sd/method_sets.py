"""``--set`` for runs of several methods: which setting goes to which method.

Three forms of key (``--set KEY=VALUE``):

* a :class:`~nasbench_sd.config.SearchConfig` field (``epochs=20``): every run;
* ``method.X`` (or a bare ``X`` that is no search field): every method of the
  run whose config has a field ``X``; refused only if no method has it;
* ``NAME.X`` with ``NAME`` a method of the run (``sd-darts.lam=0.5``): that
  method only; it wins over a ``method.X`` given for the same field.

:func:`scope_sets` turns the user's keys into one plain ``{key: value}`` per
method, in the form :func:`~nasbench_sd.presets.build_run_config` takes.
"""

from __future__ import annotations

import dataclasses

from nasbench_sd.errors import UserError


def _fields(method: str) -> set[str]:
    from nasbench_sd.methods import get_method

    return {f.name for f in dataclasses.fields(get_method(method).Config)}


def scope_sets(methods: list[str], sets: dict[str, str]) -> dict[str, dict[str, str]]:
    """Method -> the settings that apply to it (method fields as ``method.X``).

    Raises :class:`UserError` for a key no method of the run can take."""
    from nasbench_sd.config import SearchConfig
    from nasbench_sd.methods import list_methods

    search_fields = {f.name for f in dataclasses.fields(SearchConfig)}
    fields = {m: _fields(m) for m in methods}
    shared: dict[str, str] = {}
    general: dict[str, str] = {}
    scoped: dict[str, dict[str, str]] = {m: {} for m in methods}
    for key, value in sets.items():
        if key in search_fields:
            shared[key] = value
            continue
        prefix, dot, name = key.rpartition(".")
        if not dot or prefix == "method":
            general[name] = value
            continue
        if prefix not in fields:
            if prefix in list_methods():
                raise UserError(f"--set {key}: {prefix} is not a method of this run ({', '.join(methods)})")
            raise UserError(f"unknown setting {key!r} (use a search setting, method.X or METHOD.X, "
                            f"METHOD one of {', '.join(methods)})")
        if name not in fields[prefix]:
            known = ", ".join(sorted(fields[prefix])) or "none"
            raise UserError(f"unknown setting {name!r} for {prefix} (known: {known})")
        scoped[prefix][name] = value
    for name in general:
        if not any(name in f for f in fields.values()):
            if len(methods) == 1:  # the single-method message build_run_config also gives
                from nasbench_sd.methods import get_method

                cfg = get_method(methods[0]).Config.__name__
                known = ", ".join(sorted(fields[methods[0]])) or "none"
                raise UserError(f"unknown setting {name!r} for {cfg} (known: {known})")
            raise UserError(f"unknown setting {name!r}: no method of this run has it ("
                            + "; ".join(f"{m}: {', '.join(sorted(f)) or 'none'}" for m, f in fields.items()) + ")")
    out = {}
    for m in methods:
        own = {**{k: v for k, v in general.items() if k in fields[m]}, **scoped[m]}
        out[m] = {**shared, **{f"method.{k}": v for k, v in own.items()}}
    return out


__all__ = ["scope_sets"]
