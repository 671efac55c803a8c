"""Run configurations resolved against the method registry.

:func:`build_run_config` resolves a preset for a method and applies ``--set``
overrides; :func:`config_diff` tells whether two saved configurations are the
same run, reading a field a saved configuration predates as its default
(:func:`with_defaults`). Both need the methods' own ``Config`` classes, so this
module sits above :mod:`nasbench_sd.config` (plain dataclasses and preset
values) and :mod:`nasbench_sd.methods`; the registry is imported on first use,
which keeps ``nasbench-sd --help`` free of torch.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nasbench_sd.config import (
    DIAGNOSTICS,
    PAPER,
    PRESETS,
    SCALE_FIELDS,
    SCALED,
    RunConfig,
    SearchConfig,
    apply_overrides,
    scaled_epochs,
)
from nasbench_sd.errors import UserError


def _field_defaults(cls: type) -> dict[str, Any]:
    """Field -> default value, as saved in a config.json (fields without a default left out)."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def json_like(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    if isinstance(value, dict):
        return {k: json_like(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_like(v) for v in value]
    return value


def with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved run configuration with the fields it predates filled in.

    A configuration saved before a field existed lacks that field; it is read
    as the field's default, which by this project's rule reproduces what the
    code did before the field was added (so a new field never makes the runs
    already made count as another configuration). The ``search`` fields come
    from :class:`SearchConfig`, the ``method_config`` fields from the method's
    ``Config`` (left as saved when the method is not installed here)."""
    out = dict(saved)
    if isinstance(out.get("search"), dict):
        out["search"] = {**_field_defaults(SearchConfig), **out["search"]}
    if isinstance(out.get("method_config"), dict) and isinstance(out.get("method"), str):
        from nasbench_sd.methods import get_method

        try:
            defaults = _field_defaults(get_method(out["method"]).Config)
        except UserError:
            defaults = {}
        out["method_config"] = {**defaults, **out["method_config"]}
    return out


def config_diff(a: Any, b: Any, ignore: tuple[str, ...] = ("device",), prefix: str = "") -> list[str]:
    """Dotted keys where two saved configurations differ (empty: the same run).

    Top-level keys in ``ignore`` (the device, by default) do not make runs differ,
    nor do the diagnostic settings (:data:`DIAGNOSTICS`, under ``search``). A
    field one side predates counts as its default (:func:`with_defaults`)."""
    if prefix == "" and isinstance(a, dict) and isinstance(b, dict):
        a, b = with_defaults(a), with_defaults(b)
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            if not ((prefix == "" and k in ignore) or (prefix == "search." and k in DIAGNOSTICS)):
                out += config_diff(a.get(k), b.get(k), ignore, f"{prefix}{k}.")
        return out
    return [] if json_like(a) == json_like(b) else [prefix.rstrip(".")]  # a tuple field reads back as a list


def build_run_config(method: str, preset: str, seed: int, sets: dict[str, str] | None = None,
                     device: str = "cpu", validate: bool = True) -> RunConfig:
    """Resolve a preset for a method, then apply ``--set`` overrides.

    Under ``paper`` the method's settings are its paper's values whatever the
    epochs (``--set epochs=100`` changes the epochs only); under a scaled preset
    (``cpu``, ``proxy``) the method runs the preset's fraction of its paper epochs
    (:func:`scaled_epochs`), scales its epoch-based settings to the epochs, and
    its changes of the shared settings apply except those of :data:`SCALE_FIELDS`.

    Keys name a :class:`SearchConfig` field (``epochs=10``) or a method config
    field, optionally prefixed ``method.`` (``method.lam=0.5``). ``validate=False``
    skips the checks that need both configs (e.g. warm-up < epochs): for
    rebuilding a preset's defaults beside a saved run, never for running.
    """
    from nasbench_sd.methods import get_method

    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    if seed < 0:
        raise UserError(f"seed must be >= 0, got {seed}")
    cls = get_method(method)
    base = PAPER if preset == "paper" else SCALED[preset]
    sets = dict(sets or {})
    search_fields = {f.name for f in dataclasses.fields(SearchConfig)}
    search_sets = {k: v for k, v in sets.items() if k in search_fields}
    method_sets = {k.removeprefix("method."): v for k, v in sets.items() if k not in search_fields}
    method_overrides = {k: str(v) for k, v in cls.preset_search_overrides(preset).items()
                        if preset == "paper" or k not in SCALE_FIELDS}
    if preset != "paper":
        method_overrides["epochs"] = str(scaled_epochs(preset, cls.paper_epochs()))
    search = apply_overrides(base, {**method_overrides, **search_sets})
    method_config = apply_overrides(cls.preset_config(preset, search.epochs), method_sets)
    check = getattr(method_config, "validate_for", None)
    if validate and check is not None:
        check(search)
    return RunConfig(method=method, seed=seed, preset=preset, search=search,
                     method_config=method_config, device=device)
