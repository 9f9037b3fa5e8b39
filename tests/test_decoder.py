"""The KV-cached decoder (mosaic.tools.evaluation.decoder): its tokens are the model's own
greedy choices for every supported architecture, it gives the `generate` engine's replies with
an adapter in a multi-turn replay, and it never changes the base model."""

from __future__ import annotations

import pytest
import torch

from mosaic.schema import EvalItem, Message
from mosaic.tools.evaluation.decoder import Decoder, DecoderWeights, Sampling, unsupported_reason
from mosaic.tools.evaluation.generation import (
    BackendError,
    Decoding,
    TransformersGenerator,
    choose_engine,
    generator_name,
)
from mosaic.tools.evaluation.replay import replay

NEAR_TIE = 1e-4
"""Top-2 logit gap below which either token is a correct greedy choice (float rounding)."""


def _random_model(kind: str, dtype: torch.dtype) -> torch.nn.Module:
    """A small random model of an architecture, with logits spread wide enough that greedy
    choices are not decided by rounding."""
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    common = dict(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  initializer_range=0.3, tie_word_embeddings=False)
    configs = {
        "llama": (LlamaConfig, LlamaForCausalLM, {}),
        "mistral": (MistralConfig, MistralForCausalLM, {"sliding_window": None}),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM, {}),  # q/k/v biases
    }
    config_class, model_class, extra = configs[kind]
    torch.manual_seed(0)
    model = model_class(config_class(**common, **extra)).to(dtype).eval()
    if kind == "qwen2":
        with torch.no_grad():
            for layer in model.model.layers:  # non-zero biases, so they are exercised
                layer.self_attn.q_proj.bias.normal_(0, 0.5)
                layer.self_attn.k_proj.bias.normal_(0, 0.5)
    return model


def _assert_greedy(model, prompt: list[int], new: list[int], *, max_new: int,
                   stop: set[int]) -> None:
    """Every new token is the model's argmax after the tokens before it (or a near tie); a
    stop token ends the reply; a reply without one is max_new tokens long."""
    ids = torch.tensor([prompt + new])
    with torch.inference_mode():
        logits = model(ids).logits[0].double()
    for step, token in enumerate(new):
        top = logits[len(prompt) - 1 + step].topk(2)
        if float(top.values[0] - top.values[1]) < NEAR_TIE:
            return  # a near tie: the rest of this reply may rightly differ
        assert int(top.indices[0]) == token, f"step {step}: {token} vs {int(top.indices[0])}"
        assert token not in stop or step == len(new) - 1, "a reply goes on after a stop token"
    assert new[-1] in stop or len(new) == max_new


def _prompts(*lengths: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(3, 96, (n,), generator=generator).tolist() for n in lengths]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64],
                         ids=["fp32-packed", "fp64-dense"])
@pytest.mark.parametrize("kind", ["llama", "mistral", "qwen2"])
def test_decoder_tokens_are_the_models_greedy_choices(kind, dtype):
    """Rows of different lengths in one batch, rows that stop early leaving the batch, and a
    second call whose prompts continue the first's (reusing their keys and values) beside a
    new prompt, all decode exactly."""
    model = _random_model(kind, dtype)
    assert unsupported_reason(model.config, model.generation_config) is None
    weights = DecoderWeights.from_model(model)
    if dtype == torch.float64:
        assert weights.layers[0].qkv.packed is None  # oneDNN has no fp64: F.linear
    elif torch.backends.mkldnn.is_available():
        assert weights.layers[0].qkv.packed is not None
    prompts = _prompts(7, 2, 13, 5)
    free = Decoder(weights).generate(prompts, max_new_tokens=12, stop_ids=set())
    stop = {free[0][3], free[2][5]}  # tokens the model does emit: rows stop at different steps
    decoder = Decoder(weights)
    decoder.begin_call()
    first = decoder.generate(prompts, max_new_tokens=12, stop_ids=stop)
    assert len({len(r) for r in first}) > 1 and min(len(r) for r in first) < 12
    for prompt, new in zip(prompts, first, strict=True):
        _assert_greedy(model, prompt, new, max_new=12, stop=stop)
    assert decoder.stats.reused_tokens == 0

    # The next turns (prompt + reply + new tokens), one that repeats only part of its reply
    # (its shared tokens are reused, the rest is run), and one new conversation.
    follow = [p + r + [5, 6, 7] for p, r in zip(prompts, first, strict=True)]
    assert len(first[0]) > 3  # so [:2] is a part of the reply, not all of what was fed
    follow[0] = prompts[0] + first[0][:2] + [6, 5]
    follow += _prompts(9)
    decoder.begin_call()
    second = decoder.generate(follow, max_new_tokens=12, stop_ids=stop)
    assert decoder.stats.reused_tokens > 0
    for prompt, new in zip(follow, second, strict=True):
        _assert_greedy(model, prompt, new, max_new=12, stop=stop)


