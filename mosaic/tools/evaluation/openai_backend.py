"""Generation through any OpenAI-compatible chat endpoint (`vllm serve --enable-lora`, a
hosted model, ...).

The adapter is chosen by model name: `vllm serve BASE --enable-lora --lora-modules
round3=/runs/x/round3/adapter` serves the adapter as model `round3`, so
`generate(..., adapter="round3")` asks for it (None asks for the base model). An adapter
given as a peft folder (what the loop passes, one per round) is loaded into the server at
run time first, under a name derived from its files (vLLM's `/v1/load_lora_adapter`,
served with `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True vllm serve BASE --enable-lora`); the
folder must be readable by the server at the same path. Requests run
`decoding.batch_size` at a time; the client retries 429, 5xx, timeouts and connection
errors with exponential backoff. A request that still fails raises `BackendError` naming
the endpoint and the cause: a generation backend must not invent replies.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mosaic.endpoint import EndpointError, client_for, complete, post
from mosaic.redact import public_url, watch
from mosaic.tools.evaluation.interface import (
    BackendError,
    Conversation,
    Decoding,
    adapter_identity,
    progress_bar,
)


class OpenAIGenerator:
    def __init__(self, *, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 120.0, max_retries: int = 4, client: Any = None) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._client = client
        self.name = f"openai:{public_url(base_url)}:{model}"  # written into eval reports
        self._served: dict[str, str] = {}
        """Adapter folder identity -> the name the server serves it under."""
        self._lock = threading.Lock()
        watch(api_key_env)

    def _openai(self) -> Any:
        if self._client is None:  # lazily: OpenAI() raises when no key is configured
            self._client = client_for(self.base_url, api_key_env=self.api_key_env,
                                      timeout_s=self.timeout_s, max_retries=self.max_retries)
        return self._client

    def _one(self, conversation: Conversation, decoding: Decoding, model: str) -> str:
        messages = [{"role": m.role, "content": m.content} for m in conversation]
        options: dict[str, Any] = {"max_tokens": decoding.max_new_tokens,
                                   "temperature": decoding.temperature, "top_p": decoding.top_p}
        if decoding.temperature > 0:
            options["seed"] = decoding.seed
        where = f"{self.base_url} (model {model!r})"
        try:
            completion = complete(self._openai(), model=model, messages=messages, **options)
        # The server's own text is left out: providers echo key fragments in auth errors.
        except EndpointError as error:
            if error.status is not None:
                raise BackendError(f"{where} answered HTTP {error.status} "
                                   f"({error.error_type})") from None
            if error.kind == "no_answer":
                raise BackendError(f"{where} failed after {self.max_retries} retries: "
                                   f"{error.error_type}") from None
            raise BackendError(f"{where} sent a reply that is not a chat completion "
                               f"({error.error_type})") from None
        choices = getattr(completion, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise BackendError(f"{where} returned no chat completion choices")
        return (choices[0].message.content or "").strip()

    def served_name(self, adapter: str | None) -> str:
        """The model name to ask for: the base model's, an adapter's own name, or the name
        an adapter folder was loaded under (loaded now if it was not yet)."""
        if adapter is None:
            return self.model
        folder = Path(adapter)
        if not (folder / "adapter_config.json").is_file():
            return adapter  # a name the server serves already (--lora-modules)
        identity = adapter_identity(str(folder.resolve()))
        with self._lock:
            if identity not in self._served:
                name = "mosaic-" + hashlib.sha256(identity.encode()).hexdigest()[:12]
                self._load(name, folder.resolve())
                self._served[identity] = name
            return self._served[identity]

    def _load(self, name: str, folder: Path) -> None:
        where = f"{self.base_url} (adapter {folder})"
        try:
            post(self._openai(), "/load_lora_adapter",
                 {"lora_name": name, "lora_path": str(folder)})
        except EndpointError as error:
            if error.status == 400 and "already been loaded" in error.said:
                return  # loaded by an earlier process of this run: the same files
            if error.status == 404:
                raise BackendError(
                    f"{where}: the server cannot load adapters at run time (HTTP 404 on "
                    "/load_lora_adapter); start it as `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True "
                    "vllm serve BASE --enable-lora --max-lora-rank R`, or serve the adapter "
                    "with --lora-modules and pass its name") from None
            detail = f": {error.said}" if error.said else ""
            raise BackendError(f"{where} could not be loaded: {error.error_type}"
                               + (f" (HTTP {error.status})" if error.status else "")
                               + detail) from None

    def generate(self, conversations: Sequence[Conversation], decoding: Decoding, *,
                 adapter: str | None = None, progress: bool = False) -> list[str]:
        model = self.served_name(adapter)
        with progress_bar(len(conversations), progress, "generate") as bar, ThreadPoolExecutor(
                max_workers=decoding.batch_size) as pool:
            futures = [pool.submit(self._one, c, decoding, model) for c in conversations]
            replies = []
            for future in futures:
                replies.append(future.result())
                bar.update(1)
        return replies
