"""One generation interface, several backends.

    generator = TransformersGenerator.from_spec("smollm2-135m-instruct")
    replies = generator.generate(conversations, Decoding(max_new_tokens=128), adapter=None)

A backend turns chat conversations (lists of messages ending with a user turn) into the
model's next replies, in order. Backends:

| backend        | where                                 | adapters                          |
|----------------|---------------------------------------|-----------------------------------|
| `transformers` | this process, CPU or one GPU          | peft LoRA folders, loaded once    |
| `openai`       | any OpenAI-compatible server          | selected by model name            |
| `vllm`         | offline engine, GPU extra (guarded)   | `LoRARequest`, one warm engine    |

Greedy decoding is the default (temperature 0): evaluation must be repeatable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from mosaic.data.tokens import render_chat
from mosaic.errors import MosaicError
from mosaic.schema import Message, Record

Conversation = Sequence[Message]


class BackendError(MosaicError):
    """A generation backend failed (model, server or engine); names the backend and cause."""


class Decoding(Record):
    """How replies are produced. Recorded with every report and part of generation cache keys."""

    max_new_tokens: int = Field(default=256, ge=1)
    """Longest reply, in tokens."""
    temperature: float = Field(default=0.0, ge=0.0)
    """0 means greedy decoding (the default: evaluations must repeat exactly)."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0
    """Sampling seed (used only when temperature > 0)."""
    batch_size: int = Field(default=16, ge=1)
    """Conversations per forward batch (transformers) or concurrent requests (openai)."""


class Generator(Protocol):
    """Anything that turns conversations into next replies."""

    name: str
    """Backend and model, for provenance and cache keys (never a secret)."""

    def generate(self, conversations: Sequence[Conversation], decoding: Decoding, *,
                 adapter: str | None = None, progress: bool = False) -> list[str]:
        """The model's reply to each conversation, in input order."""
        ...


def adapter_identity(folder: str) -> str:
    """The folder plus the size and mtime of its files: a rewritten adapter at the same path
    is a different adapter (loaded anew), an untouched one is reused."""
    parts = [folder]
    for file in sorted(Path(folder).iterdir()):
        if file.is_file():
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def end_token_ids(tokenizer: Any) -> list[int]:
    """Token ids that end a reply: EOS and the common chat templates' end-of-turn tokens."""
    ids = {tokenizer.eos_token_id}
    vocab = tokenizer.get_vocab()
    for token in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"):
        if token in vocab:
            ids.add(vocab[token])
    return sorted(i for i in ids if i is not None)


class FunctionGenerator:
    """A generator backed by a plain function (conversation -> reply), for tests and demos
    that need a model with scripted behaviour. It speaks the same interface as the real ones."""

    def __init__(self, reply: Any, name: str = "function") -> None:
        self._reply = reply
        self.name = name

    def generate(self, conversations: Sequence[Conversation], decoding: Decoding, *,
                 adapter: str | None = None, progress: bool = False) -> list[str]:
        return [self._reply(list(c)) for c in conversations]


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm bar over conversations (silent when not enabled); shared by the backends."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="conv", leave=False)


class TransformersGenerator:
    """Batched, left-padded `model.generate` in this process, with peft LoRA adapters.

    Conversations are sorted by length before batching (less padding) and replies are
    returned in input order. Generation stops at the tokenizer's EOS and at the chat
    template's end-of-turn token. Adapters are loaded once each and switched by name; the
    base model is used with every adapter disabled.
    """

    def __init__(self, model: Any, tokenizer: Any, *, name: str = "transformers") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self._adapters: dict[str, str] = {}  # adapter identity -> peft adapter name
        self._stop_ids = end_token_ids(tokenizer)

    @classmethod
    def from_spec(cls, spec: str, *, seed: int = 0, dtype: Any = None, device: str = "cpu"
                  ) -> TransformersGenerator:
        """Load a model spec for generation. On CPU the default dtype is fp32: measured with
        benchmarks/generation.py on SmolLM2-135M (2 cores), bf16 is 1.4x faster at batch 1
        but 2-4x slower at batch 8-32, and evaluation runs in batches."""
        import torch

        from mosaic.train.models import load_model, resolve_model

        if dtype is None and device == "cpu":
            dtype = torch.float32
        model, tokenizer = load_model(spec, seed=seed, dtype=dtype, device=device)
        return cls(model, tokenizer, name=f"transformers:{resolve_model(spec, seed=seed).model_id}")

    def _use_adapter(self, adapter: str | None) -> Any:
        """The model to call: the base (adapters disabled) or the named adapter active."""
        if adapter is None:
            return self.model
        folder = str(Path(adapter).resolve())
        if not (Path(folder) / "adapter_config.json").is_file():
            raise BackendError(f"{folder} is not a peft adapter folder (no adapter_config.json)")
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

    def generate(self, conversations: Sequence[Conversation], decoding: Decoding, *,
                 adapter: str | None = None, progress: bool = False) -> list[str]:
        import contextlib

        import torch

        model = self._use_adapter(adapter)
        prompts = [render_chat(self.tokenizer, c, add_generation_prompt=True)
                   for c in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        replies: list[str] = [""] * len(prompts)
        padding_side, self.tokenizer.padding_side = self.tokenizer.padding_side, "left"
        base_only = adapter is None and hasattr(model, "disable_adapter")
        sampling = decoding.temperature > 0
        if sampling:
            torch.manual_seed(decoding.seed)
        with progress_bar(len(prompts), progress, "generate") as bar, torch.inference_mode(), (
                model.disable_adapter() if base_only else contextlib.nullcontext()):
            for begin in range(0, len(order), decoding.batch_size):
                batch_ids = order[begin:begin + decoding.batch_size]
                batch = self.tokenizer([prompts[i] for i in batch_ids], return_tensors="pt",
                                       padding=True, add_special_tokens=False).to(model.device)
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
                texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                for i, text in zip(batch_ids, texts, strict=True):
                    replies[i] = text.strip()
                bar.update(len(batch_ids))
        self.tokenizer.padding_side = padding_side
        return replies


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
                   api_key_env: str = "OPENAI_API_KEY", seed: int = 0) -> Generator:
    """A generator for a backend name. `model` is a model spec (transformers, vllm) or the
    served model name (openai)."""
    if backend == "transformers":
        return TransformersGenerator.from_spec(model, seed=seed)
    if backend == "openai":
        if not base_url:
            raise BackendError("the openai backend needs a base URL (--base-url)")
        from mosaic.tools.openai_backend import OpenAIGenerator

        return OpenAIGenerator(base_url=base_url, model=model, api_key_env=api_key_env)
    if backend == "vllm":
        from mosaic.tools.vllm_backend import VLLMGenerator
        from mosaic.train.models import resolve_model

        return VLLMGenerator(resolve_model(model, seed=seed).path, seed=seed)
    raise BackendError(f"unknown backend '{backend}': use one of {', '.join(BACKENDS)}")
