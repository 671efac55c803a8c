"""A hand-made mutation check (kept out of CI): each mutant is one small change
to a temporary copy of the package; the few tests that should catch it run on
that copy; the mutant is *killed* when they fail, *survived* when they pass.
Writes benchmarks/results/mutation.md.

    python benchmarks/mutation.py [--only NAME ...] [--timeout 600]

Every mutant names the tests it is checked against (a few files or ``-k``
selections, so the whole check runs in minutes); a surviving mutant is either
a gap in the suite or an equivalent change, explained in ``WHY_SURVIVES``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from report import write_report

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the repository root
    old: str  # must occur exactly once
    new: str
    tests: tuple[str, ...]  # pytest arguments
    what: str


MUTANTS = [
    # -- the search loop ------------------------------------------------------------------------
    Mutant("resume-restarts-at-epoch-0", "nasbench_sd/search/loop.py",
           'state["epoch"] + 1, state["elapsed"]', '0, state["elapsed"]',
           ("tests/test_search.py", "-k", "resume_performs"),
           "--resume reads the checkpoint, then starts again from epoch 0 (issue 16)"),
    Mutant("resume-ignores-checkpoint", "nasbench_sd/search/loop.py",
           "    if has_checkpoint:\n", "    if False:\n",
           ("tests/test_search.py", "-k", "resume_performs"),
           "--resume silently restarts the whole run (issue 16)"),
    Mutant("resume-drops-optimiser-state", "nasbench_sd/search/loop.py",
           '        w_opt.load_state_dict(state["w_optimizer"])\n', "",
           ("tests/test_search.py", "-k", "resume_performs"),
           "the SGD momentum buffers are not restored"),
    Mutant("resume-drops-loader-state", "nasbench_sd/search/loop.py",
           '        loader.load_state_dict(state["loader"])\n', "",
           ("tests/test_search.py", "-k", "resume_performs"),
           "the data order is not restored"),
    Mutant("resume-forgets-records", "nasbench_sd/search/loop.py",
           'records, start_epoch, elapsed_before = state["records"],', 'records, start_epoch, elapsed_before = [],',
           ("tests/test_search.py", "-k", "resume_performs"),
           "the earlier epochs' records are lost on resume"),
    Mutant("stale-metrics-kept", "nasbench_sd/search/loop.py",
           "    run.rewrite_metrics(records)  #", "    pass  #",
           ("tests/test_search.py", "-k", "corrupt"),
           "records written after the last readable checkpoint stay in metrics.jsonl"),
    Mutant("bf16-does-nothing", "nasbench_sd/search/loop.py",
           'enabled=s.amp == "bf16"', "enabled=False",
           ("tests/test_search.py", "-k", "bf16"),
           "--set amp=bf16 is recorded but computes in float32 (issue 16)"),
    # -- the run directory ----------------------------------------------------------------------
    Mutant("no-previous-checkpoint", "nasbench_sd/search/rundir.py",
           "            os.replace(new, self.path / PREVIOUS)\n", "            os.unlink(new)\n",
           ("tests/test_search.py", "-k", "corrupt"),
           "the previous checkpoint is not kept"),
    Mutant("no-fallback-to-previous", "nasbench_sd/search/rundir.py",
           "for name in (CHECKPOINT, PREVIOUS):", "for name in (CHECKPOINT,):",
           ("tests/test_search.py", "-k", "corrupt"),
           "a corrupt newest checkpoint is not replaced by the previous one"),
    Mutant("finished-run-overwritten", "nasbench_sd/search/rundir.py",
           "        if self.is_finished():\n", "        if False:\n",
           ("tests/test_search.py", "-k", "never_overwritten"),
           "a finished run is continued and its result rewritten"),
    Mutant("stale-temp-files-kept", "nasbench_sd/search/rundir.py",
           "            stale.unlink(missing_ok=True)\n", "            pass\n",
           ("tests/test_reliability.py", "-k", "mid_write"),
           "a killed writer's temp file is never removed"),
    # -- I/O -------------------------------------------------------------------------------------
    Mutant("plain-write", "nasbench_sd/io.py",
           "    path = Path(path)\n    with reporting_disk_full(path):\n",
           "    path = Path(path)\n    path.write_bytes(data)\n    return\n    with reporting_disk_full(path):\n",
           ("tests/test_reliability.py", "-k", "atomic or mid_write"),
           "atomic_write_bytes is a plain write_bytes (issue 16)"),
    Mutant("temp-file-left-on-error", "nasbench_sd/io.py",
           "            os.unlink(tmp)\n", "            pass\n",
           ("tests/test_reliability.py", "-k", "atomic"),
           "a failed write leaves its temp file"),
    Mutant("checksum-not-checked", "nasbench_sd/io.py",
           "    if hashlib.sha256(payload).digest() != digest:", "    if False:",
           ("tests/test_reliability.py", "-k", "checksum"),
           "a corrupt checkpoint is loaded"),
    # -- the methods -----------------------------------------------------------------------------
    Mutant("sd-darts-lambda-cubed-arch-only", "nasbench_sd/methods/sddarts.py",
           "                loss = ce + c.lam * kd\n",
           '                loss = ce + c.lam ** 3 * kd if half == "valid" else ce\n',
           ("tests/test_methods.py", "-k", "ce_plus_lambda or sddarts_differs"),
           "distillation added to the architecture loss only, scaled by lambda^3 (issue 16)"),
    Mutant("sd-darts-kl-direction-swapped", "nasbench_sd/methods/sddarts.py",
           '    if direction == "teacher-student":', '    if direction != "teacher-student":',
           ("tests/test_methods.py", "-k", "ce_plus_lambda"),
           "the two KL directions swapped"),
    Mutant("sd-darts-temperature-not-squared", "nasbench_sd/methods/sddarts.py",
           "* (t * t)", "* t",
           ("tests/test_methods.py", "-k", "ce_plus_lambda"),
           "the KL term scaled by T instead of T^2"),
    Mutant("sd-darts-teacher-is-current-epoch", "nasbench_sd/methods/teachers.py",
           "if epoch - self.K <= ep < epoch)", "if epoch - self.K <= ep <= epoch)",
           ("tests/test_methods.py", "-k", "cache_teacher or ce_plus_lambda"),
           "the cache teacher includes the current epoch"),
    Mutant("sd-darts-teacher-store-not-saved", "nasbench_sd/methods/sddarts.py",
           'state["teachers"] = None if self.teachers is None else self.teachers.state_dict()',
           'state["teachers"] = None',
           ("tests/test_contract.py", "-k", "sd-darts and state_roundtrip"),
           "the teacher store is left out of the checkpoint"),
    Mutant("darts-v2-hessian-sign", "nasbench_sd/methods/darts.py",
           "torch.zeros_like(a), (a - b) / (2 * r))", "torch.zeros_like(a), (b - a) / (2 * r))",
           ("tests/test_methods.py", "-k", "darts_v2_gradient"),
           "DARTS-V2's second-order term with the wrong sign"),
    Mutant("contract-without-hvp", "nasbench_sd/testing/contract.py",
           "    _check_hessian_vector_product(cls, h, b)\n", "",
           ("tests/test_contract.py", "-k", "once-differentiable"),
           "the contract takes one derivative only (issue 16)"),
    # -- schedule and diagnostics -------------------------------------------------------------------
    Mutant("lr-linear", "nasbench_sd/search/schedule.py",
           "(1.0 + math.cos(math.pi * t))", "(2.0 - 2.0 * t)",
           ("tests/test_search.py", "-k", "learning_rate"),
           "a linear learning-rate decay instead of the cosine (issue 16)"),
    Mutant("lr-per-step", "nasbench_sd/search/schedule.py",
           "    t = epoch / s.epochs\n", "    t = (epoch + 0.5) / s.epochs\n",
           ("tests/test_search.py", "-k", "learning_rate"),
           "the learning rate of each epoch taken mid-epoch (not the reference's once-per-epoch value)"),
    Mutant("hessian-on-half-the-samples", "nasbench_sd/search/loop.py",
           "    n = min(s.hessian_samples, data.n_valid)\n", "    n = min(s.hessian_samples, data.n_valid) // 2\n",
           ("tests/test_search.py", "-k", "recorded_hessian"),
           "the recorded eigenvalue is not that of the stated samples (issue 16: x == x accepted any value)"),
    Mutant("hessian-smallest-eigenvalue", "nasbench_sd/search/hessian.py",
           "eigvalsh(exact_hessian(loss_fn, param))[-1]", "eigvalsh(exact_hessian(loss_fn, param))[0]",
           ("tests/test_diagnostics.py", "-k", "exact_hessian"),
           "the smallest instead of the largest eigenvalue"),
    # -- tables and figures ------------------------------------------------------------------------
    Mutant("population-std", "nasbench_sd/report/table.py",
           "/ (n - 1))", "/ n)",
           ("tests/test_plots.py", "-k", "ablation_csv or band"),
           "std over seeds with ddof=0 instead of the sample std"),
    Mutant("ablation-first-seed-only", "nasbench_sd/report/ablation.py",
           'for r in runs]) for c in COLUMNS}', 'for r in runs[:1]]) for c in COLUMNS}',
           ("tests/test_plots.py", "-k", "ablation_csv"),
           "the ablation CSV averages only the first seed"),
    Mutant("curve-epoch-off-by-one", "nasbench_sd/report/curves.py",
           'per_epoch.setdefault(int(r["epoch"]), []).append(float(v))',
           'per_epoch.setdefault(int(r["epoch"]) - 1, []).append(float(v))',
           ("tests/test_plots.py", "-k", "accuracy_figure"),
           "the curves are drawn one epoch early"),
    Mutant("table-welch-p-halved", "nasbench_sd/report/table.py",
           "ttest_ind(a, b, equal_var=False)", "ttest_ind(a, b, equal_var=True)",
           ("tests/test_table.py", "-k", "recomputation"),
           "the table's p-value from Student's t-test (equal variances) instead of Welch's"),
]

WHY_SURVIVES: dict[str, str] = {}

#: What earlier runs found (kept in the report).
NOTES = [
    "- First run (2026-11-28): `sd-darts-teacher-is-current-epoch` survived (the cache-teacher test never "
    "recorded anything in the current epoch before asking for a teacher); "
    "`test_cache_teacher_is_mean_of_previous_k_epochs` now does, and kills it.",
]


def _copy(dst: Path) -> None:
    for name in ("nasbench_sd", "tests", "pyproject.toml"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dst / name)


def run_mutant(m: Mutant, timeout: int) -> tuple[str, str, float]:
    """(killed | survived | broken, detail, seconds)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        _copy(root)
        path = root / m.file
        text = path.read_text()
        if text.count(m.old) != 1:
            return "broken", f"the original text occurs {text.count(m.old)} times in {m.file}", 0.0
        path.write_text(text.replace(m.old, m.new))
        env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1",
               "NASBENCH_SD_SHARED": str(REPO.parent / "shared")}
        t = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests],
                                  cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "killed", "timed out", time.perf_counter() - t
        seconds = time.perf_counter() - t
        if proc.returncode == 5:
            return "broken", "no test selected", seconds
        failed = [line.split(" ", 1)[1].split(" - ")[0] for line in proc.stdout.splitlines()
                  if line.startswith("FAILED ")]
        if proc.returncode == 0:
            return "survived", proc.stdout.strip().splitlines()[-1], seconds
        return "killed", ", ".join(failed) or proc.stdout.strip().splitlines()[-1], seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", help="run only these mutants (by name)")
    p.add_argument("--timeout", type=int, default=900)
    a = p.parse_args()
    chosen = [m for m in MUTANTS if not a.only or m.name in a.only]
    rows, t0 = [], time.perf_counter()
    for m in chosen:
        status, detail, seconds = run_mutant(m, a.timeout)
        print(f"{m.name}: {status} ({seconds:.0f} s) {detail}", flush=True)
        rows.append((m, status, detail, seconds))
    counts = {s: sum(r[1] == s for r in rows) for s in ("killed", "survived", "broken")}
    lines = [
        "# Mutation check (hand-made mutants)",
        "",
        f"`python benchmarks/mutation.py` on {platform.machine()}, {os.cpu_count()} cores (shared, busy), "
        f"{time.perf_counter() - t0:.0f} s in all. Each mutant is applied to a temporary copy of the package "
        "and checked against the tests named beside it (pytest -x).",
        "",
        f"**{counts['killed']} killed, {counts['survived']} survived, {counts['broken']} not applicable** "
        f"of {len(rows)}.",
        "",
        "| mutant | file | change | tests run | result | failing test / why it survives |",
        "|---|---|---|---|---|---|",
        *(f"| {m.name} | {m.file} | {m.what} | `{' '.join(m.tests)}` | {s} | "
          f"{WHY_SURVIVES.get(m.name, d) if s == 'survived' else d} |" for m, s, d, _ in rows),
        "",
        *NOTES,
        "",
    ]
    write_report("mutation.md", lines)
    if counts["survived"] > len([m for m, s, _, _ in rows if s == "survived" and m.name in WHY_SURVIVES]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
