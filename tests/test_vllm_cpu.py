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
    from mosaic.tools.generation import Decoding
    from mosaic.tools.openai_backend import OpenAIGenerator

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
