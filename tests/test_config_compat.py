"""Runs saved before a configuration field existed stay the same runs: a field a
saved config lacks reads as its default (the behaviour before the field was
added), so finished runs are still skipped, resumed and tabled together."""

from __future__ import annotations

import dataclasses
import json

from test_table import write_result

from nasbench_sd.config import apply_overrides
from nasbench_sd.experiments.runner import method_groups, plan_experiment
from nasbench_sd.presets import build_run_config, config_diff, with_defaults
from nasbench_sd.report.table import build_table


def older(cfg: dict) -> dict:
    """``cfg`` as code that predates the ``compile`` search field and SD-DARTS's ``order`` field saved it."""
    out = json.loads(json.dumps(cfg))
    del out["search"]["compile"]
    del out["search"]["compile_mode"]
    del out["method_config"]["order"]
    return out


def test_a_field_a_saved_config_predates_reads_as_its_default():
    new = build_run_config("sd-darts", "cpu", 0, {}).to_dict()
    assert config_diff(older(new), new) == [] and config_diff(new, older(new)) == []
    assert with_defaults(older(new)) == new
    # a new value of that field is another configuration
    changed = build_run_config("sd-darts", "cpu", 0, {"compile": "true", "method.order": "weights-first"}).to_dict()
    assert config_diff(older(new), changed) == ["method_config.order", "search.compile"]
    # a field the saved config has is compared as saved (a default never hides a difference)
    other = dict(older(new), search={**older(new)["search"], "a_lr": 0.5})
    assert config_diff(other, new) == ["search.a_lr"]


def test_an_unknown_method_is_compared_as_saved():
    cfg = build_run_config("sd-darts", "cpu", 0, {}).to_dict()
    plugin = dict(cfg, method="no-such-method", method_config={"x": 1})
    assert with_defaults(plugin)["method_config"] == {"x": 1}
    assert config_diff(plugin, dict(plugin, method_config={"x": 1, "y": 2})) == ["method_config.y"]


def test_finished_runs_from_older_code_are_skipped_not_refused(tmp_path):
    root = tmp_path / "exp"
    cfg = build_run_config("sd-darts", "cpu", 0, {})
    d = root / "sd-darts" / "seed-0"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(older(cfg.to_dict())))
    (d / "result.json").write_text(json.dumps({"benchmark": {}, "config": older(cfg.to_dict())}))
    group = {k: v for k, v in older(cfg.to_dict()).items() if k not in ("seed", "device")}
    (root / "experiment.json").write_text(json.dumps({"preset": "cpu", "runs": {}, "groups": {"sd-darts": {
        "method": "sd-darts", "sets": {}, "config": group}}}))
    plan = plan_experiment(method_groups(["sd-darts"], {}), [0], "cpu", root, check_data=False)
    assert [r.state for r in plan.runs] == ["done"]


def test_a_table_groups_runs_saved_by_older_and_newer_code(tmp_path):
    root = tmp_path / "exp"
    write_result(root, "sd-darts", 0, "sd-darts")
    newer = write_result(root, "sd-darts", 1, "sd-darts")
    path = root / "sd-darts" / "seed-0" / "result.json"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps(dict(saved, config=older(saved["config"]))))
    write_result(root, "darts-v1", 0, "darts-v1")
    table = build_table(root)
    (row,) = [r for r in table.rows if r.label == "sd-darts"]
    assert row.n == 2 and row.seeds == [0, 1]
    assert "compile" not in table.caption and newer["config"]["search"]["compile"] is False


def test_every_config_field_has_a_default():
    """The rule needs a default for every field of the search and of each built-in method's config."""
    import dataclasses

    from nasbench_sd.config import SearchConfig
    from nasbench_sd.methods import get_method, list_methods

    classes = [SearchConfig] + [get_method(m).Config for m in list_methods()]
    missing = [f"{c.__name__}.{f.name}" for c in classes for f in dataclasses.fields(c)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    assert missing == []


def test_a_tuple_field_is_the_same_after_saving():
    """A method config may hold a ``tuple[float, ...]`` (the command line parses
    one); JSON saves it as a list, and the saved run must still be this run."""
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        betas: tuple[float, ...] = (0.5, 0.999)

    cfg = apply_overrides(Cfg(), {"betas": "0.9,0.99"})
    assert cfg.betas == (0.9, 0.99)
    current = {"method_config": dataclasses.asdict(cfg)}
    saved = json.loads(json.dumps(current))
    assert saved["method_config"]["betas"] == [0.9, 0.99]
    assert config_diff(saved, current) == [] and config_diff(current, saved) == []
    assert config_diff(saved, {"method_config": {"betas": (0.9, 0.9)}}) == ["method_config.betas"]
