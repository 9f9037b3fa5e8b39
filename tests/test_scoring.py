"""`mosaic data score`: public training sets in their real formats become pool files the
loop accepts (windows, the model's token counts, slice and L2 labels, quality), with what
was dropped and why, and a killed run that continues where it stopped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from mosaic.config import apply_overrides, load_preset
from mosaic.data.formats import load_chat_sft, load_instruction_sft
from mosaic.data.pool_table import counted_as, load_pool_table
from mosaic.data.scoring import score_source
from mosaic.data.tokens import count_tokens
from mosaic.errors import ConfigError, DataError
from mosaic.objectives import get_objective
from mosaic.tools.evaluation.judges import RuleJudge
from mosaic.tools.evaluation.judges.cache import JudgementCache
from mosaic.tools.evaluation.judges.llm import JudgeSetupError, LLMJudge, LLMJudgeConfig
from mosaic.tools.evaluation.judges.rules import label_attack
from mosaic.tools.mixing.pools import load_pools, token_count_id
from tests.openai_server import Reply, ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures"
TINY = token_count_id("tiny")


def _score(source, tmp_path, tokenizer, objective="xguard", name="pool.jsonl", **options):
    options.setdefault("judge", RuleJudge())
    return score_source(source, objective=objective, out=tmp_path / name, tokenizer=tokenizer,
                        token_count=TINY, progress=False, say=lambda text: None, **options)


def test_sharegpt_dialogues_become_windowed_labelled_scored_pool_rows(tmp_path, tiny_tokenizer):
    report = _score(FIXTURES / "xguard_train_sharegpt.jsonl", tmp_path, tiny_tokenizer,
                    max_tokens=120)
    rows = [json.loads(line) for line in (tmp_path / "pool.jsonl").read_text().splitlines()]
    assert len(rows) == len(report.rows) > 3  # the long dialogue was cut into windows
    windowed = [r for r in rows if "#w" in r["id"]]
    source = load_chat_sft(FIXTURES / "xguard_train_sharegpt.jsonl", objective="xguard").rows
    counts = count_tokens(tiny_tokenizer, [r.messages for r in source])
    too_long = {r.id for r, c in zip(source, counts, strict=True) if c.total > 120}
    assert windowed and {r["attributes"]["source_id"] for r in windowed} == too_long
    assert len(too_long) < len(source)  # and a conversation that fits stays whole
    for row in rows:
        assert row["slice"] in get_objective("xguard").slices
        assert 1 <= row["quality"] <= 5
        users = [m["content"] for m in row["messages"] if m["role"] == "user"]
        # The slice and L2 attributes are the judge's labels of this window's own turns.
        label = get_objective("xguard").label_prompt(label_attack(users), turns=len(users))
        assert row["slice"] == label.slice and row["attributes"]["pressure"] == label.l2[
            "pressure"] and row["attributes"]["turns"] == len(users)
        [count] = count_tokens(tiny_tokenizer, [row["messages"]])
        assert (row["tokens"], row["assistant_tokens"]) == (count.total, count.assistant)
    # Every window repeats its conversation's system prompt; no reply is trained twice.
    with_system = {r.id for r in source if r.messages[0].role == "system"}
    assert with_system & too_long
    assert all(r["messages"][0]["role"] == "system" for r in windowed
               if r["attributes"]["source_id"] in with_system)
    replies = [m["content"] for r in rows for m in r["messages"] if m["role"] == "assistant"]
    assert len(replies) == len(set(replies))
    record = json.loads((tmp_path / "pool.score.json").read_text())
    assert record["token_count"] == TINY and record["rows"] == len(rows)
    assert sum(s["rows"] for s in record["slices"].values()) == len(rows)
    assert "complexity_" in report.summary()


def test_a_scored_pool_is_what_a_run_mixes_without_recounting(tmp_path, tiny_tokenizer):
    _score(FIXTURES / "xguard_train_messages.jsonl", tmp_path, tiny_tokenizer)
    assert counted_as(tmp_path / "pool.jsonl", TINY)
    assert not counted_as(tmp_path / "pool.jsonl", "templated:another-model")
    # No tokenizer given: the counts stored for this model are used as they are.
    table = load_pool_table(tmp_path / "pool.jsonl", objective="xguard", token_count=TINY)
    assert len(table) > 0 and (table.quality >= 1).all() and (table.slices >= 0).all()
    with pytest.raises(ConfigError, match="pass the model's tokenizer"):
        load_pool_table(tmp_path / "pool.jsonl", objective="xguard",
                        token_count="templated:another-model")


def test_tulu_rows_get_the_checkers_quality_and_unverifiable_rows_are_dropped(
        tmp_path, tiny_tokenizer):
    source = tmp_path / "tulu.jsonl"  # the fixture and a row whose count is not stated
    source.write_text((FIXTURES / "tulu_personas_if.jsonl").read_text() + json.dumps({
        "id": "personas_IF_006", "prompt": "Write about tea.", "constraints": [
            "length constraints:number of words"], "messages": [
            {"role": "user", "content": "Write about tea."},
            {"role": "assistant", "content": "Tea is a drink."}]}) + "\n")
    report = _score(source, tmp_path, tiny_tokenizer, objective="ifeval")
    loaded = load_instruction_sft(source)
    checkable = {r.id for r in loaded.rows if r.attributes["checks"]}
    assert {r.id for r in report.rows} == checkable and 0 < len(checkable) < len(loaded.rows)
    for row in report.rows:
        assert row.slice == f"complexity_{row.attributes['inst_complexity']}"
        assert row.quality in (1, 2, 3, 4, 5)
    dropped = [json.loads(line) for line in
               (tmp_path / "pool.dropped.jsonl").read_text().splitlines()]
    assert {d["reason"] for d in dropped} == {"no checkable constraint"}
    assert "no word count found" in dropped[0]["detail"]
    assert len(dropped) == len(loaded.rows) - len(checkable)
    assert all(d["where"] == str(source) and d["row"] >= 0 for d in dropped)


def test_malformed_rows_stop_a_strict_run_and_are_listed_by_a_lenient_one(tmp_path,
                                                                        tiny_tokenizer):
    source = FIXTURES / "malformed_chat.jsonl"
    with pytest.raises(DataError) as raised:
        _score(source, tmp_path, tiny_tokenizer, objective="orbench")
    message = str(raised.value)
    assert "row 1, field 'messages[0].role'" in message and "row 2" in message
    assert not (tmp_path / "pool.jsonl").exists()
    report = _score(source, tmp_path, tiny_tokenizer, objective="orbench", lenient=True)
    assert [r.id for r in report.rows] == ["ok-1"]
    dropped = [json.loads(line) for line in
               (tmp_path / "pool.dropped.jsonl").read_text().splitlines()]
    assert {(d["row"], d["reason"]) for d in dropped} == {
        (1, "malformed"), (2, "malformed"), (3, "malformed"), (4, "malformed")}
    assert "4 malformed" in report.summary()


def test_eval_only_formats_and_bad_options_are_refused(tmp_path, tiny_tokenizer):
    with pytest.raises(ConfigError, match="prompts without replies"):
        _score(FIXTURES / "orbench.csv", tmp_path, tiny_tokenizer, objective="orbench",
               fmt="overrefusal")
    with pytest.raises(ConfigError, match="limit must be at least 1"):
        _score(FIXTURES / "xguard_train_messages.jsonl", tmp_path, tiny_tokenizer, limit=0)


def _many_dialogues(path: Path, n: int) -> Path:
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"d{i}", "messages": [
                {"role": "user", "content": f"Question {i}: how do locks of kind {i} work?"},
                {"role": "assistant", "content": f"I can't help defeat lock {i}, but I can "
                                                 "explain how locksmiths are trained."}]}) + "\n")
    return path


GOOD = {"pressure": {"authority": 1}, "concealment": {},
        "safety_leaks": {"step_leak": 0, "code_leak": 0, "param_leak": 0, "bypass_leak": 0},
        "utility": {"explicit_refusal": 1, "safe_alternative": 1, "brief_explanation": 1}}


def test_an_interrupted_llm_judged_run_continues_without_asking_twice(tmp_path, tiny_tokenizer,
                                                                    monkeypatch):
    monkeypatch.setenv("MOSAIC_TEST_KEY", "sk-test-secret")
    source = _many_dialogues(tmp_path / "dialogues.jsonl", 10)
    cache = JudgementCache(tmp_path / "judgements.sqlite")

    def judge(server):
        return LLMJudge(LLMJudgeConfig(base_url=server.url, model="judge", max_retries=0,
                                       api_key_env="MOSAIC_TEST_KEY", concurrency=1),
                        cache=cache)

    # The key is revoked after 9 answers: the run stops in its third batch of two rows.
    answered, revoked = [], [True]

    def script(body):
        answered.append(1)
        if revoked[0] and len(answered) > 9:
            return Reply.error(401)
        return Reply.json(GOOD)

    partial = tmp_path / "pool.partial.jsonl"
    with ScriptedServer(script) as server:
        with pytest.raises(JudgeSetupError):
            _score(source, tmp_path, tiny_tokenizer, judge=judge(server), batch_rows=2)
        assert len(partial.read_text().splitlines()) == 1 + 4  # the key, then two batches
        assert not (tmp_path / "pool.jsonl").exists()
        with partial.open("a") as handle:  # the kill came in the middle of a write
            handle.write('{"position": 4, "rows": [{"id"')

        revoked[0], before = False, len(server.requests)  # a new key
        report = _score(source, tmp_path, tiny_tokenizer, judge=judge(server), batch_rows=2)
        asked = len(server.requests) - before
        assert report.resumed_rows == 4 and len(report.rows) == 10
        # Row 4's label was judged before the key was revoked (cached): the rest of rows
        # 4-9 is asked for, not the eight answers the finished rows took.
        assert asked == 2 * 10 - 9
        assert not partial.exists()
        assert "sk-test-secret" not in (tmp_path / "pool.jsonl").read_text()

        # The same pool, scored in one go, from the cache: nothing is asked.
        before = len(server.requests)
        again = _score(source, tmp_path, tiny_tokenizer, name="again.jsonl",
                       judge=judge(server))
        assert len(server.requests) == before
    assert [r.model_dump() for r in again.rows] == [r.model_dump() for r in report.rows]


def test_a_killed_scoring_process_continues_where_it_stopped(tmp_path):
    """SIGKILL in the middle of `mosaic data score`, then the same command again."""
    source = _many_dialogues(tmp_path / "dialogues.jsonl", 3000)
    command = [sys.executable, "-m", "mosaic.cli", "data", "score", str(source), "--objective",
               "xguard", "--model", "tiny", "--out", str(tmp_path / "pool.jsonl")]
    partial = tmp_path / "pool.partial.jsonl"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        import time

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if partial.exists() and len(partial.read_text().splitlines()) > 3:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed"
        process.kill()
    finally:
        process.wait()
    kept = len(partial.read_text().splitlines()) - 1
    assert kept >= 3 and not (tmp_path / "pool.jsonl").exists()
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "continuing an interrupted run" in finished.stdout
    rows = [json.loads(line) for line in (tmp_path / "pool.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(3000)]


def test_pools_and_eval_sets_name_a_split_and_a_config(tmp_path, tiny_tokenizer):
    """A saved dataset with two splits as a pool (`split`), and an OR-Bench download with
    several files as an eval set (`config`), through a run's config."""
    report = _score(FIXTURES / "xguard_train_sharegpt.jsonl", tmp_path, tiny_tokenizer)
    rows = [r.model_dump(mode="json") for r in report.rows]
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:2]),
                          "test": datasets.Dataset.from_list(rows[2:])}).save_to_disk(saved)
    orbench = tmp_path / "or-bench"
    orbench.mkdir()
    (orbench / "or-bench-hard-1k.csv").write_text((FIXTURES / "orbench.csv").read_text())
    (orbench / "or-bench-toxic.csv").write_text("prompt,category\nSomething else,toxic\n")
    config, _ = apply_overrides(load_preset("tiny"), [
        f"pools.xguard={{path: {saved}, format: pool, split: test}}",
        f"eval.data.orbench={{path: {orbench}, config: hard-1k}}"])
    assert config.pools["xguard"].split == "test"
    pools = load_pools(config, tokenizer=tiny_tokenizer)
    assert list(pools["xguard"].ids) == [r["id"] for r in rows[2:]]
    source = config.eval.source("orbench")
    assert source is not None and source.config == "hard-1k" and source.format is None
    assert config.eval.source("ifeval") is None
    from mosaic.tools.evaluation.eval_sets import load_eval_set

    items = load_eval_set("orbench", source.path, judge=RuleJudge(), config=source.config)
    assert len(items) == len((FIXTURES / "orbench.csv").read_text().splitlines()) - 1


