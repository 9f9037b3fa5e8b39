"""No key in anything mosaic writes or prints, whatever route it took: a loopback
OpenAI-compatible server echoes the planted key in every answer it gives (the diagnoser's
rationale and evidence, an error message, a chat translation, generated replies, judge
reasoning), and every file of the run folder and the artifact cache, the checkpoints and
every line printed are searched for it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mosaic.redact import (
    MASK,
    RedactingStream,
    public_url,
    redact,
    redact_bytes,
    redact_value,
    redacting_serializer,
    watch,
)
from tests.openai_server import Reply, ScriptedServer

KEY = "sk-planted-0123456789abcdef"
KEY_ENV = "MOSAIC_PLANTED_KEY"


@pytest.fixture
def planted(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    watch(KEY_ENV)
    return KEY


def test_redact_masks_watched_and_secret_looking_variables(planted, monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-abcdefgh-123")
    monkeypatch.setenv("UNRELATED_SETTING", "plain-value-123")
    text = f"a {KEY} b tok-abcdefgh-123 c plain-value-123"
    assert redact(text) == f"a {MASK} b {MASK} c plain-value-123"
    assert redact_value({"k": [KEY, 1, (f"x{KEY}",)]}) == {"k": [MASK, 1, [f"x{MASK}"]]}


def test_short_values_are_left_alone(monkeypatch):
    monkeypatch.setenv("TINY_API_KEY", "1")  # masking "1" everywhere would garble every file
    assert redact("round 1 of 10") == "round 1 of 10"


def test_checkpoint_bytes_keep_their_length_and_still_load(planted):
    serde = redacting_serializer()
    kind, data = serde.dumps_typed({"action": {"rationale": f"my key is {KEY}"}, "n": [1, 2]})
    assert KEY.encode() not in data
    loaded = serde.loads_typed((kind, data))
    assert loaded == {"action": {"rationale": "my key is " + "*" * len(KEY)}, "n": [1, 2]}
    assert redact_bytes(KEY.encode() * 2) == b"*" * (2 * len(KEY))


def test_the_console_stream_masks_what_is_printed(planted, capsys):
    import sys as system

    stream = RedactingStream(system.stdout)
    print(f"echo: {KEY}", file=stream)
    assert capsys.readouterr().out == f"echo: {MASK}\n"


def test_public_url_drops_credentials_query_and_fragment():
    url = f"https://me:{KEY}@api.example.com:8443/v1?api_key={KEY}#{KEY}"
    assert public_url(url) == "https://api.example.com:8443/v1"


def test_a_key_in_a_judge_url_is_refused_before_it_is_stored():
    from pydantic import ValidationError

    from mosaic.tools.evaluation.judges.llm import LLMJudgeConfig

    for url in (f"http://h/v1#{KEY}", f"http://h/v1?key={KEY}", f"http://u:{KEY}@h/v1"):
        with pytest.raises(ValidationError, match="carries credentials"):
            LLMJudgeConfig(base_url=url, model="j")


# ---------------------------------------------------------------------------------------
# Every route, end to end through the CLI


def _echoing(request: dict) -> Reply:
    """Every kind of answer, each with the key in it."""
    system = request["messages"][0]["content"]
    if "You translate messages" in system:  # the chat translation
        return Reply.json({"commands": ["/min-share orbench 0.3"],
                           "explanation": f"read with key {KEY}"})
    if request.get("model") == "judge":
        return Reply.json({"reasoning": f"judged with {KEY}", "safety_leaks": {},
                           "utility": {"explicit_refusal": 1}})
    if request.get("model") == "gen":
        return Reply.text(f"Here is your key: {KEY}")
    if "planning round 1" in request["messages"][1]["content"]:
        return Reply.calls(("submit_action", {
            "ratios": {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3},
            "rationale": f"round 1, says the key {KEY}",
            "evidence": [{"objective": "xguard", "metric": "mean", "value": 2.0,
                          "note": f"seen with {KEY}"}]}))
    return Reply.error(400, f"Invalid request for key {KEY}")  # round 2: an error


def _mosaic(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mosaic.cli", *args], capture_output=True,
                          text=True, timeout=900, stdin=subprocess.DEVNULL,
                          env={**os.environ, KEY_ENV: KEY, "MOSAIC_CACHE_DIR": str(cache)})


def _leaks(*folders: Path) -> list[str]:
    return [str(p) for folder in folders for p in folder.rglob("*")
            if p.is_file() and KEY.encode() in p.read_bytes()]


def test_no_route_writes_or_prints_the_key_in_a_reviewed_run(tmp_path):
    run, cache = tmp_path / "run", tmp_path / "cache"
    with ScriptedServer(_echoing) as server:
        settings = [f"cache={cache / 'artifacts'}", "eval.per_slice=1",
                    f"diagnoser.base_url={server.url}", "diagnoser.model=scripted",
                    f"diagnoser.api_key_env={KEY_ENV}", "diagnoser.max_retries=0"]
        steps = [
            _mosaic("run", "--preset", "tiny", "--rounds", "2", "--review", "--out", str(run),
                    *settings, cache=cache),                       # pauses at round 1's card
            _mosaic("chat", str(run), "--yes", "please keep things balanced", cache=cache),
            _mosaic("approve", str(run), cache=cache),             # round 1; round 2's card
            _mosaic("approve", str(run), cache=cache),             # round 2 and the report
            _mosaic("status", str(run), cache=cache),
            _mosaic("compare", str(run), "1", cache=cache),
        ]
        sent = {k.lower(): v for k, v in server.headers[0].items()}
    for step in steps:
        assert step.returncode == 0, step.stderr[-3000:]
    assert sent["authorization"] == f"Bearer {KEY}"  # the key was used where it belongs
    # Each route was taken: the key came back in the round-1 action, the chat translation
    # and round 2's error, and arrives masked (as MASK, or as as many `*` where it went
    # through a checkpoint, whose encoding keeps lengths).
    records = json.loads((run / "archive.json").read_text())["records"]
    assert re.fullmatch(r"round 1, says the key \*{3,}", records[1]["action"]["rationale"])
    assert re.fullmatch(r"seen with \*{3,}", records[1]["action"]["evidence"][0]["note"])
    assert records[2]["diagnoser"] == "analyst (fallback)"
    assert f"read with key {MASK}" in steps[1].stdout
    assert any(c["kind"] == "min_share" for c in
               json.loads((run / "constraints.json").read_text()))
    assert (run / "checkpoints.sqlite").is_file()
    assert _leaks(run, cache) == []
    printed = "".join(step.stdout + step.stderr for step in steps)
    assert KEY not in printed and MASK in printed


def test_no_route_writes_or_prints_the_key_in_an_evaluation(tmp_path):
    """Generated replies (openai backend) and the LLM judge's answers, echoing the key."""
    out, cache = tmp_path / "eval", tmp_path / "cache"
    with ScriptedServer(_echoing) as server:
        result = _mosaic("eval", "--backend", "openai", "--base-url", server.url, "--model",
                         "gen", "--api-key-env", KEY_ENV, "--judge", "llm",
                         "--judge-base-url", server.url, "--judge-model", "judge",
                         "--judge-api-key-env", KEY_ENV, "--objectives", "xguard",
                         "--limit", "2", "--out", str(out), cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert samples and all(s["replies"] == [f"Here is your key: {MASK}"] * len(s["replies"])
                           for s in samples)
    assert _leaks(out, cache) == []
    assert KEY not in result.stdout + result.stderr
