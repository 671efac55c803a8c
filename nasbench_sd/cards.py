"""A method's protocol card: every setting of its ``paper`` preset, the value,
where the value comes from, and every known deviation from the published
protocol with its reason (``nasbench-sd methods --show NAME``), the method's
control: the overrides that switch its own idea off, all else equal
(``nasbench-sd run --controls``); and whether its seeds can train as one
seed-batched supernet (``run --batch-seeds``), or why not.

Sources: a method's own fields and the shared settings its paper changes
(``preset_search_overrides("paper")``) cite the method's ``sources``; the
other shared settings cite :data:`nasbench_sd.config.SEARCH_SOURCES`. A value
without a source says so ("not stated").
"""

from __future__ import annotations

import dataclasses
from typing import Any

NOT_STATED = "not stated"


def protocol_card(name: str) -> dict[str, Any]:
    """The card of method ``name`` as plain data (raises UserError for an unknown name)."""
    from nasbench_sd.config import SEARCH_SOURCES
    from nasbench_sd.methods.registry import get_method
    from nasbench_sd.presets import build_run_config

    cls = get_method(name)
    cfg = build_run_config(name, "paper", 0)
    own_search = set(cls.preset_search_overrides("paper"))
    settings = []
    for f in dataclasses.fields(cfg.search):
        table = cls.sources if f.name in own_search else SEARCH_SOURCES
        settings.append({"key": f.name, "value": getattr(cfg.search, f.name),
                         "source": table.get(f.name, NOT_STATED), "method_specific": f.name in own_search})
    for f in dataclasses.fields(cfg.method_config):
        settings.append({"key": f"method.{f.name}", "value": getattr(cfg.method_config, f.name),
                         "source": cls.sources.get(f.name, NOT_STATED), "method_specific": True})
    control = cls.control_overrides()
    return {"method": name, "description": cls.description, "paper": cls.paper, "preset": "paper",
            "settings": settings, "deviations": list(cls.deviations),
            "control": None if control is None else {"overrides": control, "note": cls.control_note},
            "seed_batching": cls.seed_batching_refusal(cfg.method_config)}


def format_card(card: dict[str, Any]) -> str:
    """The card as aligned text: one line per setting, then the deviations."""
    lines = [f"{card['method']}: {card['description']}", f"paper: {card['paper'] or NOT_STATED}",
             f"settings under the `{card['preset']}` preset (value  source; * = set by the method's paper):"]
    width = max(len(s["key"]) for s in card["settings"]) + 2
    vwidth = max(len(_show(s["value"])) for s in card["settings"]) + 2
    for s in card["settings"]:
        mark = "*" if s["method_specific"] else " "
        lines.append(f" {mark}{s['key']:<{width}}{_show(s['value']):<{vwidth}}{s['source']}")
    lines.append("known deviations from the published protocol:")
    lines += [f"  - {d}" for d in card["deviations"]] or ["  (none recorded)"]
    control = card.get("control")
    if control is None:
        lines.append("control (run --controls): none declared (no setting switches this method's idea off alone)")
    else:
        sets = " ".join(f"method.{k}={_show(v)}" for k, v in control["overrides"].items())
        lines.append(f"control (run --controls): {sets}" + (f": {control['note']}" if control["note"] else ""))
    reason = card.get("seed_batching")
    lines.append("seed batching (run --batch-seeds): "
                 + ("yes: its seeds train as one seed-batched supernet, each still its own run" if reason is None
                    else f"no, its seeds run separately: {reason}"))
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)
