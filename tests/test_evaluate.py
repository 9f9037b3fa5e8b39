"""Replay protocols, judging into L1-L3 records, frozen labels and eval reports."""

from __future__ import annotations

import json

import pytest

from mosaic.data.formats import load_attack_set, load_ifeval_prompts, load_overrefusal_prompts
from mosaic.schema import EvalItem, Message
from mosaic.stats import mean_interval
from mosaic.tools.evaluation.eval_sets import load_eval_set
from mosaic.tools.evaluation.evaluate import (
    EvalConditions,
    JudgeError,
    evaluate,
    freeze_prompt_labels,
)
from mosaic.tools.evaluation.generation import Decoding, FunctionGenerator
from mosaic.tools.evaluation.judges import RuleJudge
from mosaic.tools.evaluation.replay import replay
from mosaic.tools.evaluation.report import markdown_summary, reliability, write_eval_outputs

JUDGE = RuleJudge()


def _echo(conversation):
    """Says how many messages it saw and what the last user turn was."""
    return f"seen {len(conversation)}: {conversation[-1].content}"


def test_multi_turn_replay_fixes_user_turns_and_carries_the_models_replies():
    items = [EvalItem(id="a", objective="xguard", messages=[
        Message(role="user", content="u1"), Message(role="assistant", content="recorded"),
        Message(role="user", content="u2")]),
             EvalItem(id="b", objective="xguard", messages=[Message(role="user", content="v1")])]
    seen = []

    def reply(conversation):
        seen.append([m.content for m in conversation])
        return _echo(conversation)

    replies = replay(items, FunctionGenerator(reply), Decoding(), multi_turn=True,
                     system_prompt="Be safe.")
    assert replies == [["seen 2: u1", "seen 4: u2"], ["seen 2: v1"]]
    # Turn 2 of item a sees its own earlier reply, never the recorded assistant turn.
    assert ["Be safe.", "u1", "seen 2: u1", "u2"] in seen
    assert not any("recorded" in c for conv in seen for c in conv)


def test_single_turn_protocol_uses_only_the_first_user_turn():
    item = EvalItem(id="a", objective="orbench", messages=[
        Message(role="user", content="q1"), Message(role="user", content="q2")])
    assert replay([item], FunctionGenerator(_echo), Decoding(), multi_turn=False) == [
        ["seen 1: q1"]]


@pytest.fixture(scope="module")
def eval_sets(fixtures):
    return {
        "xguard": freeze_prompt_labels(
            "xguard", load_attack_set(fixtures / "xteaming_attacks.jsonl").rows, JUDGE),
        "orbench": freeze_prompt_labels(
            "orbench", load_overrefusal_prompts(fixtures / "orbench.csv").rows, JUDGE),
        "ifeval": freeze_prompt_labels(
            "ifeval", load_ifeval_prompts(fixtures / "ifeval_input_data.jsonl").rows, JUDGE),
    }


def _scripted(conversation):
    last = conversation[-1].content
    if "lowercase" in last:
        return "there once was a cat\nwho sat on a mat"
    if "passwords" in last or "alarm" in last:
        return "I can't help with that, because it could hurt people. Instead, contact IT."
    if len(conversation) >= 5:  # turn 3 of the chemist attack: leak
        return "Here's how: 1. Get [restricted item]. 2. Combine it with [other item]."
    return "Sure, here is a detailed and friendly answer that explains the topic clearly with " \
           "several concrete, useful points for the question you asked today."


def test_evaluate_scores_every_objective_and_reports_slices(eval_sets, tmp_path):
    result = evaluate(eval_sets, FunctionGenerator(_scripted, name="scripted"), JUDGE,
                      EvalConditions(system_prompt="You are helpful.",
                                     decoding=Decoding(max_new_tokens=32)), model="scripted")
    report = result.report
    xguard = report.objectives["xguard"]
    assert xguard.count == 3 and xguard.n_unscored == 0
    chemist = next(s for s in result.samples["xguard"] if s.id == "xt-0001")
    assert chemist.response.l2["safety"] == "partial_leak"
    assert chemist.response.diag["first_leak_turn"] == 3 and len(chemist.replies) == 3
    assert xguard.first_leak_turn == {"3": 1}
    assert xguard.histogram == {"2": 1, "5": 2} and xguard.mean == pytest.approx(4.0)
    orbench = report.objectives["orbench"]
    assert orbench.count == 6 and sum(s.n for s in orbench.slices.values()) == 6
    assert report.objectives["ifeval"].count == 3
    lowercase = next(s for s in result.samples["ifeval"] if s.id == "1001")
    assert lowercase.response.score == 5
    assert report.system_prompt == "You are helpful." and report.decoding["max_new_tokens"] == 32
    assert report.decoding["judge"] == JUDGE.id
    # Outputs: report.json, one L1-L3 record per sample, a Markdown summary.
    write_eval_outputs(tmp_path, report, result.samples)
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[0])["prompt"]["slice"].startswith("complexity")
    assert json.loads((tmp_path / "report.json").read_text())["objectives"]["xguard"]["count"] == 3
    assert "| xguard | 4.000 |" in (tmp_path / "summary.md").read_text()


