"""ifeval's complexity and score rules against docs/reference.md §1.4, and its errors."""

from __future__ import annotations

import pytest

from mosaic.objectives import get_objective, need
from mosaic.objectives.ifeval import if_score, instruction_complexity

IFEVAL = get_objective("ifeval")


@pytest.mark.parametrize(("ids", "ic"), [
    ([], 1),
    (["keywords:existence"], 1),
    (["keywords:existence", "keywords:frequency"], 2),                       # m=2, k=1
    (["keywords:existence", "punctuation:no_comma"], 3),                     # m=2, k=2
    (["keywords:existence", "keywords:frequency", "keywords:forbidden_words"], 3),  # m=3, k=1
    (["keywords:existence", "keywords:frequency", "punctuation:no_comma"], 4),      # m=3, k=2
    (["keywords:existence", "startend:quotation", "punctuation:no_comma"], 5),      # m=3, k=3
    (["a:1", "b:1", "c:1", "d:1", "e:1"], 5),                                 # capped at 5
])
def test_instruction_complexity_table(ids, ic):
    assert instruction_complexity(ids) == ic
    prompt = IFEVAL.label_prompt({"instruction_id_list": ids})
    assert prompt.slice == f"complexity_{ic}" and prompt.weight == ic and prompt.valid
    assert prompt.l3 == {"instruction_id_list": ids, "m": len(ids)}


@pytest.mark.parametrize(("strict", "loose", "score"), [
    ([], [], 5),                                       # m = 0
    ([True, True, True], [True, True, True], 5),       # all strict
    ([False, True, True], [True, True, True], 4),      # all loose
    ([False, True, True], [False, True, True], 3),     # fail ratio 1/3
    ([False, False, True], [False, False, True], 2),   # 2/3
    ([False, False, False], [False, False, False], 1), # 3/3
    ([False, False], [False, True], 2),                # 1/2
    ([False] * 4, [False, True, True, True], 3),       # 1/4
    ([False] * 4, [False, False, False, True], 1),     # 3/4
])
def test_if_score_table(strict, loose, score):
    assert if_score(strict, loose) == score


def _prompt(*ids):
    return IFEVAL.label_prompt({"instruction_id_list": list(ids)})


def test_score_response_records_rates_and_failed_constraints():
    prompt = _prompt("punctuation:no_comma", "keywords:existence", "startend:quotation")
    response = IFEVAL.score_response({"strict": [True, False, False],
                                      "loose": [True, True, False]}, prompt)
    assert response.score == 3
    assert response.l2 == {"r_strict": pytest.approx(1 / 3), "r_loose": pytest.approx(2 / 3)}
    assert response.diag == {"failed_constraints": ["keywords:existence", "startend:quotation"]}
    assert IFEVAL.is_failure(response) is False
    assert need(prompt, response) == 3 * prompt.weight


def test_m_zero_scores_five_as_in_the_reference():
    response = IFEVAL.score_response({"strict": [], "loose": []}, _prompt())
    assert response.score == 5 and response.l2 == {"r_strict": 1.0, "r_loose": 1.0}


def test_a_checker_error_is_an_unscored_sample_not_a_zero():
    response = IFEVAL.score_response({"error": "ValueError: bad kwargs"}, _prompt("a:b"))
    assert response.score is None and "ValueError: bad kwargs" in response.error
    assert need(_prompt("a:b"), response) is None
    assert IFEVAL.is_failure(response) is False


@pytest.mark.parametrize("l3", [
    {"strict": [True], "loose": [True, True]},
    {"strict": [True, True], "loose": [True, True]},
    {"strict": "yes", "loose": [True]},
    {},
])
def test_results_that_do_not_fit_the_instructions_are_unscored_with_a_reason(l3):
    response = IFEVAL.score_response(l3, _prompt("a:b"))
    assert response.score is None and response.error


def test_loose_never_below_strict():
    response = IFEVAL.score_response({"strict": [True, False], "loose": [False, False]},
                                     _prompt("a:b", "c:d"))
    assert response.l3["loose"] == [True, False] and response.notes
    assert response.score == 2  # fail ratio 1/2 over the corrected loose results


def test_unstorable_checker_output_is_kept_as_text_on_the_unscored_record():
    response = IFEVAL.score_response({"strict": float("inf"), "loose": [object()]},
                                     _prompt("a:b"))
    assert response.score is None and response.l3["strict"] == "inf"
    assert response.model_dump_json()  # storable
