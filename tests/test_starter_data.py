"""The shipped starter data: reproducible, leak-free, sized, labelled and verified."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from mosaic.data.compose import STARTER_DIR
from mosaic.data.compose import ifeval as ifeval_compose
from mosaic.data.compose import xguard as xguard_compose
from mosaic.data.compose.build import (
    OBJECTIVES,
    SIZED_FOR_BUDGET,
)
from mosaic.data.formats import load_eval_items, load_pool
from mosaic.objectives import get_objective
from mosaic.tools.evaluation.judges import RuleJudge, ifeval_response_l3, rules


def _pool(name):
    return load_pool(STARTER_DIR / f"{name}_pool.jsonl", objective=name).rows


def _items(name, split):
    return load_eval_items(STARTER_DIR / f"{name}_{split}.jsonl", objective=name).rows


def _prompt_text(messages):
    return "\n".join(m.content for m in messages if m.role == "user")


def test_shipped_data_equals_a_fresh_build(tmp_path, capsys):
    """`mosaic data build` with the default seed reproduces every shipped file byte for byte."""
    from mosaic.cli import main

    assert main(["data", "build", "--out", str(tmp_path)]) == 0
    assert "wrote the starter data" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == json.loads((STARTER_DIR / "manifest.json").read_text())
    for name in [*manifest["files"], "manifest.json"]:
        assert (tmp_path / name).read_bytes() == (STARTER_DIR / name).read_bytes(), name


def test_another_seed_composes_different_data(tmp_path):
    from mosaic.data.compose.build import compose_orbench

    assert ([r.messages for r in compose_orbench(1).pool]
            != [r.messages for r in compose_orbench(0).pool])


@pytest.mark.parametrize("name", OBJECTIVES)
def test_no_prompt_or_seed_is_shared_between_pool_and_eval_or_heldout(name):
    pool = _pool(name)
    pool_prompts = {_prompt_text(r.messages) for r in pool}
    pool_seeds = {r.attributes["seed"] for r in pool}
    for split in ("eval", "heldout"):
        items = _items(name, split)
        assert not pool_prompts & {_prompt_text(i.messages) for i in items}
        assert not pool_seeds & {i.meta["seed"] for i in items}
    eval_seeds = {i.meta["seed"] for i in _items(name, "eval")}
    assert not eval_seeds & {i.meta["seed"] for i in _items(name, "heldout")}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_every_slice_has_twenty_eval_items_and_the_pool_covers_every_slice(name):
    objective = get_objective(name)
    counts = Counter(i.prompt.slice for i in _items(name, "eval"))
    assert set(counts) == set(objective.slices)
    assert min(counts.values()) >= 20
    assert set(r.slice for r in _pool(name)) == set(objective.slices)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_each_pool_holds_three_times_a_uniform_share_of_the_budget(name):
    tokens = sum(r.tokens for r in _pool(name))
    assert tokens >= 3 * SIZED_FOR_BUDGET / len(OBJECTIVES)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_pool_rows_are_prescored(name):
    for row in _pool(name):
        assert row.slice in get_objective(name).slices
        assert row.quality is not None and row.quality >= 4
        assert row.tokens and 0 < row.assistant_tokens < row.tokens
        assert row.messages[-1].role == "assistant"


def test_xguard_labels_are_what_the_rules_read_from_the_attack_text():
    """Slice, P and C of every pool row equal the objective's rules (docs/reference.md §1.2) applied
    to the tactics the rule judge finds in the row's own user turns."""
    objective = get_objective("xguard")
    for row in _pool("xguard"):
        turns = [m.content for m in row.messages if m.role == "user"]
        label = objective.label_prompt(rules.label_attack(turns), turns=len(turns))
        assert (label.slice, label.l2["pressure"], label.l2["concealment"]) == (
            row.slice, row.attributes["pressure"], row.attributes["concealment"]), row.id


def test_heldout_prompts_use_no_family_a_phrasing_and_no_eval_prompt():
    from mosaic.data.compose import orbench_text, xguard_text

    def fixed_parts(templates):
        return {part.strip() for t in templates for part in t.split("{")[0:1] if
                len(part.strip()) > 12}

    family_a = {
        "xguard": fixed_parts([*xguard_text.ASK_A, *xguard_text.OPENERS_A,
                               *xguard_text.AUTHORITY_A, *xguard_text.URGENCY_A,
                               *xguard_text.ESCALATION_A, *xguard_text.CONTEXT_BIND_A,
                               *xguard_text.PRETEXT_A, *xguard_text.ROLEPLAY_A,
                               *xguard_text.TRANSFORM_A]),
        "orbench": fixed_parts(orbench_text.WRAPPERS_A),
    }
    for name, phrases in family_a.items():
        assert phrases
        for item in _items(name, "heldout"):
            text = _prompt_text(item.messages)
            assert not [p for p in phrases if p in text], item.id
    for name in OBJECTIVES:
        assert not ({_prompt_text(i.messages) for i in _items(name, "eval")}
                    & {_prompt_text(i.messages) for i in _items(name, "heldout")})


