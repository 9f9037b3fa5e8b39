"""Generation through any OpenAI-compatible chat endpoint (`vllm serve --enable-lora`, a
hosted model, ...).

The adapter is chosen by model name: `vllm serve BASE --enable-lora --lora-modules
round3=/runs/x/round3/adapter` serves the adapter as model `round3`, so
`generate(..., adapter="round3")` asks for it (None asks for the base model). Requests run
`decoding.batch_size` at a time; the client retries 429, 5xx, timeouts and connection
errors with exponential backoff. A request that still fails raises `BackendError` naming
the endpoint and the cause: a generation backend must not invent replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mosaic.endpoint import EndpointError, client_for, complete
from mosaic.redact import public_url, watch
from mosaic.tools.evaluation.interface import BackendError, Conversation, Decoding, progress_bar


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

    def generate(self, conversations: Sequence[Conversation], decoding: Decoding, *,
                 adapter: str | None = None, progress: bool = False) -> list[str]:
        model = adapter or self.model
        with progress_bar(len(conversations), progress, "generate") as bar, ThreadPoolExecutor(
                max_workers=decoding.batch_size) as pool:
            futures = [pool.submit(self._one, c, decoding, model) for c in conversations]
            replies = []
            for future in futures:
                replies.append(future.result())
                bar.update(1)
        return replies
