"""Presets validate, and a bad preset names its file and field."""

from __future__ import annotations

import pytest

from mosaic import config
from mosaic.config import CONFIGS_DIR, apply_overrides, load_preset, preset_names
from mosaic.errors import ConfigError


def test_every_shipped_preset_validates_and_names_the_three_objectives():
    assert {"tiny", "demo", "paper"} <= set(preset_names())
    for name in preset_names():
        loaded = load_preset(name)
        assert list(loaded.pools) == ["xguard", "orbench", "ifeval"]
        assert loaded.mixture.budget > 0


def test_the_demo_preset_uses_the_shipped_starter_pools_within_their_sized_budget():
    from mosaic.data.compose.build import SIZED_FOR_BUDGET

    demo = load_preset("demo")
    assert 0 < demo.mixture.budget <= SIZED_FOR_BUDGET
    assert all(source.resolved().is_file() for source in demo.pools.values())


def test_unknown_preset_and_bad_fields_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CONFIGS_DIR", tmp_path)
    (tmp_path / "bad.yaml").write_text("model: tiny\npools: {}\nmixture: {budget: -5, "
                                       "sed: 1}\n")
    with pytest.raises(ConfigError, match=r"unknown preset 'nope'.*bad"):
        load_preset("nope")
    with pytest.raises(ConfigError) as caught:
        load_preset("bad")
    assert "bad.yaml" in str(caught.value)
    assert "mixture.budget" in str(caught.value) and "mixture.sed" in str(caught.value)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_preset("list")


def test_overrides_change_typed_settings_and_say_what_changed():
    from mosaic.config import apply_overrides

    config, lines = apply_overrides(load_preset("tiny"), [
        "mixture.budget=8000", "train.lr=1e-3", "loop.patience=2", "eval.per_slice=null",
        "pools.xguard.path=data/x.jsonl", "eval.data.orbench=or.csv"])
    assert config.mixture.budget == 8000 and config.train.lr == 1e-3
    assert config.loop.patience == 2 and config.eval.per_slice is None
    assert config.pools["xguard"].path == "data/x.jsonl"
    assert config.eval.data == {"orbench": "or.csv"}  # a new entry of a map setting
    assert list(config.pools) == ["xguard", "orbench", "ifeval"]  # order kept
    assert "mixture.budget: 10000 -> 8000 (override)" in lines


def test_bad_overrides_are_all_named_at_once():
    from mosaic.config import apply_overrides

    with pytest.raises(ConfigError) as error:
        apply_overrides(load_preset("tiny"), ["train.nope=1", "loop", "mixture.x.y=2"])
    message = str(error.value)
    assert "unknown setting 'nope' in train" in message and "known: " in message
    assert "'loop': expected KEY=VALUE" in message and "unknown setting 'x' in mixture" in message
    with pytest.raises(ConfigError, match=r"mixture\.budget"):
        apply_overrides(load_preset("tiny"), ["mixture.budget=lots"])
    with pytest.raises(ConfigError, match=r"loop\.rounds"):
        apply_overrides(load_preset("tiny"), ["loop.rounds=-1"])


def test_every_bad_override_is_listed_in_one_message():
    """An unknown key and a value of the wrong type for a known one, together."""
    with pytest.raises(ConfigError) as raised:
        apply_overrides(load_preset("tiny"), ["foo.bar=1", "mixture.budget=x",
                                              "loop.roundz=2"])
    text = str(raised.value)
    assert "unknown setting 'foo'" in text and "unknown setting 'roundz'" in text
    assert "mixture.budget: Input should be a valid integer" in text


def test_a_failed_override_of_a_new_map_entry_leaves_no_placeholder_behind():
    with pytest.raises(ConfigError) as raised:
        apply_overrides(load_preset("tiny"), ["pools.newobj.pathz=x"])
    assert str(raised.value) == ("bad override(s): pools.newobj.pathz: unknown setting "
                                 "'pathz' in pools.newobj (known: none)")


def test_the_llm_step_limit_is_on_by_default_and_can_be_turned_off():
    """With the default config an LLM answer of xguard 1.0 from equal ratios is refused;
    `diagnoser.max_move=null` leaves only the Constraints."""
    from mosaic.agents.diagnoser import step_problems
    from mosaic.schema import DataAction

    tiny = load_preset("tiny")
    equal = DataAction(ratios={"xguard": 1 / 3, "orbench": 1 / 3, "ifeval": 1 / 3})
    swing = DataAction(ratios={"xguard": 1.0, "orbench": 0.0, "ifeval": 0.0})
    assert step_problems(swing, equal, tiny.diagnoser.max_move)
    nudge = DataAction(ratios={"xguard": 0.5, "orbench": 0.25, "ifeval": 0.25})
    assert not step_problems(nudge, equal, tiny.diagnoser.max_move)
    off, _ = apply_overrides(tiny, ["diagnoser.max_move=null"])
    assert off.diagnoser.max_move is None


def test_settings_renamed_since_are_read_from_old_files_and_old_overrides(tmp_path):
    """`loop.max_step` became `loop.step` and `diagnoser.max_step` `diagnoser.max_move`: a
    preset file or override written before keeps working, under the new name."""
    import yaml

    old = yaml.safe_load((CONFIGS_DIR / "tiny.yaml").read_text())
    old["loop"] = {**old.get("loop", {}), "max_step": 0.1}
    old["diagnoser"] = {**old.get("diagnoser", {}), "max_step": None}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    config = load_preset(str(tmp_path / "old.yaml"))
    assert config.loop.step == 0.1 and config.diagnoser.max_move is None
    changed, lines = apply_overrides(load_preset("tiny"),
                                     ["loop.max_step=0.2", "diagnoser.max_step=0.4"])
    assert changed.loop.step == 0.2 and changed.diagnoser.max_move == 0.4
    assert lines[0].startswith("loop.step:") and lines[1].startswith("diagnoser.max_move:")
