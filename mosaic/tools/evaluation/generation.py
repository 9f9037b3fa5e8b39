"""One generation interface, several backends.

    generator = TransformersGenerator.from_spec("smollm2-135m-instruct")
    replies = generator.generate(conversations, Decoding(max_new_tokens=128), adapter=None)

A backend turns chat conversations (lists of messages ending with a user turn) into the
model's next replies, in order. Backends:

| backend        | where                                 | adapters                          |
|----------------|---------------------------------------|-----------------------------------|
| `transformers` | this process, CPU or one GPU          | peft LoRA folders (see `ENGINES`) |
| `openai`       | any OpenAI-compatible server          | selected by model name            |
| `vllm`         | offline engine, GPU extra (guarded)   | `LoRARequest`, one warm engine    |

The transformers backend has two engines: mosaic's KV-cached decoder
(mosaic.tools.evaluation.decoder, the default wherever it supports the model) and transformers'
own `model.generate`. Greedy decoding is the default (temperature 0): evaluation must be
repeatable.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mosaic import hardware
from mosaic.data.tokens import render_chat
from mosaic.tools.evaluation.decoder import (
    VERSION,
    Decoder,
    DecoderWeights,
    Sampling,
    unsupported_reason,
)
from mosaic.tools.evaluation.interface import (
    BackendError,
    Conversation,
    Decoding,
    FunctionGenerator,
    Generator,
    adapter_identity,
    end_token_ids,
    progress_bar,
)
from mosaic.tools.evaluation.openai_backend import OpenAIGenerator
from mosaic.tools.evaluation.vllm_backend import VLLMGenerator
from mosaic.train.models import load_model, resolve_model

__all__ = ["BACKENDS", "DTYPES", "ENGINES", "BackendError", "Conversation", "Decoding",
           "FunctionGenerator", "Generator", "TransformersGenerator", "adapter_identity",
           "choose_engine", "end_token_ids", "generator_name", "make_generator",
           "measure_tokens_per_second", "progress_bar", "resolve_dtype"]

ENGINES = ("auto", "decoder", "generate")
"""How the transformers backend produces tokens: `decoder` (mosaic.tools.evaluation.decoder:
LoRA merged into packed weights, a KV-cached loop, prefix reuse across replay turns;
Llama-family models on the CPU), `generate` (transformers' `model.generate` with peft's adapter
layers), `auto` (the decoder wherever it supports the model and device, else generate)."""


def choose_engine(requested: str, config: Any, device: str, generation_config: Any = None
                  ) -> str:
    """The engine that will run: `requested`, or for `auto` the decoder where it can run
    (the model's config and generation config, on the CPU)."""
    if requested not in ENGINES:
        raise BackendError(f"unknown engine '{requested}': use one of {', '.join(ENGINES)}")
    reason = (unsupported_reason(config, generation_config) if device == "cpu"
              else "it runs on the CPU only")
    if requested == "decoder" and reason is not None:
        raise BackendError(f"the decoder engine cannot run this model: {reason}; use "
                           "engine 'generate'")
    if requested == "auto":
        return "decoder" if reason is None else "generate"
    return requested


DTYPES = ("auto", "float32", "bfloat16")
"""Weights and activations of the transformers backend. `auto` (the default): bfloat16 on a
CPU that computes it natively (AVX512-BF16 or AMX), float32 on other CPUs, the saved dtype
on a GPU. Measured with the decoder (benchmarks/generation.py, batch 16 x 64): bf16 1.8x
float32's speed on a Xeon with AMX, 0.36x on an AVX2 EPYC, where every bf16 matmul converts."""


def resolve_dtype(requested: str | None, device: str = "cpu") -> str | None:
    """The dtype generation runs in (one of `DTYPES` but auto); None: the saved dtype."""
    requested = requested or "auto"
    if requested not in DTYPES:
        raise BackendError(f"unknown dtype '{requested}': use one of {', '.join(DTYPES)}")
    if requested != "auto":
        return requested
    if device != "cpu":
        return None
    return "bfloat16" if hardware.cpu_has_native_bf16() else "float32"


def generator_name(model_id: str, engine: str, dtype: str = "float32") -> str:
    """The transformers backend's provenance name (part of generation cache keys): engines,
    decoder versions and dtypes round differently, so their replies are never mixed."""
    suffix = "" if dtype == "float32" else f"@{dtype}"
    if engine == "generate":
        return f"transformers:{model_id}{suffix}"  # the name before the decoder existed
    return f"transformers+decoder{VERSION}:{model_id}{suffix}"


class TransformersGenerator:
    """Generation in this process with a transformers model and peft LoRA adapters.

    Conversations are sorted by length before batching (less padding) and replies are
    returned in input order. Generation stops at the tokenizer's EOS and at the chat
    template's end-of-turn token. Two engines (`ENGINES`):

    - `decoder`: each adapter is merged into a packed copy of the weights (the base model's
      tensors are never written); the base and the latest adapter are kept;
    - `generate`: adapters are loaded once each as peft layers and switched by name; the base
      model is used with every adapter disabled.
    """

    def __init__(self, model: Any, tokenizer: Any, *, name: str | None = None,
                 engine: str = "auto") -> None:
        self.model = model
        self.tokenizer = tokenizer
        if _is_peft_model(model) and engine != "generate":
            # The decoder packs a plain ...ForCausalLM's weights; a model that arrives
            # already wrapped by peft runs on generate (as before the decoder: its adapters
            # are switched by `adapter`, and disabled for adapter=None).
            if engine == "decoder":
                raise BackendError("the decoder engine needs a transformers model, not a "
                                   f"peft {type(model).__name__}; pass the base model and "
                                   "adapter folders, or use engine 'generate'")
            engine = "generate"
        self.engine = choose_engine(engine, model.config, model.device.type,
                                    getattr(model, "generation_config", None))
        self.name = name or generator_name("unnamed", self.engine, _dtype_name(model))
        self._adapters: dict[str, str] = {}  # adapter identity -> peft adapter name
        self._decoders: dict[str | None, Any] = {}  # adapter identity (None: base) -> Decoder
        self._stop_ids = end_token_ids(tokenizer)

    @classmethod
    def from_spec(cls, spec: str, *, seed: int = 0, dtype: str = "auto",
                  device: str = "cpu", engine: str = "auto") -> TransformersGenerator:
        """Load a model spec for generation, in `dtype` (one of `DTYPES`)."""
        import torch


        chosen = resolve_dtype(dtype, device)
        model, tokenizer = load_model(spec, seed=seed, device=device,
                                      dtype=getattr(torch, chosen) if chosen else None)
        generator = cls(model, tokenizer, engine=engine)
        generator.name = generator_name(resolve_model(spec, seed=seed).model_id,
                                        generator.engine, _dtype_name(model))
        return generator

    def generate(self, conversations: Sequence[Conversation], decoding: Decoding, *,
                 adapter: str | None = None, progress: bool = False) -> list[str]:
        if not conversations:
            return []
        prompts = [render_chat(self.tokenizer, c, add_generation_prompt=True)
                   for c in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        batches = [order[i:i + decoding.batch_size]
                   for i in range(0, len(order), decoding.batch_size)]
        run = self._decode_batches if self.engine == "decoder" else self._generate_batches
        replies: list[str] = [""] * len(prompts)
        # closing(): the engine's contexts (inference mode, tokenizer padding side) end here
        # even if this loop raises.
        with progress_bar(len(prompts), progress, "generate") as bar, contextlib.closing(
                run(prompts, batches, decoding, adapter)) as batched:
            for batch_ids, texts in batched:
                for i, text in zip(batch_ids, texts, strict=True):
                    replies[i] = text.strip()
                bar.update(len(batch_ids))
        return replies

    # -- engine `decoder` -------------------------------------------------------------

    def _decoder(self, adapter: str | None) -> Any:
        """The decoder for the base model or an adapter: built once, the latest kept."""
        folder = _adapter_folder(adapter) if adapter is not None else None
        key = adapter_identity(folder) if folder is not None else None
        if key not in self._decoders:
            for other in [k for k in self._decoders if k is not None]:
                del self._decoders[other]  # one adapter's weights at a time: memory
            try:
                weights = (DecoderWeights.from_model(self.model) if folder is None
                           else DecoderWeights.merged(self.model, folder))
            except ValueError as error:
                raise BackendError(f"{error} (adapter {folder}); use engine 'generate'"
                                   ) from None
            self._decoders[key] = Decoder(weights)
        return self._decoders[key]

    def _decode_batches(self, prompts: list[str], batches: list[list[int]],
                        decoding: Decoding, adapter: str | None) -> Any:
        import torch


        decoder = self._decoder(adapter)
        decoder.begin_call()
        sampling, generator = None, None
        if decoding.temperature > 0:
            sampling = Sampling(decoding.temperature, decoding.top_p)
            generator = torch.Generator().manual_seed(decoding.seed)
        for batch_ids in batches:
            ids = [self.tokenizer(prompts[i], add_special_tokens=False)["input_ids"]
                   for i in batch_ids]
            new = decoder.generate(ids, max_new_tokens=decoding.max_new_tokens,
                                   stop_ids=self._stop_ids, sampling=sampling,
                                   generator=generator)
            yield batch_ids, self.tokenizer.batch_decode(new, skip_special_tokens=True)

    # -- engine `generate` ------------------------------------------------------------

    def _use_adapter(self, adapter: str | None) -> Any:
        """The model to call: the base (adapters disabled) or the named adapter active."""
        if adapter is None:
            return self.model
        folder = _adapter_folder(adapter)
        from peft import PeftModel

        key = adapter_identity(folder)
        if key not in self._adapters:
            name = f"a{len(self._adapters)}"
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(folder, adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, folder, adapter_name=name)
            self.model.eval()
            self._adapters[key] = name
        self.model.set_adapter(self._adapters[key])
        return self.model

    def _generate_batches(self, prompts: list[str], batches: list[list[int]],
                          decoding: Decoding, adapter: str | None) -> Any:
        import torch

        model = self._use_adapter(adapter)
        padding_side, self.tokenizer.padding_side = self.tokenizer.padding_side, "left"
        base_only = adapter is None and hasattr(model, "disable_adapter")
        sampling = decoding.temperature > 0
        if sampling:
            torch.manual_seed(decoding.seed)
        try:
            with torch.inference_mode(), (
                    model.disable_adapter() if base_only else contextlib.nullcontext()):
                for batch_ids in batches:
                    batch = self.tokenizer([prompts[i] for i in batch_ids],
                                           return_tensors="pt", padding=True,
                                           add_special_tokens=False).to(model.device)
                    output = model.generate(
                        **batch,
                        max_new_tokens=decoding.max_new_tokens,
                        do_sample=sampling,
                        temperature=decoding.temperature if sampling else None,
                        top_p=decoding.top_p if sampling else None,
                        top_k=None,
                        eos_token_id=self._stop_ids,
                        pad_token_id=self.tokenizer.pad_token_id,
                    )
                    new_tokens = output[:, batch["input_ids"].shape[1]:]
                    yield batch_ids, self.tokenizer.batch_decode(new_tokens,
                                                                 skip_special_tokens=True)
        finally:
            self.tokenizer.padding_side = padding_side


def _is_peft_model(model: Any) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def _dtype_name(model: Any) -> str:
    return str(model.dtype).removeprefix("torch.")


def _adapter_folder(adapter: str) -> str:
    folder = str(Path(adapter).resolve())
    if not (Path(folder) / "adapter_config.json").is_file():
        raise BackendError(f"{folder} is not a peft adapter folder (no adapter_config.json)")
    return folder


def measure_tokens_per_second(generator: TransformersGenerator,
                              conversations: Sequence[Conversation],
                              decoding: Decoding) -> tuple[float, float]:
    """(new tokens per second, seconds) of one generate call: for benchmarks."""
    started = time.perf_counter()
    replies = generator.generate(conversations, decoding)
    seconds = time.perf_counter() - started
    tokens = sum(len(generator.tokenizer(r, add_special_tokens=False)["input_ids"])
                 for r in replies)
    return tokens / seconds, seconds


BACKENDS = ("transformers", "openai", "vllm")


def make_generator(backend: str, model: str, *, base_url: str | None = None,
                   api_key_env: str = "OPENAI_API_KEY", seed: int = 0,
                   engine: str = "auto", dtype: str = "auto",
                   gpu_memory_utilization: float = 0.5, sleep_mode: bool = False
                   ) -> Generator:
    """A generator for a backend name. `model` is a model spec (transformers, vllm) or the
    served model name (openai); `engine` and `dtype` apply to the transformers backend
    (`ENGINES`, `DTYPES`), `gpu_memory_utilization` and `sleep_mode` to vllm's engine."""
    if backend == "transformers":
        return TransformersGenerator.from_spec(model, seed=seed, engine=engine, dtype=dtype)
    if backend == "openai":
        if not base_url:
            raise BackendError("the openai backend needs a base URL (--base-url)")

        return OpenAIGenerator(base_url=base_url, model=model, api_key_env=api_key_env)
    if backend == "vllm":
        return VLLMGenerator(resolve_model(model, seed=seed).path, seed=seed,
                             gpu_memory_utilization=gpu_memory_utilization,
                             sleep_mode=sleep_mode)
    raise BackendError(f"unknown backend '{backend}': use one of {', '.join(BACKENDS)}")
