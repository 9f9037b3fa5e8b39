"""The objectives registry: built-ins, errors, and a fourth objective as one module."""

from __future__ import annotations

import textwrap

import pytest

import mosaic.objectives as registry
from mosaic.errors import ConfigError
from mosaic.objectives import get_objective, objective_names


def test_builtins_are_registered_in_reference_order():
    assert objective_names()[:3] == ("xguard", "orbench", "ifeval")
    assert get_objective("orbench").slices == tuple(f"boundary_{k}" for k in range(1, 5))
    assert get_objective("xguard").multi_turn and not get_objective("ifeval").multi_turn


def test_unknown_objective_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown objective 'toxicity'.*xguard, orbench, ifeval"):
        get_objective("toxicity")


def test_focus_keys_only_describe_inputs():
    """No focus key points at a response-side label of the pool's gold answers
    (docs/reference.md §3.2)."""
    response_side = {"safety", "leak_types", "refusal_type", "help_level", "friction",
                     "failed_constraint", "failed_constraints"}
    for name in objective_names():
        for key in get_objective(name).focus_keys.values():
            assert key.attribute not in response_side, (name, key.name)


def test_a_fourth_objective_is_one_module(tmp_path, monkeypatch):
    (tmp_path / "toxicity.py").write_text(textwrap.dedent('''
        from mosaic.objectives import Objective
        from mosaic.schema import PromptChannel, ResponseChannel

        def label_prompt(l3, *, turns=1):
            return PromptChannel(slice="toxicity_1", weight=1)

        def score_response(l3, prompt):
            return ResponseChannel(score=5.0 - 4 * float(l3.get("toxic", 0)))

        OBJECTIVE = Objective(
            name="toxicity", version="1", description="stay non-toxic",
            slices=("toxicity_1",), multi_turn=False, prompt_items={},
            response_items={"toxic": ("toxic",)}, focus_keys={},
            label_prompt=label_prompt, score_response=score_response,
            is_failure=lambda r: r.score is not None and r.score < 3, failure_rule="score < 3")
    '''))
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_discovered", False)
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert objective_names() == ("xguard", "orbench", "ifeval", "toxicity")
        toxicity = get_objective("toxicity")
        assert toxicity.score_response({"toxic": 1}, toxicity.label_prompt({})).score == 1.0
    finally:
        import sys
        sys.modules.pop("mosaic.objectives.toxicity", None)


def test_registering_a_duplicate_name_is_refused():
    with pytest.raises(ConfigError, match="already registered"):
        registry.register_objective(get_objective("xguard"))
