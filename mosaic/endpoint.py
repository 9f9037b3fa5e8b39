"""Talking to an OpenAI-compatible endpoint: the one client every LLM call in mosaic uses.

    client = client_for(settings.base_url, api_key_env=settings.api_key_env,
                        timeout_s=settings.timeout_s, max_retries=settings.max_retries)
    completion = complete(client, model=settings.model, messages=[...])   # or EndpointError

Used by the LLM judge, the openai generation backend, the LLM diagnoser and steering, so
they share one policy:

- retries: the client retries 408, 409, 429, 5xx, timeouts and connection errors
  `max_retries` times with exponential backoff, each attempt bounded by `timeout_s`; what
  still fails is an `EndpointError`, never an exception of the openai package;
- errors: `EndpointError.kind` says what failed (`request`, `setup`, `failing`,
  `no_answer`, `unreadable`); the server's own text is kept only for a refused request's
  shape (`said`, short), because servers echo key fragments in authentication errors;
- keys: read from the environment variable the settings name, never stored, and masked
  (mosaic.redact) in everything written, traces included (`redact_value`).

Providers and proxies differ in what they send (content as a string, null or a list of
parts; tool arguments as JSON text or an object), so replies are read into small records
(`Reply`, `ToolCall`) before anyone looks at them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mosaic.errors import MosaicError
from mosaic.redact import public_url, watch

__all__ = ["EndpointError", "Reply", "ToolCall", "client_for", "complete", "message_text",
           "parse_json_object", "public_url", "read_call"]

Kind = Literal["request", "setup", "failing", "no_answer", "unreadable"]


class EndpointError(MosaicError):
    """A chat completion that failed after the client's retries.

    kind: `request` (HTTP 400/422: the request's shape, e.g. a feature the server lacks),
    `setup` (another 4xx: key, model name or URL), `failing` (429 or 5xx), `no_answer`
    (timeouts, connection errors), `unreadable` (a reply the client could not parse)."""

    def __init__(self, kind: Kind, error_type: str, *, status: int | None = None,
                 said: str = "") -> None:
        self.kind = kind
        self.error_type = error_type
        """The openai exception's class name (or the parse error's)."""
        self.status = status
        """The HTTP status, when the server answered."""
        self.said = said
        """What the server said about a refused request (`request` only, ≤300 chars)."""
        http = f", HTTP {status}" if status is not None else ""
        super().__init__(f"{kind}: {error_type}{http}" + (f": {said}" if said else ""))


def client_for(base_url: str, *, api_key_env: str, timeout_s: float, max_retries: int) -> Any:
    """An OpenAI client for the endpoint, with the retry policy above (built when first
    needed: `openai.OpenAI()` raises when no key is configured, and a local server needs
    none)."""
    import openai

    watch(api_key_env)
    return openai.OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env) or "not-set",
                         timeout=timeout_s, max_retries=max_retries)


def complete(client: Any, **request: Any) -> Any:
    """`client.chat.completions.create(**request)`, its failures as EndpointError. The
    completion is returned as sent: callers check its shape (choices, message)."""
    import openai

    try:
        return client.chat.completions.create(**request)
    except openai.APIStatusError as error:
        raise _status_error(error) from None
    except openai.APIError as error:  # timeouts, connection errors, after the retries
        raise EndpointError("no_answer", type(error).__name__) from None
    except Exception as error:  # a reply the client could not parse (an HTML page, ...)
        raise EndpointError("unreadable", type(error).__name__) from None


def post(client: Any, path: str, body: dict[str, Any]) -> str:
    """POST `body` as JSON to `path` under the client's base URL (an endpoint beside the
    chat API, e.g. vLLM's `/load_lora_adapter`), with the same retries and the same
    EndpointError kinds as `complete`; the reply's text."""
    import httpx
    import openai

    try:
        response = client.post(path, body=body, cast_to=httpx.Response)
    except openai.APIStatusError as error:
        raise _status_error(error) from None
    except openai.APIError as error:
        raise EndpointError("no_answer", type(error).__name__) from None
    return str(response.text)


def _status_error(error: Any) -> EndpointError:
    """An HTTP error answer as its EndpointError: 400/422 the request (with what the server
    said), 429 and 5xx failing, any other 4xx the setup."""
    status, name = error.status_code, type(error).__name__
    if status in (400, 422):
        return EndpointError("request", name, status=status, said=_server_message(error))
    if status == 429 or status >= 500:
        return EndpointError("failing", name, status=status)
    return EndpointError("setup", name, status=status)


def _server_message(error: Any) -> str:
    """What a server said about a refused request (short)."""
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, Mapping) else None
    return str(message or "no message")[:300]


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


def parse_json_object(text: str | None) -> dict[str, Any] | None:
    """The JSON object in a reply (tolerating ```json fences and text around it), or None."""
    if not text:
        return None
    candidates = [text.strip()]
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        candidates.append(fenced.group(1).strip())
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{"): text.rindex("}") + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None