def test_only_a_continuation_of_the_previous_call_reuses_keys_and_values():
    """The same prompt again, or a continuation of a call before the previous one, is run
    anew: what a call reuses depends only on the call before it."""
    decoder = Decoder(DecoderWeights.from_model(_random_model("llama", torch.float32)))
    prompts = _prompts(8, 6)
    decoder.begin_call()
    first = decoder.generate(prompts, max_new_tokens=5, stop_ids=set())
    decoder.begin_call()
    again = decoder.generate(prompts, max_new_tokens=5, stop_ids=set())
    assert again == first and decoder.stats.reused_tokens == 0
    decoder.begin_call()
    decoder.generate([[90, 91, 92, 93]], max_new_tokens=5, stop_ids=set())
    decoder.begin_call()  # `first` is now two calls back
    decoder.generate([p + r for p, r in zip(prompts, first, strict=True)], max_new_tokens=5,
                     stop_ids=set())
    assert decoder.stats.reused_tokens == 0


def test_edge_cases_of_a_batch():
    model = _random_model("llama", torch.float32)
    decoder = Decoder(DecoderWeights.from_model(model))
    prompts = _prompts(3, 1, 6)
    one = decoder.generate(prompts, max_new_tokens=1, stop_ids=set())
    assert [len(r) for r in one] == [1, 1, 1]
    stop_at_once = {r[0] for r in one}  # every row stops at its first token
    assert decoder.generate(prompts, max_new_tokens=8, stop_ids=stop_at_once) == one
    assert decoder.generate([], max_new_tokens=4, stop_ids=set()) == []
    with pytest.raises(ValueError, match="at least 1"):
        decoder.generate(prompts, max_new_tokens=0, stop_ids=set())
    with pytest.raises(ValueError, match="at least one token"):
        decoder.generate([[]], max_new_tokens=2, stop_ids=set())


def test_kept_conversations_stay_within_their_byte_budget():
    weights = DecoderWeights.from_model(_random_model("llama", torch.float32))
    per_token = weights.kv_bytes_per_token
    decoder = Decoder(weights, prefix_cache_bytes=30 * per_token)
    decoder.generate(_prompts(8, 8, 8, 2), max_new_tokens=6, stop_ids=set())
    assert 0 < decoder._current_bytes <= 30 * per_token and len(decoder._current) < 4
    off = Decoder(weights, prefix_cache_bytes=0)
    prompt = _prompts(4)
    reply = off.generate(prompt, max_new_tokens=3, stop_ids=set())
    off.begin_call()
    off.generate([prompt[0] + reply[0] + [9]], max_new_tokens=3, stop_ids=set())
    assert off.stats.reused_tokens == 0 and not off._previous


def test_sampling_is_seeded_and_top_p_keeps_the_nucleus():
    decoder = Decoder(DecoderWeights.from_model(_random_model("llama", torch.float32)))
    prompts = [[4, 5, 6], [7, 8]]

    def sample(temperature, top_p):
        return decoder.generate(prompts, max_new_tokens=10, stop_ids=set(),
                                sampling=Sampling(temperature=temperature, top_p=top_p),
                                generator=torch.Generator().manual_seed(3))

    greedy = decoder.generate(prompts, max_new_tokens=10, stop_ids=set())
    assert sample(1.5, 0.9) == sample(1.5, 0.9) != greedy
    assert all(0 <= t < 96 for row in sample(1.5, 0.9) for t in row)
    assert sample(1.5, 1e-6) == greedy  # a nucleus of one token is the argmax


