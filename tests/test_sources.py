"""Raw reading: files, folders and their pitfalls end in clear errors naming file and row."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mosaic.data.formats import load_chat_sft, load_overrefusal_prompts
from mosaic.data.sources import read_rows
from mosaic.errors import DataError, DatasetUnavailable

CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}


def _orbench_download(folder):
    """An OR-Bench-like download: three different sets side by side."""
    folder.mkdir()
    for name, prompt in [("or-bench-80k", "benign?"), ("or-bench-hard-1k", "hard but benign?"),
                         ("or-bench-toxic", "toxic!")]:
        (folder / f"{name}.csv").write_text(f"prompt,category\n{prompt},x\n")


def test_a_folder_of_different_data_files_needs_a_choice(tmp_path):
    _orbench_download(tmp_path / "or")
    with pytest.raises(DatasetUnavailable, match=r"3 different data files.*config"):
        load_overrefusal_prompts(tmp_path / "or")
    picked = load_overrefusal_prompts(tmp_path / "or", config="or-bench-hard-1k")
    assert [i.messages[0].content for i in picked.rows] == ["hard but benign?"]
    with pytest.raises(DatasetUnavailable, match="no file in the folder matches 'nope'"):
        load_overrefusal_prompts(tmp_path / "or", config="nope")


def test_shards_of_one_file_are_read_in_order(tmp_path):
    (tmp_path / "data").mkdir(parents=True)
    for shard, prompt in enumerate(["first?", "second?"]):
        pq.write_table(pa.Table.from_pylist([{"prompt": prompt}]),
                       tmp_path / "data" / f"train-0000{shard}-of-00002.parquet")
    result = load_overrefusal_prompts(tmp_path)
    assert [i.messages[0].content for i in result.rows] == ["first?", "second?"]


def test_problems_in_a_folder_name_the_file_and_its_own_row(tmp_path):
    (tmp_path / "train-00000-of-00002.jsonl").write_text(json.dumps(CHAT) + "\n" * 2)
    (tmp_path / "train-00001-of-00002.jsonl").write_text(
        json.dumps(CHAT) + "\n" + json.dumps({"messages": []}) + "\n")
    with pytest.raises(DataError) as caught:
        load_chat_sft(tmp_path, objective="xguard")
    [problem] = caught.value.problems
    assert problem.source.endswith("train-00001-of-00002.jsonl") and problem.row == 1


def test_csv_rows_with_surplus_values_are_reported(tmp_path):
    path = tmp_path / "or.csv"
    path.write_text('prompt,category\n"fine?",tech\nunquoted, comma?,tech\n')
    with pytest.raises(DataError, match="row 1: 1 more value"):
        load_overrefusal_prompts(path)
    assert len(load_overrefusal_prompts(path, lenient=True).rows) == 1


def test_non_utf8_and_corrupt_parquet_files_are_data_errors(tmp_path):
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"prompt": "café?"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_overrefusal_prompts(latin)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet"):
        load_overrefusal_prompts(broken)


def test_json_files_single_objects_wrappers_and_json_lines(tmp_path):
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"id": "only", **CHAT}))
    assert [r.id for r in load_chat_sft(single, objective="xguard").rows] == ["only"]
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"version": 2, "data": [CHAT, CHAT | {"id": "b"}]}))
    assert len(load_chat_sft(wrapped, objective="xguard").rows) == 2
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps(CHAT) + "\n" + json.dumps(CHAT | {"id": "b"}) + "\n")
    assert len(load_chat_sft(lines, objective="xguard").rows) == 2


def test_rows_carry_their_file_and_index(fixtures):
    rows = list(read_rows(fixtures / "orbench.csv"))
    assert rows[0].where.endswith("orbench.csv") and rows[0].row == 0
    assert rows[5].data["prompt"] == "How do I shoot a great photo in low light?"


def test_unsupported_file_types_are_refused(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        load_overrefusal_prompts(path)
