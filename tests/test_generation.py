"""Generation backends: transformers on the tiny model (batching, order, stop tokens,
adapters) and the openai backend against a loopback OpenAI-compatible server."""

from __future__ import annotations

import pytest

from mosaic.errors import MissingExtra
from mosaic.schema import Message
from mosaic.tools.evaluation.generation import (
    BackendError,
    Decoding,
    TransformersGenerator,
    make_generator,
)
from mosaic.tools.evaluation.openai_backend import OpenAIGenerator
from tests.openai_server import Reply, ScriptedServer


def _chats(*texts):
    return [[Message(role="user", content=t)] for t in texts]


@pytest.fixture(scope="module")
def tiny_generator():
    # fp32 on every CPU: in bf16 a row's rounding depends on the batch it is in, and the
    # random tiny model's near-tied logits turn that into different replies.
    return TransformersGenerator.from_spec("tiny", dtype="float32")


def test_batched_generation_equals_one_by_one_and_keeps_order(tiny_generator):
    chats = _chats("hello", "a much longer question about safety and words", "hi there")
    decoding = Decoding(max_new_tokens=8, batch_size=3)
    batched = tiny_generator.generate(chats, decoding)
    single = [tiny_generator.generate([c], decoding)[0] for c in chats]
    assert batched == single and len(set(batched)) > 1


def test_generation_stops_at_the_end_of_turn_token(tiny_generator):
    """The reply never contains template tokens, and greedy decoding repeats exactly."""
    decoding = Decoding(max_new_tokens=24)
    first = tiny_generator.generate(_chats("tell me a story"), decoding)
    assert first == tiny_generator.generate(_chats("tell me a story"), decoding)
    assert "<|im_end|>" not in first[0] and "<|im_start|>" not in first[0]
    assert tiny_generator.tokenizer.convert_tokens_to_ids("<|im_end|>") in tiny_generator._stop_ids


def test_an_adapter_changes_replies_and_the_base_stays_the_base(tiny_generator, tmp_path):
    from peft import LoraConfig, get_peft_model

    from mosaic.train.models import load_model

    model, _ = load_model("tiny")
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                        init_lora_weights=False)  # random B: the adapter changes outputs
    get_peft_model(model, config).save_pretrained(tmp_path / "adapter")
    chats = _chats("hello", "what is safety", "write a list")
    decoding = Decoding(max_new_tokens=10)
    base = tiny_generator.generate(chats, decoding)
    adapted = tiny_generator.generate(chats, decoding, adapter=str(tmp_path / "adapter"))
    assert adapted != base
    assert tiny_generator.generate(chats, decoding) == base  # disabling restores the base
    with pytest.raises(BackendError, match="not a peft adapter"):
        tiny_generator.generate(chats, decoding, adapter=str(tmp_path))


def test_openai_backend_selects_the_adapter_by_model_name():
    with ScriptedServer(lambda body: Reply.text(f"reply from {body['model']}")) as server:
        generator = OpenAIGenerator(base_url=server.url, model="base-model", max_retries=0)
        chats = _chats("a", "b", "c")
        base = generator.generate(chats, Decoding(batch_size=2))
        adapted = generator.generate(chats, Decoding(), adapter="round3")
    assert base == ["reply from base-model"] * 3 and adapted == ["reply from round3"] * 3
    assert server.requests[0]["max_tokens"] == 256 and server.requests[0]["temperature"] == 0


def test_openai_backend_retries_5xx_then_succeeds():
    calls = []

    def script(body):
        calls.append(1)
        return Reply.error(500) if len(calls) < 3 else Reply.text("ok")

    with ScriptedServer(script) as server:
        generator = OpenAIGenerator(base_url=server.url, model="m", max_retries=3)
        assert generator.generate(_chats("x"), Decoding()) == ["ok"]
    assert len(calls) == 3


@pytest.mark.parametrize(("reply", "cause"), [(Reply.error(429), "RateLimitError"),
                                              (Reply.hang(3.0), "APITimeoutError")])
def test_openai_backend_failures_raise_a_backend_error_naming_the_endpoint(reply, cause):
    with ScriptedServer(lambda body: reply) as server:
        generator = OpenAIGenerator(base_url=server.url, model="m", max_retries=1, timeout_s=0.3)
        with pytest.raises(BackendError, match=cause) as caught:
            generator.generate(_chats("x"), Decoding())
    assert server.url in str(caught.value)


def test_vllm_backend_without_vllm_names_the_extra():
    with pytest.raises(MissingExtra, match=r"mosaic\[gpu\]"):
        make_generator("vllm", "tiny")


def test_unknown_backend_and_missing_url_are_clear_errors():
    with pytest.raises(BackendError, match="unknown backend 'tgi'"):
        make_generator("tgi", "tiny")
    with pytest.raises(BackendError, match="base URL"):
        make_generator("openai", "m")


def test_openai_backend_setup_errors_name_the_status_not_the_server_text():
    with ScriptedServer(lambda body: Reply.error(401)) as server:
        generator = OpenAIGenerator(base_url=server.url, model="m", max_retries=2)
        with pytest.raises(BackendError, match="HTTP 401") as caught:
            generator.generate(_chats("x"), Decoding())
    assert "WXYZ" not in str(caught.value) and len(server.requests) == 1


def test_openai_backend_rejects_a_reply_that_is_not_a_completion():
    with ScriptedServer(lambda body: Reply.body("text/html", "<html>502</html>")) as server:
        generator = OpenAIGenerator(base_url=server.url, model="m", max_retries=0)
        with pytest.raises(BackendError, match="no chat completion"):
            generator.generate(_chats("x"), Decoding())


def test_openai_backend_sends_no_seed_for_greedy_decoding():
    with ScriptedServer(lambda body: Reply.text("ok")) as server:
        OpenAIGenerator(base_url=server.url, model="m").generate(_chats("x"), Decoding())
        OpenAIGenerator(base_url=server.url, model="m").generate(
            _chats("x"), Decoding(temperature=0.7, seed=5))
    assert "seed" not in server.requests[0] and server.requests[1]["seed"] == 5


def test_an_adapter_rewritten_in_place_is_reloaded(tiny_generator, tmp_path):
    from peft import LoraConfig, get_peft_model

    from mosaic.train.models import load_model

    folder = tmp_path / "adapter"
    chats = _chats("hello", "what is safety", "write a list")
    decoding = Decoding(max_new_tokens=10)
    replies = []
    for seed in (1, 2):
        import torch

        torch.manual_seed(seed)
        model, _ = load_model("tiny")
        config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                            init_lora_weights=False)
        get_peft_model(model, config).save_pretrained(folder)
        replies.append(tiny_generator.generate(chats, decoding, adapter=str(folder)))
    assert replies[0] != replies[1]