def _tiny_adapter(folder, seed: int, extra: tuple[str, ...] = ()):
    """A LoRA on every linear projection of the tiny model (and `extra` modules), with
    random B (it changes replies), like the adapters mosaic trains."""
    from peft import LoraConfig, get_peft_model

    from mosaic.train.models import load_model

    torch.manual_seed(seed)
    model, _ = load_model("tiny")
    config = LoraConfig(r=8, lora_alpha=32, init_lora_weights=False,
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                        "up_proj", "down_proj", *extra])
    get_peft_model(model, config).save_pretrained(folder)
    return str(folder)


def _items() -> list[EvalItem]:
    """Multi-turn items of different lengths (turn counts 1-3)."""
    turns = [["hello"], ["tell me about safety", "and more about that please", "why?"],
             ["a much longer question about words and lists and safety", "go on"],
             ["hi"], ["write a list of three things you like to do on a sunny day", "ok"]]
    return [EvalItem(id=f"i{n}", objective="xguard",
                     messages=[Message(role="user", content=t) for t in user_turns])
            for n, user_turns in enumerate(turns)]


def test_the_decoder_engine_gives_the_generate_engines_replies_with_an_adapter(tmp_path):
    """Greedy multi-turn replay on the tiny model with a LoRA: the decoder (merged, packed
    weights, prefix reuse between turns) and transformers' generate with peft's layers
    produce the same replies, for the base and the adapter, in batches of mixed lengths
    where some replies stop early."""
    adapter = _tiny_adapter(tmp_path / "adapter", seed=1)
    items = _items()
    decoding = Decoding(max_new_tokens=10, batch_size=3)
    generators = {engine: TransformersGenerator.from_spec("tiny", engine=engine,
                                                          dtype="float32")
                  for engine in ("generate", "decoder")}
    # The random tiny model seldom ends a turn by itself: make a token it often writes a
    # stop token too (for both engines), so rows leave the batch at different steps.
    first = replay(items, generators["generate"], decoding, multi_turn=True)
    tokenizer = generators["generate"].tokenizer
    written = [t for turns in first for reply in turns
               for t in tokenizer(reply, add_special_tokens=False)["input_ids"]]
    frequent = max(set(written), key=written.count)
    replies = {}
    for engine, generator in generators.items():
        assert generator.engine == engine
        generator._stop_ids = sorted({*generator._stop_ids, frequent})
        replies[engine] = [replay(items, generator, decoding, multi_turn=True, adapter=a)
                           for a in (None, adapter)]
    assert replies["decoder"] == replies["generate"]
    base, adapted = replies["decoder"]
    assert base != adapted  # the adapter is active
    lengths = {len(tokenizer(r, add_special_tokens=False)["input_ids"])
               for turns in base + adapted for r in turns}
    assert len(lengths) > 1 and min(lengths) < 10  # some replies stopped early
    decoders = generators["decoder"]._decoders.values()
    assert all(d.stats.reused_tokens > 0 for d in decoders)  # later turns reused earlier ones


def test_the_base_model_is_unchanged_after_an_adapter_was_used(tmp_path):
    first = _tiny_adapter(tmp_path / "a", seed=1)
    second = _tiny_adapter(tmp_path / "b", seed=2)
    generator = TransformersGenerator.from_spec("tiny", engine="decoder")
    before = {k: v.clone() for k, v in generator.model.state_dict().items()}
    chats = [[Message(role="user", content=t)] for t in ("hello", "what is safety")]
    decoding = Decoding(max_new_tokens=8)
    base = generator.generate(chats, decoding)
    with_first = generator.generate(chats, decoding, adapter=first)
    generator.generate(chats, decoding, adapter=second)
    assert generator.generate(chats, decoding, adapter=first) == with_first  # merged anew
    assert generator.generate(chats, decoding) == base
    after = generator.model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert sum(k is not None for k in generator._decoders) == 1  # one adapter held at a time