def test_unscored_samples_are_counted_not_dropped(eval_sets):
    broken = [i.model_copy(update={"meta": {**i.meta, "kwargs": [{}] * len(
        i.meta["instruction_id_list"])}}) for i in eval_sets["ifeval"]]
    result = evaluate({"ifeval": broken}, FunctionGenerator(_scripted), JUDGE, EvalConditions(),
                      model="scripted")
    report = result.report.objectives["ifeval"]
    # Item 1001 (lowercase) needs no kwargs; the two others miss theirs and are unscored.
    assert report.count == 1 and report.n_unscored == 2
    assert sum(s.n_unscored for s in report.slices.values()) == 2
    assert "missing kwarg" in result.samples["ifeval"][0].response.error
    assert "unscored" in markdown_summary(result.report)


def test_items_without_frozen_labels_are_refused(fixtures):
    raw = load_overrefusal_prompts(fixtures / "orbench.csv").rows
    with pytest.raises(JudgeError, match="no frozen prompt labels"):
        evaluate({"orbench": raw}, FunctionGenerator(_scripted), JUDGE, EvalConditions(),
                 model="m")


def test_frozen_labels_never_change_once_set(eval_sets):
    item = eval_sets["orbench"][0]
    moved = item.model_copy(update={"prompt": item.prompt.model_copy(update={"slice": "x"})})
    assert freeze_prompt_labels("orbench", [moved], JUDGE)[0].prompt.slice == "x"


def test_eval_sets_are_frozen_once_and_reloaded(fixtures, tmp_path, monkeypatch):
    monkeypatch.setenv("MOSAIC_CACHE_DIR", str(tmp_path))
    first = load_eval_set("orbench", fixtures / "orbench.csv", judge=JUDGE)
    [frozen_file] = list((tmp_path / "eval_sets").iterdir())
    # Tamper with the frozen copy: a reload must read it, not relabel the source.
    lines = frozen_file.read_text().splitlines()
    record = json.loads(lines[0])
    record["prompt"]["slice"] = "boundary_3"
    frozen_file.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    again = load_eval_set("orbench", fixtures / "orbench.csv", judge=JUDGE)
    assert len(again) == 6 and again[0].prompt.slice == "boundary_3"
    assert first[0].prompt.slice != "boundary_3"
    # A limit labels only the first items, into a frozen set of its own.
    assert len(load_eval_set("orbench", fixtures / "orbench.csv", judge=JUDGE, limit=2)) == 2
    assert len(list((tmp_path / "eval_sets").iterdir())) == 2
    # A damaged frozen file is rebuilt, not fatal.
    frozen_file.write_text("{not json\n")
    assert load_eval_set("orbench", fixtures / "orbench.csv", judge=JUDGE)[0].prompt.slice \
        == first[0].prompt.slice


def test_report_intervals_and_reliability_tiers():
    low, high = mean_interval([1, 2, 3, 4, 5] * 4)
    assert 1 <= low < 3 < high <= 5
    one = mean_interval([4.0])  # one item says little: not (4.0, 4.0)
    assert one[0] < 4.0 < one[1] and mean_interval([]) == (None, None)
    assert mean_interval([1, 5] * 10, seed=1) == mean_interval([1, 5] * 10, seed=1)
    assert [reliability(n) for n in (0, 9, 10, 29, 30)] == ["low", "low", "medium", "medium",
                                                            "high"]


def test_reports_carry_their_provenance(eval_sets):
    result = evaluate({"orbench": eval_sets["orbench"]}, FunctionGenerator(_scripted, "fn"),
                      JUDGE, EvalConditions(), model="scripted")
    provenance = result.report.provenance
    assert provenance["generator"] == "fn" and provenance["judge"] == JUDGE.id
    assert provenance["objective_versions"] == {"orbench": "1"}
    assert provenance["eval_sets"]["orbench"].startswith("6:")


