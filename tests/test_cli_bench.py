"""The lookup commands as a user runs them: figures, JSON keys, one-line errors."""

import json
import subprocess
import sys

import pytest

from nasbench_sd.cli import main

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_query_prints_table4_darts_row(capsys):
    code, out, _ = run_cli(capsys, "query", ALL_SKIP)
    assert code == 0
    for value in ("39.77", "54.30", "15.03", "15.61", "16.43", "16.32"):
        assert value in out
    assert "hp=200" in out


def test_query_json_keys(capsys):
    code, out, _ = run_cli(capsys, "query", "1835", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["cell"] == ALL_SKIP and data["index"] == 1835
    assert round(data["c10_test"], 2) == 54.30
    assert set(data) >= {"c10_valid", "c10_test", "c100_valid", "c100_test", "in16_valid", "in16_test"}
    assert data["provenance"]["hp"] == "200"


def test_query_single_figure(capsys):
    code, out, _ = run_cli(capsys, "query", ALL_SKIP, "--dataset", "cifar100", "--split", "test")
    assert (code, out.strip()) == (0, "15.61")


def test_bench_best(capsys):
    code, out, _ = run_cli(capsys, "bench", "best", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["c10_test"]["index"] == 6111 and round(data["c10_test"]["value"], 2) == 94.37
    assert data["in16_test"]["index"] == 857 and round(data["in16_test"]["value"], 2) == 47.31


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["query", ALL_SKIP.replace("skip_connect~1|+", "conv_3x3~1|+")], "unknown op 'conv_3x3' on edge 2<-1"),
        (["query", "15625"], "out of range"),
        (["query", "--", "-3"], "out of range"),
        (["query", ALL_SKIP, "--dataset", "svhn", "--split", "test"], "unknown data set"),
        (["query", ALL_SKIP, "--dataset", "cifar10", "--split", "holdout"], "unknown split"),
        (["query", ALL_SKIP, "--dataset", "cifar10"], "go together"),
        (["query", ALL_SKIP, "--benchmark", "nb201", "--benchmark-path", "/nonexistent.pth"], "not found"),
        (["query", ALL_SKIP, "--benchmark", "hpo"], "Invalid value"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, args, fragment):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_help_and_version_do_not_import_torch():
    code = (
        "import sys\n"
        "from nasbench_sd.cli import main\n"
        "for argv in (['--help'], ['--version'], ['query', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Differentiable NAS" in out and "0.1.0" in out
    assert out.strip().endswith("NO-TORCH")


@pytest.mark.parametrize("cell", ["6111", "1835", "0", ALL_SKIP.replace("skip_connect~2", "nor_conv_3x3~2")])
def test_cell_params_equal_benchmark_params_column(capsys, cell):
    from nasbench_sd.benchmark import get_benchmark, parse_cell_or_index

    code, out, _ = run_cli(capsys, "cell", cell, "--json")
    data = json.loads(out)
    expected = get_benchmark().record(parse_cell_or_index(cell)).params_mb_cifar10
    assert code == 0
    assert data["params_mb"] == pytest.approx(expected, abs=5e-7)
    assert [e["op"] for e in data["edges"]] == list(parse_cell_or_index(cell).ops)
    assert data["num_parameter_free"] == parse_cell_or_index(cell).num_parameter_free
