"""Protocol cards: `nasbench-sd methods --show NAME` prints every `paper` setting,
its value and its source, and the method's known deviations."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nasbench_sd.cards import NOT_STATED, protocol_card
from nasbench_sd.cli import main
from nasbench_sd.config import SEARCH_SOURCES, SearchConfig
from nasbench_sd.methods import get_method, list_methods
from nasbench_sd.presets import build_run_config


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_pcdarts_card_shows_the_architecture_warmup_with_its_source(capsys):
    code, out, _ = run_cli(capsys, "methods", "--show", "pc-darts")
    assert code == 0
    line = next(ln for ln in out.splitlines() if "method.arch_warmup" in ln)
    assert " 15 " in line and "train_search.py" in line and "epoch>=15" in line
    assert "known deviations" in out and "batch 256" in out


@pytest.mark.parametrize("name", list_methods())
def test_every_method_has_a_complete_card(name, capsys):
    cls, card = get_method(name), protocol_card(name)
    cfg = build_run_config(name, "paper", 0)
    keys = [s["key"] for s in card["settings"]]
    assert keys == [f.name for f in dataclasses.fields(SearchConfig)] + [
        f"method.{f.name}" for f in dataclasses.fields(cfg.method_config)]
    for s in card["settings"]:
        assert s["source"], s
        key = s["key"].removeprefix("method.")
        value = getattr(cfg.method_config if s["key"].startswith("method.") else cfg.search, key)
        assert s["value"] == value
    own = {f.name for f in dataclasses.fields(cls.Config)} | set(cls.preset_search_overrides("paper"))
    assert set(cls.sources) <= own, f"{name}: sources name unknown settings {set(cls.sources) - own}"
    assert card["deviations"] == list(cls.deviations)
    code, out, _ = run_cli(capsys, "methods", "--show", name, "--json")
    assert code == 0 and json.loads(out)["method"] == name


def test_shared_settings_cite_sources_and_method_changes_cite_the_method():
    assert set(SEARCH_SOURCES) == {f.name for f in dataclasses.fields(SearchConfig)}
    gdas = {s["key"]: s for s in protocol_card("gdas")["settings"]}
    assert gdas["epochs"]["value"] == 250 and gdas["epochs"]["method_specific"]
    assert gdas["epochs"]["source"] == get_method("gdas").sources["epochs"]
    assert gdas["w_lr"]["source"] == SEARCH_SOURCES["w_lr"] and not gdas["w_lr"]["method_specific"]


def test_a_method_without_sources_still_gets_a_card(capsys):
    plugin = get_method("toy-darts")
    if plugin.sources or not dataclasses.fields(plugin.Config):
        pytest.skip("the test plugin states sources or has no settings")
    card = protocol_card("toy-darts")
    assert all(s["source"] == NOT_STATED for s in card["settings"] if s["key"].startswith("method."))
    assert run_cli(capsys, "methods", "--show", "toy-darts")[0] == 0


def test_unknown_method_card_is_one_line_and_exit_2(capsys):
    code, out, err = run_cli(capsys, "methods", "--show", "nope")
    assert code == 2 and out == "" and err.count("\n") == 1 and "unknown method 'nope'" in err
