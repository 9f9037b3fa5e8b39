"""Keys never leave the process: what mosaic writes or prints passes through here first.

An API key reaches mosaic only as the value of an environment variable (settings name the
variable, never the key). A key can still come back by another route: an endpoint that
echoes it inside an answer, a rationale, an error message, a URL someone pasted. So rather
than guarding each route, every way out masks the keys:

    store.write_json_atomic / write_text_atomic / RunFolder.log   run folder and caches
    redacting_serializer()                                        checkpoints.sqlite
    install_on_console()                                          stdout and stderr (the CLI)

The keys are the values of the variables the settings name (`watch`, called wherever a
client for an endpoint is built) and of any variable whose name says it holds a secret
(`..._API_KEY`, `..._TOKEN`, `..._SECRET`). Values shorter than MIN_LENGTH are left alone:
no provider's key is that short, and masking "1" everywhere would garble every file.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
MIN_LENGTH = 8
SECRET_NAME = re.compile(r"(API_KEY|_TOKEN|_SECRET|_PASSWORD)$", re.IGNORECASE)

_watched: set[str] = {"OPENAI_API_KEY"}


def watch(*names: str | None) -> None:
    """Mask the values of these environment variables from now on (read at each write, so a
    key set later is masked too)."""
    _watched.update(name for name in names if name)


def secrets() -> list[str]:
    """The values to mask now, longest first (a key that contains another is masked whole)."""
    names = _watched | {name for name in os.environ if SECRET_NAME.search(name)}
    values = {os.environ.get(name) or "" for name in names}
    return sorted((v for v in values if len(v) >= MIN_LENGTH), key=len, reverse=True)


def redact(text: str) -> str:
    """`text` with every key replaced by MASK."""
    for secret in secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def public_url(url: str) -> str:
    """A base URL without credentials or query (safe for traces and reports)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def url_problem(url: str, setting: str) -> str | None:
    """Why `url` may not be stored in settings (it carries credentials, a query or a
    fragment: where pasted keys end up), or None."""
    parts = urlsplit(url)
    if parts.username or parts.password or parts.query or parts.fragment:
        return (f"{setting} carries credentials, a query or a fragment; put the key in an "
                f"environment variable and name it in the setting's api_key_env")
    return None


def redact_bytes(data: bytes) -> bytes:
    """`data` with every key overwritten by as many `*`: the length stays the same, so a
    binary encoding with length prefixes (msgpack in the checkpoints) stays readable."""
    for secret in secrets():
        raw = secret.encode("utf-8")
        if raw in data:
            data = data.replace(raw, b"*" * len(raw))
    return data


def redact_value(value: Any) -> Any:
    """Nested dicts, lists and strings with every key masked (other values as they are)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


class RedactingStream:
    """A text stream that masks keys in what is written to it (the console)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, ...
        return getattr(self._stream, name)


def install_on_console() -> None:
    """Mask keys in everything printed from now on (idempotent)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


def redacting_serializer() -> Any:
    """LangGraph's serializer with keys masked in what it writes: checkpoints and pending
    writes reach checkpoints.sqlite through it (a subclass, so LangGraph's msgpack allowlist
    still applies to it)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    class RedactingSerializer(JsonPlusSerializer):
        def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
            kind, data = super().dumps_typed(obj)
            return kind, redact_bytes(data)

    return RedactingSerializer()
