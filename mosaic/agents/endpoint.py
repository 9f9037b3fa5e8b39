"""Talking to an OpenAI-compatible endpoint: the client, replies read defensively, and
what may be written down about it (URLs without credentials, keys masked).

Shared by the LLM diagnoser and the steering parser. Providers and proxies differ in what
they send (content as a string, null or a list of parts; tool arguments as JSON text or an
object), so replies are read into small records before anyone looks at them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mosaic.config import DiagnoserSettings
from mosaic.redact import public_url, watch

__all__ = ["Reply", "ToolCall", "client_for", "masked", "message_text", "public_url",
           "read_call", "server_message"]


def client_for(settings: DiagnoserSettings) -> Any:
    """An OpenAI client for the endpoint (built lazily: OpenAI() raises without a key)."""
    import openai

    watch(settings.api_key_env)
    return openai.OpenAI(base_url=settings.base_url,
                         api_key=os.environ.get(settings.api_key_env) or "not-set",
                         timeout=settings.timeout_s, max_retries=settings.max_retries)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class Reply:
    """One completion, read defensively: what a provider or proxy sends varies."""

    content: str
    refusal: str
    finish_reason: str | None
    calls: list[ToolCall]


def message_text(value: Any) -> str:
    """Message text as a string: providers send a string, null, or a list of parts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(str(p.get("text", "")) if isinstance(p, Mapping)
                       else str(getattr(p, "text", p)) for p in value)
    return json.dumps(value, default=str) if isinstance(value, Mapping) else str(value)


def read_call(call: Any) -> ToolCall:
    """A tool call as sent, whatever its shape (a missing function reads as no name)."""
    function = getattr(call, "function", None)
    return ToolCall(id=str(getattr(call, "id", "") or "call"),
                    name=str(getattr(function, "name", "") or ""),
                    arguments=message_text(getattr(function, "arguments", None)))


def masked(value: Any, secret: str) -> Any:
    """`value` (nested dicts, lists, strings) with every occurrence of `secret` masked."""
    if not secret or len(secret) < 4:
        return value
    if isinstance(value, str):
        return value.replace(secret, "***")
    if isinstance(value, Mapping):
        return {k: masked(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, secret) for v in value]
    return value


def server_message(error: Any) -> str:
    """What a server said about a refused request (short; only for request-shape errors:
    others can echo key fragments)."""
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, Mapping) else None
    return str(message or "no message")[:300]