def test_a_model_already_wrapped_by_peft_runs_on_the_generate_engine(tmp_path):
    """A caller may hand over a model already wrapped by peft: auto runs it on generate,
    where its adapter layers apply, and the decoder by name says why it cannot."""
    from peft import PeftModel

    from mosaic.train.models import load_model

    folder = _tiny_adapter(tmp_path / "a", seed=1)
    model, tokenizer = load_model("tiny")
    base = TransformersGenerator(model, tokenizer, engine="generate")
    chats = [[Message(role="user", content=t)] for t in ("hello", "what is safety")]
    decoding = Decoding(max_new_tokens=8)
    expected = base.generate(chats, decoding, adapter=folder)
    plain = base.generate(chats, decoding)
    assert expected != plain
    wrapped = PeftModel.from_pretrained(load_model("tiny")[0], folder).eval()
    generator = TransformersGenerator(wrapped, tokenizer)
    assert generator.engine == "generate"
    assert generator.generate(chats, decoding, adapter=folder) == expected
    assert generator.generate(chats, decoding) == plain  # adapter=None: adapters disabled
    with pytest.raises(BackendError, match="not a peft PeftModel"):
        TransformersGenerator(wrapped, tokenizer, engine="decoder")


def test_an_adapter_on_tied_embeddings_is_refused_by_the_decoder(tmp_path):
    """Merging a LoRA on the output head of a model that ties it to the input embedding
    would change both (peft's unmerged layers change one): the decoder refuses it."""
    plain = _tiny_adapter(tmp_path / "plain", seed=1)  # the attention and MLP projections
    head = _tiny_adapter(tmp_path / "head", seed=1, extra=("lm_head",))
    generator = TransformersGenerator.from_spec("tiny", engine="decoder")
    assert generator.model.config.tie_word_embeddings  # the tiny model ties them, as SmolLM2
    chats, decoding = [[Message(role="user", content="hi")]], Decoding(max_new_tokens=2)
    with pytest.raises(BackendError, match="trains lm_head, whose weights this model ties"):
        generator.generate(chats, decoding, adapter=head)
    assert len(generator.generate(chats, decoding, adapter=plain)) == 1


def test_engines_are_chosen_by_what_the_decoder_supports():
    from transformers import GenerationConfig, GPT2Config, LlamaConfig

    gpt2 = GPT2Config(n_layer=1, n_embd=32, n_head=2)
    assert "gpt2" in unsupported_reason(gpt2)
    assert choose_engine("auto", gpt2, "cpu") == "generate"
    assert choose_engine("auto", LlamaConfig(), "cpu") == "decoder"
    assert choose_engine("auto", LlamaConfig(), "cuda") == "generate"
    with pytest.raises(BackendError, match="decoder engine cannot run this model: model type"):
        choose_engine("decoder", gpt2, "cpu")
    with pytest.raises(BackendError, match="unknown engine 'fast'"):
        choose_engine("fast", gpt2, "cpu")
    # generate applies a generation config's logits processors even when greedy: the
    # decoder does not, so such a model runs on generate.
    penalised = GenerationConfig(repetition_penalty=1.1, no_repeat_ngram_size=3)
    assert choose_engine("auto", LlamaConfig(), "cpu", penalised) == "generate"
    assert "repetition_penalty, no_repeat_ngram_size" in unsupported_reason(LlamaConfig(),
                                                                             penalised)
    assert choose_engine("auto", LlamaConfig(), "cpu", GenerationConfig(do_sample=False,
                                                                        eos_token_id=2)) \
        == "decoder"
    dynamic = LlamaConfig(rope_parameters={"rope_type": "dynamic", "factor": 2.0,
                                           "rope_theta": 10000.0})
    assert "rope type 'dynamic'" in unsupported_reason(dynamic)
    assert generator_name("m:1", "generate") == "transformers:m:1"
    assert generator_name("m:1", "decoder") == "transformers+decoder1:m:1"
    assert generator_name("m:1", "decoder", "bfloat16") == "transformers+decoder1:m:1@bfloat16"


def test_bf16_decoding_follows_the_model_up_to_bf16_rounding():
    """In bf16 (packed by oneDNN where the CPU computes bf16, else dense) the decoder's
    tokens are the bf16 model's own choices up to bf16 rounding: each within a small logit
    gap of the model's argmax, and most of them exactly it."""
    model = _random_model("llama", torch.bfloat16)
    weights = DecoderWeights.from_model(model)
    prompts = _prompts(7, 2, 13, 5)
    replies = Decoder(weights).generate(prompts, max_new_tokens=12, stop_ids=set())
    exact, gaps = 0, []
    for prompt, new in zip(prompts, replies, strict=True):
        assert len(new) == 12
        with torch.inference_mode():
            logits = model(torch.tensor([prompt + new])).logits[0].double()
        for step, token in enumerate(new):
            row = logits[len(prompt) - 1 + step]
            gaps.append(float(row.max() - row[token]))
            exact += int(row.argmax()) == token
    assert max(gaps) < 0.5 and exact >= 0.9 * len(gaps), (max(gaps), exact, len(gaps))


