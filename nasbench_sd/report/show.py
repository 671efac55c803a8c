"""``nasbench-sd show RUN_DIR``: one run at a glance.

The run's configuration (settings changed from its preset first), its
per-epoch record (losses, accuracies, derived cell, parameter-free ops, the six
benchmark figures) and its final architecture as a labelled edge x op table:
the op probabilities of the last metrics record and, where the checkpoint
holds them, the raw alpha; and how settled the search ended (its convergence
block, :mod:`nasbench_sd.report.convergence`; for an unfinished run, so far).
Rows of ``op_probs`` in metrics.jsonl are the six edges in arch-string order
(:data:`~nasbench_sd.cells.EDGES`, ``to<-from``: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1,
3<-2), columns the five ops in
:data:`~nasbench_sd.cells.OPS` order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasbench_sd.benchmark import COLUMNS
from nasbench_sd.cells import EDGES, OPS
from nasbench_sd.errors import UnsafeCheckpointError, UserError

#: Per-epoch statistics shown when a run recorded them, in this order.
STAT_KEYS = ("train_loss", "train_acc", "valid_loss", "valid_acc")
EDGE_LABELS = tuple(f"{to}<-{frm}" for to, frm in EDGES)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def changed_settings(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """Settings of a saved config that differ from its preset (search fields by
    name, method fields as ``method.X``); None when the preset cannot be rebuilt.

    Method defaults that a preset derives from the epochs are compared with the
    defaults for the run's own epochs, so they are not reported as changes. A field the
    saved config predates counts as its default (what the run did), so a run made before a
    preset changed that field shows the difference."""
    from nasbench_sd.presets import build_run_config, with_defaults

    try:
        cfg = with_defaults(cfg)
        base = build_run_config(cfg["method"], cfg["preset"], 0, validate=False).to_dict()["search"]
        search = {k: v for k, v in cfg["search"].items() if base.get(k) != _as_saved(v, base.get(k))}
        sets = {k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for k, v in search.items()}
        # the run's own method settings may be needed to validate (paper sd-darts, warmup 1 with
        # epochs 2): the defaults are rebuilt without the checks
        scaled = build_run_config(cfg["method"], cfg["preset"], 0, sets, validate=False).to_dict()["method_config"]
    except (UserError, KeyError, TypeError, ValueError):
        return None
    out = dict(search)
    for k, v in cfg.get("method_config", {}).items():
        if _as_saved(v, scaled.get(k)) != scaled.get(k):
            out[f"method.{k}"] = v
    return out


def _as_saved(v: Any, like: Any) -> Any:
    return tuple(v) if isinstance(v, list) and isinstance(like, tuple) else v


def _alpha(run_dir: Path) -> list[list[float]] | None:
    """The raw [6, 5] alpha of the newest readable checkpoint, if it holds one."""
    from nasbench_sd.search.rundir import CHECKPOINT, PREVIOUS, RunDir

    if not ((run_dir / CHECKPOINT).is_file() or (run_dir / PREVIOUS).is_file()):
        return None
    try:
        state = RunDir(run_dir).load_checkpoint()
        arch = state["method"]["arch"]
        alpha = arch[0]
        if tuple(alpha.shape) != (len(EDGES), len(OPS)):
            return None
        return [[float(x) for x in row] for row in alpha.tolist()]
    except UnsafeCheckpointError:
        raise  # refused, not merely unreadable: the user must know
    except (UserError, KeyError, IndexError, TypeError, AttributeError):
        return None


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """Everything ``show`` prints, as one JSON-ready dict."""
    from nasbench_sd.search.rundir import RunDir

    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist")
    run = RunDir(path)
    cfg = run.saved_config()
    if cfg is None:
        raise UserError(f"{path} is not a run directory (no config.json); give a directory written by "
                        "`search --out` or a seed-<n> directory of an experiment")
    records = run.metrics()
    result = None
    if run.is_finished():
        try:
            result = run.result()
        except (OSError, ValueError):
            raise UserError(f"{path / 'result.json'} is not readable JSON") from None
    changed = changed_settings(cfg)
    flat = _flatten({k: cfg[k] for k in ("search", "method_config") if k in cfg})
    epochs = []
    for r in records:
        row = {"epoch": r.get("epoch"), **{k: r[k] for k in STAT_KEYS if k in r},
               **{k: v for k, v in r.items() if k.startswith("kd_")},
               "index": r.get("index"), "cell": r.get("cell"), "num_parameter_free": r.get("num_parameter_free"),
               **{c: (r.get("benchmark") or {}).get(c) for c in COLUMNS}}
        if "hessian_eig" in r:
            row["hessian_eig"] = r["hessian_eig"]
        epochs.append(row)
    last_probs = next((r["op_probs"] for r in reversed(records) if r.get("op_probs")), None)
    from nasbench_sd.report.convergence import run_convergence

    convergence = run_convergence(path, result or {})  # unfinished: from the epochs so far
    return {
        "run_dir": str(path), "method": cfg.get("method"), "seed": cfg.get("seed"), "preset": cfg.get("preset"),
        "device": cfg.get("device"), "finished": result is not None,
        "changed": changed, "config": flat, "epochs": epochs,
        "edges": list(EDGE_LABELS), "ops": list(OPS),
        "op_probs": last_probs, "alpha": _alpha(path), "convergence": convergence,
        "result": None if result is None else {k: result.get(k) for k in
                                               ("cell", "index", "benchmark", "num_parameter_free", "wall_time_s")},
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def _matrix(title: str, rows: list[list[float]], digits: int) -> list[str]:
    lines = [title, f"{'edge':8}" + "".join(f"{op:>14}" for op in OPS)]
    for label, row in zip(EDGE_LABELS, rows):
        best = max(range(len(row)), key=row.__getitem__)
        cells = [f"{v:.{digits}f}{'*' if k == best else ' '}" for k, v in enumerate(row)]
        lines.append(f"{label:8}" + "".join(f"{c:>14}" for c in cells))
    return lines


def render_run(info: dict[str, Any]) -> str:
    """The plain-text report of :func:`load_run`'s dict."""
    lines = [f"run     {info['run_dir']}  ({info['method']}, seed {info['seed']}, preset {info['preset']}, "
             f"device {info['device']}; {'finished' if info['finished'] else 'unfinished'})"]
    changed = info["changed"]
    if changed is None:
        lines.append("changed from the preset: unknown (the preset cannot be rebuilt)")
    else:
        lines.append("changed from the preset: " + (", ".join(f"{k}={v}" for k, v in changed.items()) or "nothing"))
    skip = set(changed or {})
    lines.append("settings: " + ", ".join(f"{k.removeprefix('search.').replace('method_config.', 'method.')}={v}"
                                          for k, v in info["config"].items()
                                          if k.removeprefix("search.").replace("method_config.", "method.")
                                          not in skip))
    if info["epochs"]:
        keys: list[str] = []
        for r in info["epochs"]:
            keys += [k for k in r if k not in keys and k != "cell"]
        lines += ["", "per epoch (accuracies in %; c10_valid ... in16_test: NB201 v1_1, hp=200, of the derived cell)",
                  "  ".join(f"{k:>10}" for k in keys) + "  cell"]
        for r in info["epochs"]:
            lines.append("  ".join(f"{_fmt(r.get(k)):>10}" for k in keys) + f"  {r.get('cell')}")
    else:
        lines += ["", "no per-epoch records (a method that trains no supernet, or no epoch finished yet)"]
    if info["op_probs"]:
        lines += ["", *_matrix("op probabilities after the last epoch (rows: edge to<-from; *: the derived op)",
                               info["op_probs"], 4)]
    if info["alpha"]:
        lines += ["", *_matrix("alpha (raw architecture parameters, last checkpoint)", info["alpha"], 4)]
    if info.get("convergence") and info["epochs"]:
        from nasbench_sd.report.convergence import show_lines

        lines += ["", *show_lines(info["convergence"])]
    res = info["result"]
    if res:
        b = res["benchmark"]
        lines += ["", f"final cell {res['cell']} (index {res['index']}, {res['num_parameter_free']} parameter-free "
                      "ops)",
                  "NB201 v1_1 hp=200  " + "  ".join(f"{c} {b[c]:.2f}" for c in COLUMNS)]
    return "\n".join(lines)