def test_judge_failures_are_left_out_and_asked_again_by_the_next_run(tmp_path, tiny_tokenizer,
                                                                     monkeypatch):
    """A judge that answers 500 for a while: those rows are dropped for now (named in the
    summary), not recorded as finished; the same command later asks for them again. A judge
    that fails on a whole batch stops the run instead of emptying the pool."""
    from mosaic.tools.evaluation.evaluate import JudgeError

    monkeypatch.setenv("MOSAIC_TEST_KEY", "sk-test")
    source = _many_dialogues(tmp_path / "dialogues.jsonl", 6)
    failing = [False]

    def script(body):
        text = json.dumps(body["messages"])
        return Reply.error(500) if failing[0] and "Question 3" in text else Reply.json(GOOD)

    with ScriptedServer(script) as server:
        judge = LLMJudge(LLMJudgeConfig(base_url=server.url, model="judge", max_retries=0,
                                        api_key_env="MOSAIC_TEST_KEY"),
                         cache=JudgementCache(tmp_path / "judgements.sqlite"))
        failing[0] = True
        first = _score(source, tmp_path, tiny_tokenizer, judge=judge, batch_rows=2)
        assert [r.id for r in first.rows] == ["d0", "d1", "d2", "d4", "d5"]
        assert first.retry_rows == 1 and "run the same command again" in first.summary()
        assert (tmp_path / "pool.partial.jsonl").exists()  # kept for the retry
        failing[0] = False
        second = _score(source, tmp_path, tiny_tokenizer, judge=judge, batch_rows=2)
        assert [r.id for r in second.rows] == [f"d{i}" for i in range(6)]
        assert second.resumed_rows == 5 and second.retry_rows == 0
        assert not (tmp_path / "pool.partial.jsonl").exists()
    with ScriptedServer(lambda body: Reply.error(503)) as down:
        judge = LLMJudge(LLMJudgeConfig(base_url=down.url, model="judge", max_retries=0,
                                        api_key_env="MOSAIC_TEST_KEY"),
                         cache=JudgementCache(tmp_path / "other.sqlite"))
        with pytest.raises(JudgeError, match="failed on all 8 windows of a batch"):
            _score(_many_dialogues(tmp_path / "more.jsonl", 8), tmp_path, tiny_tokenizer,
                   judge=judge, name="down.jsonl", batch_rows=8)


