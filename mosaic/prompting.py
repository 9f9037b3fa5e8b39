"""Jinja2 prompt templates from `prompts/`, and their content hashes.

Each template renders a `system` part and a `user` part (`part` is passed in). Its hash goes
into cache keys and provenance, so editing a template invalidates what it produced.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

from mosaic.config import shipped_folder
from mosaic.errors import ConfigError

PROMPTS_DIR = Path(os.environ.get("MOSAIC_PROMPTS_DIR") or shipped_folder("prompts", "prompts"))


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(PROMPTS_DIR)),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=False)


def template_hash(name: str) -> str:
    """sha256 (first 16 hex) of a template file's bytes."""
    path = PROMPTS_DIR / name
    if not path.is_file():
        raise ConfigError(f"prompt template {name} not found in {PROMPTS_DIR}")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def render_messages(name: str, **variables: Any) -> list[dict[str, str]]:
    """[system, user] chat messages from a template's two parts."""
    template = _environment().get_template(name)
    return [{"role": "system", "content": template.render(part="system", **variables).strip()},
            {"role": "user", "content": template.render(part="user", **variables).strip()}]
