"""The Python API as a notebook user runs it: the README's example runs as
written and its table equals ``nasbench-sd table`` on the same folder; importing
the package has no side effects; bad input raises the project's UserError; a
lookup gives what ``nasbench-sd query`` prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = "<!-- notebook example:"


def readme_example() -> str:
    """The ```python block that follows the notebook-example marker in README.md."""
    text = (REPO / "README.md").read_text()
    after = text[text.index(MARKER):]
    match = re.search(r"```python\n(.*?)```", after, re.S)
    assert match, "no python block after the notebook-example marker"
    return match.group(1)


def test_the_readme_notebook_example_runs_and_its_table_is_the_commands(tmp_path, monkeypatch, cifar10_format,
                                                                        capsys):
    import pandas as pd

    from nasbench_sd.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NASBENCH_SD_DATA", str(cifar10_format))
    code = readme_example()
    assert 'preset="cpu"' in code and "epochs=2" in code
    namespace: dict = {}
    import torch

    torch.set_num_threads(2)  # the notebook's own setting; each search runs on its --threads (1)
    try:
        exec(compile(code, "README.md (notebook example)", "exec"), namespace)  # the README's own code
        assert torch.get_num_threads() == 2  # given back
    finally:
        torch.set_num_threads(1)
    r, exp, table = namespace["r"], namespace["exp"], namespace["table"]
    assert exp.counts == {"done": 0, "resume": 0, "new": 4} and len(exp.runs) == 4

    assert r.finished and r.cell == json.loads((tmp_path / "runs/tour/one/result.json").read_text())["cell"]
    assert r.records["epoch"].tolist() == [1, 2] and r.records["c10_test"].iloc[-1] == r.figures["c10_test"]
    assert r.op_probs.shape == (6, 5) and r.op_probs.sum(axis=1).round(4).eq(1.0).all()
    assert {k: v for k, v in namespace["nb"].query(r.cell).items() if k in r.figures} == r.figures
    assert len(namespace["curves"]) == 2 * 2 * 2  # methods x seeds x epochs
    assert all(Path(p).is_file() for p in namespace["figures"])

    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["table", "runs/tour/exp", "--baseline", "darts-v1", "--out", str(tmp_path / "cli")])
    assert e.value.code == 0
    cli = pd.read_csv(tmp_path / "cli" / "table.csv", keep_default_na=False, na_values=[""])
    assert list(table.columns) == list(cli.columns) and table["row"].tolist() == cli["row"].tolist()
    for column in table.columns:  # every number the same (CSV text holds float64 exactly)
        if table[column].dtype.kind == "f":
            pd.testing.assert_series_equal(table[column], cli[column].astype("float64"), check_names=False)
    assert table.to_csv(index=False, lineterminator="\n") == (tmp_path / "cli" / "table.csv").read_text()
    assert table.attrs["caption"] in (tmp_path / "cli" / "table.md").read_text()


def test_importing_the_package_loads_nothing_heavy_and_writes_nothing(tmp_path):
    code = ("import sys, nasbench_sd as nb\n"
            "names = [nb.search, nb.run, nb.ablate, nb.query, nb.load, nb.Run, nb.Experiment, nb.UserError]\n"
            "import inspect; inspect.signature(nb.search)\n"
            "print(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'scipy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "[]"
    assert list(tmp_path.iterdir()) == []


def test_the_search_package_is_the_api_search_whichever_was_imported_first():
    import nasbench_sd
    from nasbench_sd.api.runs import search
    from nasbench_sd.search import run_search  # noqa: F401 - imports the subpackage of the loop

    assert callable(nasbench_sd.search) and nasbench_sd.search is sys.modules["nasbench_sd.search"]
    import inspect

    assert inspect.signature(nasbench_sd.search) == inspect.signature(search)


@pytest.mark.parametrize("call, fragment", [
    (lambda nb, tmp: nb.search("no-such-method", preset="cpu", out=tmp / "r"), "unknown method"),
    (lambda nb, tmp: nb.search("darts-v1", preset="cpu", out=tmp / "r", no_such_setting=1), "no_such_setting"),
    (lambda nb, tmp: nb.run("darts-v1", seeds="0,0", out=tmp / "e"), "twice"),
    (lambda nb, tmp: nb.query("|garbage|"), ""),
    (lambda nb, tmp: nb.query(6111, dataset="cifar10"), "go together"),
    (lambda nb, tmp: nb.load(tmp / "nothing"), "does not exist"),
    (lambda nb, tmp: nb.search("darts-v1", preset="cpu", out=tmp / "r", log="csv"), "unknown --log"),
])
def test_bad_input_raises_user_error_and_writes_nothing(tmp_path, call, fragment):
    import nasbench_sd as nb

    with pytest.raises(nb.UserError) as e:
        call(nb, tmp_path)
    assert fragment.lower() in str(e.value).lower() and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_query_gives_what_the_command_prints(capsys):
    import nasbench_sd as nb
    from nasbench_sd.cli import main

    def cli(*args):
        with pytest.raises(SystemExit):
            main(list(args))
        return capsys.readouterr().out

    assert nb.query(6111) == json.loads(cli("query", "6111", "--json"))
    assert nb.query("6111", "cifar100", "test") == pytest.approx(float(cli("query", "6111", "--dataset", "cifar100",
                                                                           "--split", "test")), abs=0.005)
    many = nb.query([6111, 0])
    assert many["index"].tolist() == [6111, 0] and many.loc[0, "c10_test"] == nb.query(6111)["c10_test"]