@pytest.mark.parametrize("native", [True, False], ids=["native-bf16", "no-bf16"])
def test_dtype_auto_is_bf16_only_where_the_cpu_computes_it(native, monkeypatch, tmp_path):
    """auto resolves by the CPU; a new run freezes it into config.json; a run written before
    eval.dtype existed resumes in float32 on the generate engine (what it started with)."""
    import json

    import mosaic.hardware
    from mosaic.config import load_preset
    from mosaic.loop.context import RunContext
    from mosaic.tools.evaluation.generation import resolve_dtype

    monkeypatch.setattr(mosaic.hardware, "cpu_has_native_bf16", lambda: native)
    expected = "bfloat16" if native else "float32"
    assert resolve_dtype("auto") == expected
    assert resolve_dtype("float32") == "float32" and resolve_dtype("auto", "cuda") is None
    with pytest.raises(BackendError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8")
    config = load_preset("tiny").model_copy(update={"cache": str(tmp_path / "cache")})
    assert config.eval.dtype == "auto"
    RunContext.create(config, tmp_path / "run")
    written = json.loads((tmp_path / "run" / "config.json").read_text())
    assert written["eval"]["dtype"] == expected
    assert RunContext.open(tmp_path / "run").config.eval.dtype == expected
    del written["eval"]["dtype"], written["eval"]["engine"]  # a config from before both
    (tmp_path / "run" / "config.json").write_text(json.dumps(written))
    reopened = RunContext.open(tmp_path / "run").config.eval
    assert (reopened.dtype, reopened.engine) == ("float32", "generate")


def test_a_runs_generator_is_named_by_the_engine_that_will_run():
    """The loop keys cached replies by the generator's name before loading the model; the
    loaded generator must carry the same name (the engine resolved from the model files)."""
    from mosaic.config import load_preset
    from mosaic.loop.evaluators import LazyGenerator

    config = load_preset("tiny")
    lazy = LazyGenerator(config)
    assert lazy.name.startswith("transformers+decoder1:")
    assert lazy.generate([[Message(role="user", content="hi")]], Decoding(max_new_tokens=3))
    assert lazy._loaded.name == lazy.name
    old = LazyGenerator(config.model_copy(update={"eval": config.eval.model_copy(
        update={"engine": "generate"})}))
    assert old.name.startswith("transformers:") and old.name != lazy.name


def test_neutral_generation_settings_keep_the_decoder_and_real_ones_do_not():
    from transformers import GenerationConfig, LlamaConfig

    neutral = GenerationConfig(repetition_penalty=1.0, min_length=0, typical_p=1.0,
                               num_beams=1, no_repeat_ngram_size=0, suppress_tokens=[],
                               do_sample=True, temperature=0.6, top_p=0.9, eos_token_id=[1, 2])
    assert unsupported_reason(LlamaConfig(), neutral) is None
    assert "num_beams" in unsupported_reason(LlamaConfig(), GenerationConfig(num_beams=4))


def test_a_folder_without_generation_config_is_judged_by_its_config_json(tmp_path):
    """transformers reads generation fields from config.json when generation_config.json is
    missing; the run's generator name (decided before loading) must agree with the loaded
    generator's engine."""
    import json
    import shutil

    from mosaic.config import load_preset
    from mosaic.loop.evaluators import LazyGenerator
    from mosaic.train.models import load_configs, resolve_model

    folder = tmp_path / "legacy"
    shutil.copytree(resolve_model("tiny").path, folder)
    (folder / "generation_config.json").unlink()
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "repetition_penalty": 1.3}))
    _, generation = load_configs(str(folder))
    assert generation.repetition_penalty == 1.3
    run_config = load_preset("tiny").model_copy(update={"model": str(folder)})
    lazy = LazyGenerator(run_config)
    assert lazy.name.startswith("transformers:")  # the generate engine: it applies the penalty
    lazy.generate([[Message(role="user", content="hi")]], Decoding(max_new_tokens=3))
    assert lazy._loaded.engine == "generate" and lazy._loaded.name == lazy.name
