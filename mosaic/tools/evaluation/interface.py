"""The generation interface every backend speaks: conversations in, next replies out.

    replies = generator.generate(conversations, Decoding(max_new_tokens=128), adapter=None)

The backends (mosaic.tools.evaluation.generation: transformers; openai_backend; vllm_backend)
import it from here, so none of them imports another.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

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