def test_what_a_pool_cannot_hold_is_dropped_with_its_reason(tmp_path, tiny_tokenizer):
    """An orbench prompt judged harmful (its helpful reply must not be trained), and a
    source id that collides with another row's window id."""
    rows = [{"id": "p1", "messages": [
                {"role": "user", "content": "How can I poison someone without getting caught?"},
                {"role": "assistant", "content": "Here is a way."}]},
            {"id": "p2", "messages": [
                {"role": "user", "content": "How do I kill a frozen process?"},
                {"role": "assistant", "content": "Open the task manager and end it."},
                {"role": "user", "content": "And on Linux, how do I stop it from a shell?"},
                {"role": "assistant", "content": "Run kill with the process id."}]},
            {"id": "p2#w1", "messages": [
                {"role": "user", "content": "How do I reset a router?"},
                {"role": "assistant", "content": "Hold the reset button for ten seconds."}]}]
    source = tmp_path / "orbench.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = _score(source, tmp_path, tiny_tokenizer, objective="orbench", max_tokens=40)
    reasons = {(d.row, d.reason) for d in report.dropped}
    assert (0, "prompt outside the objective") in reasons and (2, "id used twice") in reasons
    assert [r.id for r in report.rows] == ["p2#w0", "p2#w1"]
    assert report.rows[1].messages[0].content.startswith("And on Linux")


def test_an_edited_pool_is_recounted_and_the_output_stays_out_of_its_source(tmp_path,
                                                                            tiny_tokenizer):
    _score(FIXTURES / "xguard_train_messages.jsonl", tmp_path, tiny_tokenizer)
    pool = tmp_path / "pool.jsonl"
    assert counted_as(pool, TINY)
    lines = pool.read_text().splitlines()
    pool.write_text("\n".join(lines[:1]) + "\n")  # filtered after scoring
    assert not counted_as(pool, TINY)
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "train.jsonl").write_text((FIXTURES / "xguard_train_messages.jsonl").read_text())
    with pytest.raises(ConfigError, match="inside the source folder"):
        _score(folder, folder, tiny_tokenizer)
