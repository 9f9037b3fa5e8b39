"""Whatever a judge returns, every objective yields an in-range record and never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic.objectives import get_objective, objective_names

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _judge_output(groups):
    """Judge-like JSON: the expected groups and items with arbitrary values, some missing."""
    return st.fixed_dictionaries({}, optional={
        group: st.fixed_dictionaries({}, optional=dict.fromkeys(items, JSON)) | JSON
        for group, items in groups.items()})


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data(), turns=st.integers(-3, 40))
def test_any_judge_output_gives_an_in_range_record(data, turns):
    for name in objective_names()[:3]:
        objective = get_objective(name)
        prompt_l3 = data.draw(_judge_output(objective.prompt_items) if objective.prompt_items
                              else st.dictionaries(st.just("instruction_id_list"), JSON))
        prompt = objective.label_prompt(prompt_l3, turns=turns)
        assert prompt.slice in objective.slices and 1 <= prompt.weight <= 5
        response_l3 = data.draw(_judge_output(objective.response_items)
                                if objective.response_items else
                                st.dictionaries(st.sampled_from(["strict", "loose", "error"]),
                                                JSON))
        response = objective.score_response(response_l3, prompt)
        assert response.score is None or response.score in (1.0, 2.0, 3.0, 4.0, 5.0)
        assert (response.score is None) == (response.error is not None)
        if objective.response_items:
            assert response.score is not None  # judge-item objectives always score
            for group, items in objective.response_items.items():
                assert set(response.l3[group]) == set(items)
                assert set(response.l3[group].values()) <= {0, 1}
