"""``nasbench-sd run --controls``: each method beside its control, under the method's own protocol.

A method's control (``SearchMethod.control_overrides``) switches its own idea off and keeps
everything else: the group ``<method>-control`` runs the same method with the same preset,
seeds and ``--set`` values plus the control's settings (which win over a ``--set`` of the same
field). Methods that declare no control run alone and are named. ``nasbench-sd table`` pairs
the two groups by seed (:mod:`nasbench_sd.report.effects`).
"""

from __future__ import annotations

from nasbench_sd.experiments.layout import check_label
from nasbench_sd.experiments.runner import Group

SUFFIX = "-control"


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def with_controls(groups: list[Group]) -> tuple[list[Group], dict[str, str], list[str]]:
    """``groups`` with each one's control group after it; (groups, {label: control label},
    labels of the methods that declare no control)."""
    from nasbench_sd.methods import get_method

    out, pairs, without = [], {}, []
    for g in groups:
        out.append(g)
        control = get_method(g.method).control_overrides()
        if control is None:
            without.append(g.label)
            continue
        label = check_label(g.label + SUFFIX)
        sets = {**dict(g.sets), **{f"method.{k}": _text(v) for k, v in control.items()}}
        out.append(Group(label=label, method=g.method, sets=tuple(sets.items())))
        pairs[g.label] = label
    return out, pairs, without
