"""The vLLM backend for real, on the CPU build of vLLM (`make test-vllm`, its own venv).

Skipped where vLLM is not installed (the default suite). Compares behaviour, never strings:
vLLM's bf16 numerics differ from transformers'.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is a GPU extra; run `make test-vllm` for the CPU build")
pytestmark = pytest.mark.vllm

REPO = Path(__file__).resolve().parents[1]
VLLM_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "0-1",
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_HOST_IP": "127.0.0.1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
}


@pytest.fixture(scope="module")
def demo_and_adapter(tmp_path_factory):
    """The demo model folder and a random (non-zero) LoRA adapter for it."""
    from peft import LoraConfig, get_peft_model

    from mosaic.train.models import load_model, resolve_model

    folder = resolve_model("smollm2-135m-instruct").path
    model, _ = load_model("smollm2-135m-instruct")
    adapter = tmp_path_factory.mktemp("adapter")
    config = LoraConfig(r=8, lora_alpha=128, target_modules=["q_proj", "v_proj"],
                        init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(adapter)
    return folder, str(adapter)


def test_offline_engine_base_and_adapter(demo_and_adapter):
    folder, adapter = demo_and_adapter
    run = subprocess.run([sys.executable, str(REPO / "tests" / "vllm_cpu_check.py"), folder,
                          adapter], capture_output=True, text=True, timeout=900,
                         env={**os.environ, **VLLM_ENV})
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert "Paris" in result["base"][0]
    # The adapter changes behaviour; base requests stay base-like after adapter requests.
    assert sum(a != b for a, b in zip(result["adapted"], result["base"], strict=True)) >= 3
    assert result["base_again"] == result["base"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_vllm_serve_with_lora_through_the_openai_backend(demo_and_adapter):
    import urllib.request

    from mosaic.schema import Message
    from mosaic.tools.evaluation.generation import Decoding
    from mosaic.tools.evaluation.openai_backend import OpenAIGenerator

    folder, adapter = demo_and_adapter
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", folder,
         "--served-model-name", "demo", "--enable-lora", "--lora-modules", f"round1={adapter}",
         "--max-lora-rank", "16", "--max-loras", "2", "--max-model-len", "1024",
         "--enforce-eager", "--dtype", "bfloat16", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **VLLM_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + 300
        while time.time() < deadline:
            assert server.poll() is None, server.stderr.read()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    models = {m["id"] for m in json.load(response)["data"]}
                break
            except OSError:
                time.sleep(2)
        else:
            pytest.fail("vllm serve did not come up in 300 s")
        assert {"demo", "round1"} <= models
        generator = OpenAIGenerator(base_url=url, model="demo", max_retries=1)
        chats = [[Message(role="user", content=p)] for p in
                 ("What is the capital of France?", "Name three fruits.", "Say hello.")]
        base = generator.generate(chats, Decoding(max_new_tokens=24))
        adapted = generator.generate(chats, Decoding(max_new_tokens=24), adapter="round1")
        assert "Paris" in base[0]
        assert sum(a != b for a, b in zip(adapted, base, strict=True)) >= 2
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---------------------------------------------------------------------------------------
# The LLM diagnoser against a real `vllm serve` of the demo model. Its advice is poor (a
# 135M model); the contract is what is tested: every answer that reaches validation is a
# schema-valid DataAction, and the round ends in a valid action or a recorded fallback.

DIAGNOSER_FLAGS = [
    # Guided decoding without free whitespace: a small model otherwise fills the token
    # budget with newlines. The switch exists only as a server setting (xgrammar/guidance).
    "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}',
    # Tool calls: SmolLM2's template ignores `tools`, so the arguments are only constrained
    # to the schema when the server enforces it for every tool (strict level `parameter`).
    "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
    "--tool-strict-level", "parameter",
]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """`vllm serve` of the demo model with JSON-schema decoding and tool calls."""
    import urllib.request

    from mosaic.train.models import resolve_model

    folder = resolve_model("smollm2-135m-instruct").path
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    with open(log, "w") as sink:  # a file, not a pipe nobody drains
        server = subprocess.Popen(
            [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
             str(folder), "--served-model-name", "demo", "--max-model-len", "8192",
             "--enforce-eager", "--dtype", "bfloat16", "--host", "127.0.0.1", "--port",
             str(port), *DIAGNOSER_FLAGS],
            env={**os.environ, **VLLM_ENV}, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                time.sleep(2)
        else:
            pytest.fail("vllm serve did not come up in 300 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("mode", ["json_schema", "tools"])
def test_the_diagnoser_contract_holds_against_vllm_serve(demo_server, mode):
    from mosaic.agents.diagnoser import diagnose
    from mosaic.config import DiagnoserSettings
    from mosaic.tools.mixing.action_schema import run_action_schema
    from mosaic.tools.mixing.validate import parse_action, validate_action
    from tests.test_diagnoser import MIX, POOLS, RULES, setup

    brief, probes = setup()
    settings = DiagnoserSettings(base_url=demo_server, model="demo", mode=mode,
                                 max_answers=2, max_probes=2, max_tokens=700,
                                 timeout_s=300, max_retries=0)
    started = time.monotonic()
    diagnosis = diagnose(brief, probes, settings,
                         check=lambda a: validate_action(a, POOLS, MIX, RULES),
                         schema=run_action_schema(list(POOLS)))
    seconds = time.monotonic() - started
    answers = [a for c in diagnosis.trace["conversations"] for a in c["answers"]]
    print(f"\n{mode}: {seconds:.0f} s, {len(answers)} answer(s), "
          f"{len(diagnosis.trace['probe_calls'])} probe call(s), action "
          f"{'valid' if diagnosis.action else 'none'}, fallback {diagnosis.fallback!r}")
    replies = [r for c in diagnosis.trace["conversations"] for r in c["replies"]]
    for reply in replies:
        print("  reply:", reply["finish_reason"], [c["name"] for c in reply["tool_calls"]],
              (reply["content"] or "")[:120].replace("\n", " "))
    for answer in answers:
        print("  answer:", answer["raw"][:300], "->", answer["verdict"][:200])
    assert diagnosis.mode == mode
    assert answers, "the model gave no answer at all"
    if mode == "json_schema":  # guided decoding: every answer is a schema-valid DataAction
        for answer in answers:
            action, report = parse_action(answer["raw"])
            assert action is not None, (answer["raw"][:500], report.describe())
    submitted = [c["arguments"] for r in replies for c in r["tool_calls"]
                 if c["name"] == "submit_action"]
    for arguments in submitted:  # tool calls the server parsed are schema-valid
        assert parse_action(arguments)[0] is not None, arguments[:500]
    if diagnosis.action is not None:
        assert validate_action(diagnosis.action, POOLS, MIX, RULES).ok
    else:
        assert "no valid action" in diagnosis.fallback
