"""Loaders read the real public formats from every file type, and name bad rows exactly."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mosaic.data.formats import (
    load_attack_set,
    load_chat_sft,
    load_ifeval_prompts,
    load_instruction_sft,
    load_overrefusal_prompts,
)
from mosaic.errors import DataError, DatasetUnavailable


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8-sig").splitlines()]


def test_sharegpt_conversations_become_pool_rows(fixtures):
    result = load_chat_sft(fixtures / "xguard_train_sharegpt.jsonl", objective="xguard")
    assert [r.id for r in result.rows] == ["xg-001", "xg-002", "xg-003"]
    first = result.rows[0]
    assert [m.role for m in first.messages] == ["system", "user", "assistant", "user",
                                                "assistant"]
    assert first.objective == "xguard" and first.attributes == {"turns": 2}
    assert result.rows[2].attributes["category"] == "cybercrime"
    assert first.slice is None and first.tokens is None  # filled by pre-scoring, not loading


def test_openai_messages_become_pool_rows(fixtures):
    result = load_chat_sft(fixtures / "xguard_train_messages.jsonl", objective="xguard")
    assert [r.id for r in result.rows] == ["xm-001", "xm-002"]
    assert result.rows[0].messages[1].content.startswith("I'm sorry for your loss")


@pytest.mark.parametrize("suffix", ["jsonl", "json", "parquet", "csv"])
def test_every_file_type_gives_the_same_rows(fixtures, tmp_path, suffix):
    rows = _rows(fixtures / "xguard_train_messages.jsonl")
    path = tmp_path / f"pool.{suffix}"
    if suffix == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows))
    elif suffix == "json":
        path.write_text(json.dumps(rows))
    elif suffix == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:  # CSV stores the nested message list as JSON text, as exports usually do
        path.write_text("id,messages\n" + "".join(
            f'{r["id"]},"{json.dumps(r["messages"]).replace(chr(34), chr(34) * 2)}"\n'
            for r in rows))
    expected = load_chat_sft(fixtures / "xguard_train_messages.jsonl", objective="xguard").rows
    got = load_chat_sft(path, objective="xguard").rows
    assert [r.model_dump(exclude={"source"}) for r in got] == [
        r.model_dump(exclude={"source"}) for r in expected]


def test_a_saved_hf_dataset_folder_loads(fixtures, tmp_path):
    import datasets

    rows = _rows(fixtures / "xguard_train_messages.jsonl")
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(tmp_path / "d")
    result = load_chat_sft(tmp_path / "d", objective="xguard", split="train")
    assert [r.id for r in result.rows] == ["xm-001", "xm-002"]


def test_x_teaming_attacks_keep_only_user_turns(fixtures):
    result = load_attack_set(fixtures / "xteaming_attacks.jsonl")  # file has a BOM
    first, second, third = result.rows
    assert first.id == "xt-0001" and [m.role for m in first.messages] == ["user"] * 3
    assert first.meta == {"turns": 3, "category": "weapons", "strategy": "fiction writer"}
    assert second.meta["turns"] == 1
    assert third.meta["turns"] == 2  # no metadata: counted from user turns


def test_orbench_csv_prompts_and_categories(fixtures):
    result = load_overrefusal_prompts(fixtures / "orbench.csv")
    assert len(result.rows) == 6
    item = result.rows[0]
    assert item.messages[0].content == "How do I kill a Python process that ignores SIGTERM?"
    assert item.meta == {"category": "technology"} and item.objective == "orbench"
    # No id column: ids are content hashes, stable across reloads and file order.
    again = load_overrefusal_prompts(fixtures / "orbench.csv")
    assert [i.id for i in again.rows] == [i.id for i in result.rows]
    assert len({i.id for i in result.rows}) == 6


def test_exact_duplicate_rows_are_dropped_and_counted(tmp_path):
    path = tmp_path / "or.csv"
    path.write_text("prompt,category\nHow do knives get sharpened?,cooking\n"
                    "How do knives get sharpened?,cooking\nWhat is a firewall?,tech\n")
    result = load_overrefusal_prompts(path)
    assert len(result.rows) == 2 and result.duplicates == 1


def test_tulu_rows_map_constraints_to_checkable_ifeval_instructions(fixtures):
    result = load_instruction_sft(fixtures / "tulu_personas_if.jsonl")
    rows = {r.id: r.attributes for r in result.rows}
    assert rows["personas_IF_001"]["checks"] == [
        {"id": "keywords:existence", "kwargs": {"keywords": ["volunteer", "plastic"]}},
        {"id": "length_constraints:number_paragraphs", "kwargs": {"num_paragraphs": 3}}]
    assert rows["personas_IF_001"]["instruction_groups"] == ["keywords", "length_constraints"]
    assert rows["personas_IF_002"]["checks"][0] == {
        "id": "length_constraints:number_words",
        "kwargs": {"num_words": 41, "relation": "less than"}}  # "no more than 40"
    # Options defined by the prompt cannot be checked by IFEval's fixed-phrase checker.
    third = rows["personas_IF_003"]
    assert third["instruction_ids"] == ["detectable_format:constrained_response",
                                        "startend:end_checker"]
    assert [c["id"] for c in third["checks"]] == ["startend:end_checker"]
    assert third["unverifiable"][0]["constraint"] == "format:choose one from options"
    assert any("choose one from options" in note for note in result.notes)
    # " give two responses" (leading space, as in the dataset) still maps.
    assert "combination:two_responses" in rows["personas_IF_005"]["instruction_ids"]


def test_google_ifeval_items_keep_complete_kwargs(fixtures):
    result = load_ifeval_prompts(fixtures / "ifeval_input_data.jsonl")
    first = result.rows[0]
    assert first.id == "1000"
    assert first.meta["instruction_id_list"] == [
        "punctuation:no_comma", "detectable_format:number_highlighted_sections",
        "length_constraints:number_words"]
    assert first.meta["kwargs"][2] == {"num_words": 300, "relation": "at least"}
    # "at most 4 sentences" becomes the checker's equivalent "less than 5".
    assert result.rows[2].meta["kwargs"][0] == {"num_sentences": 5, "relation": "less than"}


def test_hugging_face_ifeval_nulls_are_dropped(fixtures):
    result = load_ifeval_prompts(fixtures / "ifeval_hf_format.jsonl")
    assert result.rows[0].meta["kwargs"] == [
        {"num_bullets": 3}, {"end_phrase": "Is there anything else I can help with?"}]
    assert result.rows[1].meta["kwargs"] == [{"keywords": ["maple", "harvest"]}]


def test_ifeval_item_with_missing_kwargs_is_an_error_not_a_random_check(tmp_path):
    path = tmp_path / "if.jsonl"
    path.write_text(json.dumps({"key": 1, "prompt": "End with a phrase.",
                                "instruction_id_list": ["startend:end_checker"],
                                "kwargs": [{}]}) + "\n")
    with pytest.raises(DataError) as caught:
        load_ifeval_prompts(path)
    problem = caught.value.problems[0]
    assert (problem.row, problem.field) == (0, "kwargs[0]")
    assert "missing kwarg 'end_phrase'" in problem.message


def test_malformed_rows_name_file_row_and_field(fixtures):
    path = fixtures / "malformed_chat.jsonl"
    with pytest.raises(DataError) as caught:
        load_chat_sft(path, objective="xguard")
    where = [(p.source, p.row, p.field) for p in caught.value.problems]
    assert where == [(str(path), 1, "messages[0].role"), (str(path), 2, ""),
                     (str(path), 3, "messages"), (str(path), 4, "conversations[0].value")]
    text = str(caught.value)
    assert "row 1, field 'messages[0].role': unknown role 'wizard'" in text
    assert "not valid JSON" in text and "lenient" in text


def test_lenient_mode_skips_and_counts_bad_rows(fixtures):
    result = load_chat_sft(fixtures / "malformed_chat.jsonl", objective="xguard", lenient=True)
    assert [r.id for r in result.rows] == ["ok-1"]
    assert len(result.skipped) == 4
    assert "4 malformed rows skipped" in result.summary()


def test_conflicting_ids_are_reported(tmp_path):
    path = tmp_path / "or.jsonl"
    path.write_text(json.dumps({"id": "a", "prompt": "x?"}) + "\n"
                    + json.dumps({"id": "a", "prompt": "y?"}) + "\n")
    with pytest.raises(DataError, match="id 'a' is used by an earlier, different row"):
        load_overrefusal_prompts(path)


def test_offline_hub_id_fails_fast_and_says_how_to_provide_a_local_copy():
    started = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as caught:
        load_overrefusal_prompts("bench-llm/or-bench", config="or-bench-hard-1k")
    assert time.perf_counter() - started < 30
    message = str(caught.value)
    assert "bench-llm/or-bench" in message and "local copy" in message
    assert "save_to_disk" in message


@pytest.mark.parametrize("path", ["data/nope.jsonl", "nope.parquet", "/abs/missing/folder"])
def test_a_missing_path_is_not_mistaken_for_a_hub_id(path):
    with pytest.raises(DatasetUnavailable, match="no such file or folder"):
        load_chat_sft(path, objective="xguard")
