"""Say where the finished runs an experiment reuses were made.

``run`` and ``ablate`` skip a run whose directory already holds a finished run
of the same configuration. Such a run may come from another code revision or
another machine (a folder copied from elsewhere, a clone's committed results):
CPU results depend on the CPU's instruction set, and a revision may change
what a configuration computes. :func:`reuse_note` compares each reused run's
provenance (``code_revision``, ``cpu``/``cpu_capability`` for CPU runs,
``device_name`` for GPU runs) with this process's and says so in one line.
"""

from __future__ import annotations

from typing import Any


def _machine(provenance: dict[str, Any]) -> str:
    """The hardware a run's numbers depend on, as one string."""
    if str(provenance.get("device", "cpu")).startswith("cuda"):
        return str(provenance.get("device_name", "?"))
    return f"{provenance.get('cpu', '?')}, {provenance.get('cpu_capability', '?')} kernels"


def _revisions(provenance: dict[str, Any]) -> list[str]:
    return list(provenance.get("code_revisions") or [provenance.get("code_revision", "unknown")])


def here(device: str) -> dict[str, Any]:
    """This process's code revision and machine, in result.json's provenance keys."""
    from nasbench_sd.provenance import code_revision, cpu_capability, cpu_model, device_name

    if device.startswith("cuda"):
        try:
            return {"code_revision": code_revision(), "device": device, "device_name": device_name(device)}
        except (RuntimeError, AssertionError):  # a Ray driver without a GPU: the workers' GPUs are unknown here
            return {"code_revision": code_revision(), "device": device, "device_name": "?"}
    return {"code_revision": code_revision(), "device": "cpu", "cpu": cpu_model(), "cpu_capability": cpu_capability()}


def reuse_note(plan: Any, current: dict[str, Any] | None = None) -> str | None:
    """One line on the finished runs ``plan`` reuses (None when it reuses none):
    how many, and how many were made by another code revision or on another
    machine than this one (``current``: this process's, by default)."""
    from nasbench_sd.search.rundir import RunDir

    done = [r for r in plan.runs if r.state == "done"]
    if not done:
        return None
    now = current or here(plan.device)
    other_code: dict[str, int] = {}
    other_machine: dict[str, int] = {}
    for r in done:
        prov = RunDir(r.task.path).result().get("provenance") or {}
        revisions = _revisions(prov)
        if revisions != [now["code_revision"]] or "unknown" in revisions:
            key = "+".join(revisions)
            other_code[key] = other_code.get(key, 0) + 1
        machine = _machine(prov)
        if machine != _machine(now):
            other_machine[machine] = other_machine.get(machine, 0) + 1
    parts = [f"reusing {len(done)} finished run{'s' if len(done) > 1 else ''} (kept as they are)"]
    if other_code:
        made = ", ".join(f"{n} by {rev}" for rev, n in sorted(other_code.items()))
        parts.append(f"{sum(other_code.values())} made by another code revision ({made}; this is "
                     f"{now['code_revision']})")
    if other_machine:
        made = ", ".join(f"{n} on {m}" for m, n in sorted(other_machine.items()))
        parts.append(f"{sum(other_machine.values())} on another machine ({made}; this is {_machine(now)})")
    if not other_code and not other_machine:
        parts.append("all made by this code revision on this kind of machine")
    tail = " To recompute them here, move them aside or choose another --out." if other_code or other_machine else ""
    return "; ".join(parts) + "." + tail