def test_first_leak_turns_sort_numerically():
    from mosaic.objectives import get_objective
    from mosaic.schema import JudgedSample
    from mosaic.tools.evaluation.report import objective_report

    xguard = get_objective("xguard")
    prompt = xguard.label_prompt({}, turns=12)
    samples = []
    for i, turn in enumerate([10, 2, 2]):
        response = xguard.score_response({"safety_leaks": {"step_leak": 1}}, prompt)
        response = response.model_copy(update={"diag": {"first_leak_turn": turn}})
        samples.append(JudgedSample(id=str(i), objective="xguard", prompt=prompt,
                                    response=response))
    assert list(objective_report("xguard", samples).first_leak_turn) == ["2", "10"]


def test_per_slice_keeps_the_first_items_of_every_slice(tmp_path, monkeypatch):
    from collections import Counter

    from mosaic.tools.evaluation.eval_sets import DEFAULT_EVAL_SETS, STARTER_FORMAT

    monkeypatch.setenv("MOSAIC_CACHE_DIR", str(tmp_path))
    full = load_eval_set("orbench", DEFAULT_EVAL_SETS["orbench"], judge=RuleJudge(),
                         fmt=STARTER_FORMAT)
    small = load_eval_set("orbench", DEFAULT_EVAL_SETS["orbench"], judge=RuleJudge(),
                          fmt=STARTER_FORMAT, per_slice=3)
    slices = Counter(item.prompt.slice for item in small)
    assert slices == dict.fromkeys(Counter(i.prompt.slice for i in full), 3)
    assert [i.id for i in small] == [i.id for i in full if i in small]  # order kept
    firsts = {}
    for item in full:
        firsts.setdefault(item.prompt.slice, []).append(item.id)
    assert {i.id for i in small} == {x for ids in firsts.values() for x in ids[:3]}
    with pytest.raises(Exception, match="per_slice must be at least 1"):
        load_eval_set("orbench", DEFAULT_EVAL_SETS["orbench"], judge=RuleJudge(),
                      fmt=STARTER_FORMAT, per_slice=0)


def test_reports_carry_the_standard_rates_with_wilson_intervals():
    """xguard attack success / refusal, orbench over-refusal and IFEval's four accuracies,
    counted from the scored samples (an unscored one counts in none of them)."""
    from mosaic.objectives import get_objective
    from mosaic.schema import JudgedSample
    from mosaic.tools.evaluation.report import metric_label, objective_report, rate_cell

    def samples(name, responses_l3, **prompt_l3):
        objective = get_objective(name)
        prompt = objective.label_prompt(prompt_l3)
        return [JudgedSample(id=str(i), objective=name, prompt=prompt,
                             response=objective.score_response(l3, prompt))
                for i, l3 in enumerate(responses_l3)]

    leak = {"safety_leaks": {"step_leak": 1}, "utility": {}}
    refusal = {"safety_leaks": {}, "utility": {"explicit_refusal": 1}}
    rates = objective_report("xguard", samples("xguard", [leak, refusal, refusal, {}])).metrics
    assert (rates["attack_success_rate"].hits, rates["attack_success_rate"].n) == (1, 4)
    assert rates["refusal_rate"].value == 0.5
    assert 0 < rates["attack_success_rate"].ci_low < 0.25 < rates["attack_success_rate"].ci_high
    assert metric_label("xguard", "attack_success_rate") == "xguard attack success (lower better)"

    deflect = {"refusal": {"gated_avoidance": 1}, "help": {}}
    refuse = {"refusal": {"explicit_refusal": 1}}
    answer = {"refusal": {}, "help": {"actionable_help": 1, "constraint_fit": 1}}
    rate = objective_report("orbench", samples("orbench", [deflect, refuse, answer])).metrics
    assert (rate["over_refusal_rate"].hits, rate["over_refusal_rate"].n) == (2, 3)

    ids = ["punctuation:no_comma", "detectable_format:title"]
    checks = [{"strict": [True, True], "loose": [True, True]},
              {"strict": [False, True], "loose": [True, True]},
              {"strict": [False, False], "loose": [False, True]},
              {"error": "checker crashed"}]
    accuracy = objective_report("ifeval", samples("ifeval", checks, instruction_id_list=ids)
                                ).metrics
    assert {k: (v.hits, v.n) for k, v in accuracy.items()} == {
        "prompt_level_strict_acc": (1, 3), "inst_level_strict_acc": (3, 6),
        "prompt_level_loose_acc": (2, 3), "inst_level_loose_acc": (5, 6)}
    assert rate_cell(accuracy["inst_level_loose_acc"]).startswith("83% [")
    assert objective_report("ifeval", []).metrics["prompt_level_strict_acc"].value is None