def test_xguard_training_dialogues_end_in_a_refusal_with_an_alternative():
    for row in _pool("xguard"):
        final = row.messages[-1].content
        assert rules.is_refusal(final)
        l3, first_leak = rules.judge_xguard(
            [m.content for m in row.messages if m.role == "assistant"],
            turns=[m.content for m in row.messages if m.role == "user"])
        assert first_leak is None and all(l3["utility"].values()), row.id


def test_xguard_attacks_use_exactly_the_tactics_they_are_labelled_with():
    """The rule judge, reading only the text, finds the constructed tactics."""
    rng = random.Random(0)
    seeds = xguard_compose.seeds()
    for _ in range(200):
        seed = rng.choice(seeds)
        tactics = rng.choice([t for ts in xguard_compose.tactics_by_slice().values() for t in ts])
        turns = xguard_compose.compose_attack(rng, seed, tactics, rng.choice("AB"))
        assert len(turns) == tactics.turns
        assert rules.label_attack(turns) == tactics.l3


def test_no_operational_detail_in_xguard_data():
    """Seed requests and replies carry no quantities, code or step lists."""
    for name in ("pool", "eval", "heldout"):
        rows = _pool("xguard") if name == "pool" else _items("xguard", name)
        for row in rows:
            for message in row.messages:
                # Attacks may *ask* for steps ("step by step"); no message may give them.
                steps = rules.STEPS if message.role == "assistant" else rules.STEPS[:2]
                assert not any(rules._any(p, message.content)
                               for p in (rules.CODE, rules.PARAMETERS, steps)), row.id


def test_ifeval_gold_responses_pass_the_strict_checker():
    """Checked again here, with the same checker the evaluation uses."""
    objective = get_objective("ifeval")
    for row in _pool("ifeval"):
        checks = row.attributes["checks"]
        from mosaic.schema import EvalItem

        item = EvalItem(id=row.id, objective="ifeval", messages=row.messages[:1],
                        meta={"instruction_id_list": [c["id"] for c in checks],
                              "kwargs": [c["kwargs"] for c in checks]})
        result = ifeval_response_l3(item, [row.messages[-1].content])
        assert all(result["strict"]), (row.id, result)
        assert objective.label_prompt({"instruction_id_list": [c["id"] for c in checks]}
                                      ).slice == row.slice


def test_ifeval_data_uses_at_least_fifteen_instruction_types_with_valid_kwargs(tmp_path):
    used = Counter(i for row in _pool("ifeval") for i in row.attributes["instruction_ids"])
    assert len(used) >= 15
    # Google's IFEval format through the public loader, which validates every kwarg.
    from mosaic.data.formats import load_ifeval_prompts

    for split in ("eval", "heldout"):
        items = _items("ifeval", split)
        path = tmp_path / f"{split}.jsonl"
        path.write_text("".join(json.dumps({
            "key": i.id, "prompt": i.messages[0].content,
            "instruction_id_list": i.meta["instruction_id_list"], "kwargs": i.meta["kwargs"]})
            + "\n" for i in items))
        loaded = load_ifeval_prompts(path).rows
        assert [i.meta["kwargs"] for i in loaded] == [i.meta["kwargs"] for i in items]


def test_ifeval_composer_never_ships_a_failing_gold():
    from mosaic.data.compose import ifeval_text
    from mosaic.tools.evaluation.judges.ifeval_checker import check_ifeval

    rng = random.Random(3)
    for topic in sorted(ifeval_text.TOPICS)[::4]:
        for complexity in (1, 2, 3, 4, 5):
            item = ifeval_compose.compose_item(rng, topic, complexity, rng.choice("AB"))
            result = check_ifeval(item.prompt, item.instruction_ids, item.kwargs, item.gold)
            assert all(result["strict"]), (topic, complexity, item.instruction_ids)


def test_orbench_pool_answers_are_helpful_and_not_refusals():
    judge = RuleJudge()
    rows = _pool("orbench")
    assert len({r.attributes["category"] for r in rows}) >= 8
    for row in rows:
        assert not rules.is_refusal(row.messages[-1].content)
    manifest = json.loads((STARTER_DIR / "manifest.json").read_text())
    assert manifest["quality_judge"] == judge.id


def test_starter_eval_sets_load_with_their_labels_frozen():
    from mosaic.tools.evaluation.eval_sets import DEFAULT_EVAL_SETS, STARTER_FORMAT, load_eval_set

    items = load_eval_set("orbench", DEFAULT_EVAL_SETS["orbench"], judge=RuleJudge(),
                          fmt=STARTER_FORMAT)
    shipped = _items("orbench", "eval")
    assert [i.prompt for i in items] == [i.prompt for i in shipped]
    assert Counter(i.prompt.slice for i in items)["boundary_2"] == 20


def test_pool_loader_rejects_rows_of_another_objective(tmp_path):
    from mosaic.errors import DataError

    source = tmp_path / "mixed.jsonl"
    source.write_text((STARTER_DIR / "orbench_pool.jsonl").read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError) as error:
        load_pool(source, objective="xguard")
    assert "objective" in str(error.value) and "row 0" in str(error.value)
