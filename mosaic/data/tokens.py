"""Token counting with the target model's own chat template.

The budget counts *templated* tokens: the exact text the trainer feeds the model
(`apply_chat_template(messages, tokenize=False)`), tokenised without extra special tokens.
Nothing is appended after the template: its own end-of-turn token (ChatML `<|im_end|>`,
Llama-3 `<|eot_id|>`) is what the model learns to stop on.

Assistant tokens are found for ANY template, without searching for model-specific header
tokens (docs/reference.md §3.7): for the i-th message, if it is an assistant turn, the template
rendered over messages[:i] with the generation prompt is a prefix of the full text, and
the assistant's content starts right where that prefix ends. The span runs to the end of
the content plus the template's end-of-turn token when one follows. The trainer masks its
loss with the same spans (`assistant_spans`), so budget and training agree. A token is
inside a span when it *starts* inside it; a BPE token that merges the template's newline
with a leading space of the content therefore stays outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mosaic.errors import TemplateError
from mosaic.schema import Message

Span = tuple[int, int]
"""A [start, end) character range of the rendered text."""


@dataclass(frozen=True)
class TokenCount:
    total: int
    """Templated tokens of the whole conversation."""
    assistant: int
    """Of those, tokens inside assistant spans (content + end-of-turn token)."""


def _as_dicts(messages: Sequence[Message | dict]) -> list[dict[str, str]]:
    return [m.model_dump() if isinstance(m, Message) else dict(m) for m in messages]


def render_chat(tokenizer: Any, messages: Sequence[Message | dict], *,
                add_generation_prompt: bool = False) -> str:
    """The conversation as the model sees it, through the tokenizer's own chat template."""
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} has no chat template; "
            "mosaic counts and trains on templated chats. Use an instruct/chat model, or set "
            "tokenizer.chat_template before use."
        )
    try:
        return tokenizer.apply_chat_template(_as_dicts(messages), tokenize=False,
                                             add_generation_prompt=add_generation_prompt)
    except Exception as error:  # Jinja raises its own types, and templates raise on purpose
        roles = [m["role"] for m in _as_dicts(messages)]
        raise TemplateError(
            f"the chat template of {getattr(tokenizer, 'name_or_path', '?')!r} refused a "
            f"conversation with roles {roles}: {type(error).__name__}: {error}"
        ) from None


_MARKER_CACHE: dict[tuple[int, str], list[str]] = {}


def _end_markers(tokenizer: Any) -> list[str]:
    """Special-token strings that may close an assistant turn, longest first.

    Tokens the template uses to *open* a turn (found in its generation prompt, e.g.
    `<|im_start|>`) are excluded, so a template without an end-of-turn token never lets a
    span run into the next turn.
    """
    key = (id(tokenizer), tokenizer.chat_template)
    if key in _MARKER_CACHE:
        return _MARKER_CACHE[key]
    markers = {tokenizer.eos_token} if tokenizer.eos_token else set()
    markers.update(getattr(tokenizer, "all_special_tokens", []) or [])
    for token in getattr(tokenizer, "added_tokens_decoder", {}).values():
        if getattr(token, "special", False):
            markers.add(token.content)
    probe = [{"role": "user", "content": "x"}]
    opening = render_chat(tokenizer, probe, add_generation_prompt=True).removeprefix(
        render_chat(tokenizer, probe))
    found = sorted((m for m in markers if m and m not in opening), key=len, reverse=True)
    _MARKER_CACHE[key] = found
    return found


def assistant_spans(tokenizer: Any, messages: Sequence[Message | dict]) -> tuple[str, list[Span]]:
    """The rendered conversation and the character span of every assistant turn in it."""
    dicts = _as_dicts(messages)
    text = render_chat(tokenizer, dicts)
    markers = _end_markers(tokenizer)
    spans: list[Span] = []
    for i, message in enumerate(dicts):
        if message["role"] != "assistant":
            continue
        prefix = render_chat(tokenizer, dicts[:i], add_generation_prompt=True)
        if not text.startswith(prefix):
            raise TemplateError(
                "the chat template is not prefix-stable: the conversation up to assistant "
                f"turn {i} with a generation prompt is not a prefix of the whole rendered "
                "conversation, so assistant tokens cannot be located. Templates that rewrite "
                "earlier turns (e.g. drop reasoning) are not supported for training."
            )
        start = len(prefix)
        content = message["content"].strip()
        # The template may trim the content; it must not rewrite it.
        lead = len(text[start:]) - len(text[start:].lstrip())
        if not text.startswith(content, start + lead):
            raise TemplateError(
                f"the chat template does not render assistant turn {i} verbatim after its "
                "generation prompt (it rewrites or drops earlier turns), so its tokens cannot "
                "be located for counting or loss masking."
            )
        end = start + lead + len(content)
        rest = text[end:]
        gap = len(rest) - len(rest.lstrip())
        for marker in markers:
            if rest.startswith(marker, gap):
                end += gap + len(marker)
                break
        spans.append((start, end))
    return text, spans


def count_tokens(tokenizer: Any, conversations: Sequence[Sequence[Message | dict]], *,
                 batch_size: int = 256) -> list[TokenCount]:
    """Templated and assistant-only token counts of many conversations, tokenised in batches."""
    counts: list[TokenCount] = []
    for begin in range(0, len(conversations), batch_size):
        batch = [assistant_spans(tokenizer, c) for c in conversations[begin:begin + batch_size]]
        texts = [text for text, _ in batch]
        if getattr(tokenizer, "is_fast", False):
            encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
            for (_, spans), offsets in zip(batch, encoded["offset_mapping"], strict=True):
                counts.append(TokenCount(len(offsets), sum(token_mask(offsets, spans))))
        else:  # slow tokenizers have no offsets: count each span on its own
            for text, spans in batch:
                total = len(tokenizer(text, add_special_tokens=False)["input_ids"])
                inside = sum(len(tokenizer(text[a:b], add_special_tokens=False)["input_ids"])
                             for a, b in spans)
                counts.append(TokenCount(total, inside))
    return counts


def token_mask(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[bool]:
    """Per token: does it start inside an assistant span (the loss mask of the trainer)."""
    mask, j = [], 0
    for start, _ in offsets:
        while j < len(spans) and start >= spans[j][1]:
            j += 1
        mask.append(j < len(spans) and spans[j][0] <= start < spans[j][1])
    return mask
