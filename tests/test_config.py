"""Presets validate, and a bad preset names its file and field."""

from __future__ import annotations

import pytest

from mosaic import config
from mosaic.config import load_preset, preset_names
from mosaic.errors import ConfigError


def test_every_shipped_preset_validates_and_names_the_three_objectives():
    assert {"tiny", "demo", "paper"} <= set(preset_names())
    for name in preset_names():
        loaded = load_preset(name)
        assert list(loaded.pools) == ["xguard", "orbench", "ifeval"]
        assert loaded.mixture.budget > 0


def test_the_demo_preset_uses_the_shipped_starter_pools_at_their_sized_budget():
    from mosaic.data.compose.build import SIZED_FOR_BUDGET

    demo = load_preset("demo")
    assert demo.mixture.budget == SIZED_FOR_BUDGET
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
