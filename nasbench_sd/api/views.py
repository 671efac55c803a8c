"""Runs and experiments on disk, read back for a notebook: :func:`load`.

A :class:`Run` is one run directory (``search --out``, or a ``seed-<n>``
directory of an experiment); an :class:`Experiment` is any folder holding
runs below it (an experiment, one method's directory). Both give
``.table()`` (a pandas DataFrame with the rows and columns of ``nasbench-sd
table``'s table.csv; :func:`make_table` is what that command calls),
``.curves()`` (one row per run and epoch) and ``.plot()`` (the figures of
``nasbench-sd plot``). Reading writes nothing, except ``.plot()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nasbench_sd.errors import UserError


def _pairs(names: dict[str, str] | Iterable[str] | None) -> tuple[tuple[str, str], ...]:
    """Display names as (row, name) pairs, from a dict or ``ROW=NAME`` strings."""
    if not names:
        return ()
    if isinstance(names, dict):
        return tuple((str(k), str(v)) for k, v in names.items())
    out = []
    for item in names:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"--name expects ROW=TEXT, got {item!r}")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def make_table(path: str | Path, baseline: str | None = None, correction: str = "none",
               order: str | Iterable[str] | None = None, names: dict[str, str] | Iterable[str] | None = None,
               label: str = "tab:nb201", columns: str = "all", published: bool = True, best: bool = True,
               benchmark: str = "table", benchmark_path: str | Path | None = None):
    """The :class:`~nasbench_sd.report.table.Table` of the finished runs at or below ``path``
    (the options of ``nasbench-sd table``); writes nothing."""
    from nasbench_sd.report.table import TableOptions, build_table

    if isinstance(order, str):
        order = [o for o in order.split(",")]
    opts = TableOptions(baseline=baseline, published=published, best=best, correction=correction,
                        order=tuple(o.strip() for o in order or () if o.strip()), names=_pairs(names),
                        label=label, columns=columns, backend=benchmark,
                        benchmark_path=None if benchmark_path is None else str(benchmark_path))
    return build_table(path, options=opts)


def curves_frame(path: str | Path) -> Any:
    """One row per (group, seed, epoch) of the runs at or below ``path``: the
    metrics.jsonl records with the six benchmark figures as columns (``op_probs``
    left out: see :attr:`Run.op_probs`)."""
    import pandas as pd

    from nasbench_sd.report.curves import load_curves

    rows = []
    for g in load_curves(path):
        for seed, records in sorted(g.runs.items()):
            for r in records:
                rows.append({"group": g.label, "method": g.method, "seed": seed,
                             **{k: v for k, v in r.items() if k not in ("benchmark", "op_probs")},
                             **(r.get("benchmark") or {})})
    return pd.DataFrame(rows)


class _Folder:
    path: Path

    def table(self, **options: Any) -> Any:
        """The table of ``nasbench-sd table`` as a pandas DataFrame (the rows and columns of
        table.csv, the caption in ``.attrs["caption"]``). Options: ``baseline``,
        ``correction`` (none | holm), ``order``, ``names``, ``label``, ``columns`` (all |
        searched), ``published``, ``best``, ``benchmark``, ``benchmark_path``."""
        return make_table(self.path, **options).frame()

    def seeds_table(self, **options: Any) -> Any:
        """The values behind every mean (table-seeds.csv) as a DataFrame."""
        return make_table(self.path, **options).seeds_frame()

    def curves(self) -> Any:
        """Per-epoch records as a DataFrame (group, method, seed, epoch, losses, accuracies,
        the method's own statistics, cell, index, parameter-free ops, the six figures)."""
        return curves_frame(self.path)

    def plot(self, out: str | Path | None = None, ops_of: str | None = None, split: str = "test",
             methods: str | Iterable[str] | None = None) -> list[Path]:
        """Write the figures of ``nasbench-sd plot`` (PNG and PDF) into ``out`` (default
        ``<path>/plots``); returns their paths (``IPython.display.Image(path)`` shows one)."""
        from nasbench_sd.report.plot import plot_experiment

        if methods is not None and not isinstance(methods, str):
            methods = ",".join(methods)
        return plot_experiment(self.path, Path(out) if out is not None else self.path / "plots", ops_of=ops_of,
                               split=split, methods=methods)


class Run(_Folder):
    """One run directory, finished or not: its configuration, per-epoch records,
    final cell, six benchmark figures and op probabilities."""

    def __init__(self, path: str | Path):
        from nasbench_sd.search.rundir import RunDir

        self.path = Path(path)
        if not self.path.is_dir():
            raise UserError(f"run directory {self.path} does not exist")
        self._dir = RunDir(self.path)
        config = self._dir.saved_config()
        if config is None:
            raise UserError(f"{self.path} is not a run directory (no config.json)")
        self.config: dict[str, Any] = config

    @property
    def finished(self) -> bool:
        return self._dir.is_finished()

    @property
    def result(self) -> dict[str, Any] | None:
        """result.json (None while the run is unfinished)."""
        if not self.finished:
            return None
        try:
            return self._dir.result()
        except (OSError, ValueError):
            raise UserError(f"{self.path / 'result.json'} is not readable JSON") from None

    def _last(self) -> dict[str, Any]:
        if self.result is not None:
            return self.result
        records = self._dir.metrics()
        return records[-1] if records else {}

    @property
    def method(self) -> str:
        return str(self.config.get("method"))

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    @property
    def cell(self) -> str | None:
        """The final cell (the cell derived after the last epoch while unfinished)."""
        return self._last().get("cell")

    @property
    def index(self) -> int | None:
        return self._last().get("index")

    @property
    def figures(self) -> dict[str, float]:
        """The six NB201 v1_1 figures (hp=200) of :attr:`cell`: c10_valid ... in16_test."""
        return dict(self._last().get("benchmark") or {})

    @property
    def provenance(self) -> dict[str, Any]:
        return dict((self.result or {}).get("provenance") or {})

    @property
    def records(self) -> Any:
        """One row per finished epoch (metrics.jsonl), the benchmark figures as columns."""
        import pandas as pd

        rows = [{**{k: v for k, v in r.items() if k not in ("benchmark", "op_probs")}, **(r.get("benchmark") or {})}
                for r in self._dir.metrics()]
        return pd.DataFrame(rows)

    @property
    def op_probs(self) -> Any:
        """The op probabilities after the last epoch: a DataFrame with the edges
        (``to<-from``) as rows and the ops as columns; None for a method without them."""
        import pandas as pd

        from nasbench_sd.cells import EDGES, OPS

        probs = next((r["op_probs"] for r in reversed(self._dir.metrics()) if r.get("op_probs")), None)
        if probs is None:
            return None
        return pd.DataFrame(probs, index=[f"{t}<-{f}" for t, f in EDGES], columns=list(OPS))

    def show(self) -> str:
        """The report of ``nasbench-sd show``."""
        from nasbench_sd.report.show import load_run, render_run

        return render_run(load_run(self.path))

    def __repr__(self) -> str:
        state = "finished" if self.finished else f"unfinished, {len(self._dir.metrics())} epochs"
        c10 = self.figures.get("c10_test")
        return (f"Run({str(self.path)!r}: {self.method} seed {self.seed}, {state}, cell {self.cell}"
                + (f", CIFAR-10 test {c10:.2f}" if c10 is not None else "") + ")")


class Experiment(_Folder):
    """Runs at or below a folder: an experiment of ``run``/``ablate``, or one method's directory."""

    def __init__(self, path: str | Path, counts: dict[str, int] | None = None):
        self.path = Path(path)
        if not self.path.is_dir():
            raise UserError(f"results directory {self.path} does not exist")
        #: new / resume / done counts when made by :func:`nasbench_sd.run` in this process
        self.counts = counts
        #: files written by :func:`nasbench_sd.ablate` (ablation-<param>.csv and its plot)
        self.ablation: list[Path] = []

    @property
    def manifest(self) -> dict[str, Any] | None:
        """experiment.json (None where there is none)."""
        from nasbench_sd.experiments.manifest import load_manifest

        return load_manifest(self.path)

    @property
    def runs(self) -> list[Run]:
        """Every run directory below (``<group>/seed-<n>`` holding a config.json), finished or not."""
        from nasbench_sd.experiments.layout import SEED_DIR

        dirs = sorted((p.parent for p in self.path.rglob("config.json") if SEED_DIR.match(p.parent.name)),
                      key=lambda d: (d.parent.as_posix(), int(d.name.split("-")[1])))
        return [Run(d) for d in dirs]

    def status(self) -> Any:
        """Where the experiment stands (``nasbench-sd status``)."""
        from nasbench_sd.report.status import experiment_status

        return experiment_status(self.path)

    def __repr__(self) -> str:
        runs = self.runs
        done = sum(r.finished for r in runs)
        return f"Experiment({str(self.path)!r}: {len(runs)} runs, {done} finished)"


def load(path: str | Path) -> Run | Experiment:
    """A :class:`Run` when ``path`` is a run directory (holds config.json), else an
    :class:`Experiment` of the runs below it."""
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"{p} does not exist or is not a directory")
    return Run(p) if (p / "config.json").is_file() else Experiment(p)
