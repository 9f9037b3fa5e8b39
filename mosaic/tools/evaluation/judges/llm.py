"""An LLM judge over any OpenAI-compatible endpoint (a hosted model, `vllm serve`, ...).

    judge = LLMJudge(LLMJudgeConfig(base_url="https://api.deepseek.com", model="deepseek-chat",
                                    api_key_env="DEEPSEEK_API_KEY"))

Prompts are the Jinja2 templates in `prompts/` (`xguard_*.j2`, `orbench_*.j2`); the judge
replies with JSON (`response_format={"type": "json_object"}`, temperature 0), which the
objective's rules then coerce into its item set. What can go wrong, and what happens:

| failure                          | behaviour                                               |
|----------------------------------|---------------------------------------------------------|
| 429 / 5xx / connection errors    | retried with exponential backoff by the client          |
| no answer within `timeout_s`     | retried the same way, then the sample is unscored       |
| not JSON, not an object, or an   | asked again up to `json_retries` times, then unscored   |
| object missing the item groups   |                                                         |
| a model refusal / empty answer   | same as malformed JSON                                  |
| anything else odd from the server| the sample is unscored with the cause                   |
| 400 / 422 for one item           | that sample is unscored (providers refuse some content, |
|                                  | e.g. DeepSeek's "Content Exists Risk"); the first 8     |
|                                  | requests all refused means the setup: JudgeSetupError   |
| 401 / 403 / 404                  | `JudgeSetupError` at once: retrying cannot fix a wrong  |
|                                  | key, model name or URL, so the run stops and says so    |

Failures that may pass (429/5xx and no answer, after the retries) carry `"transient":
True` beside their `"error"`, so a caller that can come back later (`mosaic data score`)
asks again instead of recording them.

Unscored samples keep the reason (the error type and status, never the server's text,
which may echo key fragments) and are counted in the report. Successful judgements are
cached by (judge id, template hash, payload), so re-judging identical text is free. The API
key is read from the environment variable NAMED in the config; it never enters config
files, state, logs or reports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import Field, field_validator

from mosaic.endpoint import EndpointError, client_for, complete, parse_json_object
from mosaic.errors import MosaicError
from mosaic.objectives import coerce_flag, get_objective
from mosaic.prompting import render_messages, template_hash
from mosaic.redact import url_problem, watch
from mosaic.schema import EvalItem, Record
from mosaic.store import cache_root
from mosaic.tools.evaluation.judges import L3, ifeval_prompt_l3, ifeval_response_l3, user_turns
from mosaic.tools.evaluation.judges.cache import JudgementCache, judgement_key
from mosaic.tools.evaluation.judges.ifeval_checker import CHECKER_ID

TEMPLATES = {
    ("xguard", "prompt"): "xguard_prompt_labels.j2",
    ("xguard", "response"): "xguard_response.j2",
    ("orbench", "prompt"): "orbench_prompt_labels.j2",
    ("orbench", "response"): "orbench_response.j2",
}


class JudgeSetupError(MosaicError):
    """The judge endpoint rejects the setup itself (key, model, URL): retrying cannot help."""


_SETUP_ERRORS = ("AuthenticationError", "PermissionDeniedError", "NotFoundError")
REFUSALS_BEFORE_SETUP_ERROR = 8
"""Requests refused (400/422) with none answered before the refusals count as the setup
(an unsupported option, a wrong model) rather than the content of single items."""


class LLMJudgeConfig(Record):
    """Where the judge model is and how patiently to ask it."""

    base_url: str
    """OpenAI-compatible endpoint, e.g. https://api.deepseek.com or http://127.0.0.1:8000/v1."""
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    """NAME of the environment variable holding the key (the key itself is never stored)."""
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    """Client retries on 429, 5xx, timeouts and connection errors (exponential backoff)."""
    json_retries: int = Field(default=2, ge=0)
    """Extra attempts when the answer is not a JSON object."""
    max_tokens: int = Field(default=512, ge=16)
    concurrency: int = Field(default=8, ge=1)

    @field_validator("base_url")
    @classmethod
    def _no_secret_in_url(cls, url: str) -> str:
        problem = url_problem(url, "the judge's base_url")
        if problem:
            raise ValueError(problem)
        return url


class LLMJudge:
    """xguard and orbench judged by an LLM; IFEval by its checkers."""

    def __init__(self, config: LLMJudgeConfig, *, cache: JudgementCache | None = None,
                 client: Any = None) -> None:
        self.config = config
        self._client = client
        self.cache = cache if cache is not None else JudgementCache(
            cache_root() / "judgements.sqlite")
        def versions(part: str) -> str:
            return ",".join(template_hash(t) for (_, p), t in sorted(TEMPLATES.items())
                            if p == part)

        # Response judgements and frozen prompt labels are keyed separately, so editing a
        # response prompt never relabels (and re-slices) an eval set.
        self.id = f"llm:{config.model}:{versions('response')}+{CHECKER_ID}"
        self.label_id = f"llm:{config.model}:{versions('prompt')}"
        self.failures: dict[str, int] = {}
        self._answered = 0
        self._refusals = 0
        self._lock = threading.Lock()
        watch(self.config.api_key_env)

    def _openai(self) -> Any:
        if self._client is None:  # built lazily: OpenAI() raises when no key is configured
            self._client = client_for(self.config.base_url,
                                      api_key_env=self.config.api_key_env,
                                      timeout_s=self.config.timeout_s,
                                      max_retries=self.config.max_retries)
        return self._client

    def _ask(self, template: str, variables: dict[str, Any], *, objective: str,
             part: str) -> L3:
        """One judgement: cached, retried, or {"error": ...}."""
        key = judgement_key(self.id if part == "response" else self.label_id,
                            template_hash(template),
                            {"base_url": self.config.base_url, **variables})
        cached = self.cache.get(key)
        if cached is not None:
            with self._lock:
                self._answered += 1  # the setup worked when it was asked
            return cached
        messages = render_messages(template, **variables)
        last_problem = ""
        for _ in range(self.config.json_retries + 1):
            try:
                completion = complete(self._openai(), model=self.config.model,
                                      messages=messages, temperature=0.0,
                                      max_tokens=self.config.max_tokens,
                                      response_format={"type": "json_object"})
            except EndpointError as error:
                kind = error.error_type
                if error.error_type in _SETUP_ERRORS:
                    raise JudgeSetupError(
                        f"the judge endpoint {self.config.base_url} rejected the request "
                        f"({kind}, HTTP {error.status}): check the model name "
                        f"'{self.config.model}', the URL, and the key in "
                        f"${self.config.api_key_env}") from None
                if error.kind == "request":  # this item's content, or the setup
                    return self._refused(kind, error.status)
                if error.status is not None:
                    return self._failed(kind, f"judge call failed: {kind} "
                                        f"(HTTP {error.status}) after retries", transient=True)
                if error.kind == "no_answer":  # timeouts, connection errors, after retries
                    return self._failed(kind, f"judge call failed: {kind} after retries",
                                        transient=True)
                # a reply the client could not even parse
                return self._failed("unreadable", f"judge reply unreadable: {kind}")
            if not hasattr(completion, "choices"):  # e.g. an HTML page from a broken proxy
                return self._failed("unreadable", "judge reply unreadable: not a chat "
                                    "completion")
            content = _content_of(completion)
            parsed = _items_only(parse_json_object(content), objective, part)
            if isinstance(parsed, dict):
                self.cache.put(key, parsed)
                with self._lock:
                    self._answered += 1
                return parsed
            last_problem = parsed if content else "empty answer"
        return self._failed("malformed", f"judge answer unusable after "
                            f"{self.config.json_retries + 1} attempts ({last_problem})")

    def _failed(self, kind: str, message: str, *, transient: bool = False) -> L3:
        with self._lock:
            self.failures[kind] = self.failures.get(kind, 0) + 1
        return {"error": message, **({"transient": True} if transient else {})}

    def _refused(self, kind: str, status: int | None) -> L3:
        """A request the endpoint refused (400/422): this item's content (the sample is
        unscored), unless nothing was ever answered and the refusals keep coming."""
        with self._lock:
            self._refusals += 1
            systematic = (self._answered == 0
                          and self._refusals >= REFUSALS_BEFORE_SETUP_ERROR)
        if systematic:
            raise JudgeSetupError(
                f"the judge endpoint {self.config.base_url} refused the first "
                f"{self._refusals} requests ({kind}, HTTP {status}) and answered none: check "
                f"that '{self.config.model}' accepts JSON-mode chat requests") from None
        return self._failed(kind, f"judge request refused: {kind} (HTTP {status})")

    def _map(self, fn: Callable[[Any], L3], args: Sequence[Any]) -> list[L3]:
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            return list(pool.map(fn, args))

    def prompt_l3(self, objective: str, items: Sequence[EvalItem]) -> list[L3]:
        if objective == "ifeval":
            return [ifeval_prompt_l3(i) for i in items]
        if (objective, "prompt") not in TEMPLATES:
            return [{"error": f"no judge template for objective '{objective}'"} for _ in items]
        template = TEMPLATES[objective, "prompt"]

        def ask(item: EvalItem) -> L3:
            turns = user_turns(item)
            if not turns:
                return {"error": f"item {item.id} has no user turn"}
            variables = {"turns": turns} if objective == "xguard" else {"prompt": turns[0]}
            return self._ask(template, variables, objective=objective, part="prompt")

        return self._map(ask, items)

    def response_l3(self, objective: str, items: Sequence[EvalItem],
                    replies: Sequence[Sequence[str]]) -> list[L3]:
        if objective == "ifeval":
            return [ifeval_response_l3(i, r) for i, r in zip(items, replies, strict=True)]
        if (objective, "response") not in TEMPLATES:
            return [{"error": f"no judge template for objective '{objective}'"} for _ in items]
        pairs = list(zip(items, replies, strict=True))
        if objective == "orbench":
            template = TEMPLATES["orbench", "response"]

            def ask(pair: tuple[EvalItem, Sequence[str]]) -> L3:
                turns, replies = user_turns(pair[0]), pair[1]
                if not turns or not replies:
                    return {"error": f"item {pair[0].id} has no user turn or no reply"}
                return self._ask(template, {"prompt": turns[0], "reply": replies[-1]},
                                 objective="orbench", part="response")

            return self._map(ask, pairs)
        return self._map(lambda p: self._judge_attack(*p), pairs)

    def _judge_attack(self, item: EvalItem, replies: Sequence[str]) -> L3:
        """The whole replay; if it leaks, the shortest prefix that already leaks."""
        template = TEMPLATES["xguard", "response"]
        turns = user_turns(item)

        def judge_prefix(n: int) -> L3:
            conversation = []
            for user, reply in zip(turns[:n], replies[:n], strict=False):
                conversation += [{"role": "user", "content": user},
                                 {"role": "assistant", "content": reply}]
            return self._ask(template, {"conversation": conversation}, objective="xguard",
                             part="response")

        full = judge_prefix(len(replies))
        if "error" in full:
            return full
        first_leak = None
        if _leaks(full):
            first_leak = len(replies)
            for n in range(1, len(replies)):
                prefix = judge_prefix(n)
                if "error" not in prefix and _leaks(prefix):
                    first_leak = n
                    break
        return {**full, "first_leak_turn": first_leak}


def _leaks(l3: L3) -> bool:
    """Any leak item set, read exactly as the objective's coercion reads it."""
    leaks = l3.get("safety_leaks")
    return isinstance(leaks, Mapping) and any(coerce_flag(v)[0] for v in leaks.values())


def _content_of(completion: Any) -> str | None:
    choices = getattr(completion, "choices", None)
    if not choices:
        return None
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    return content if isinstance(content, str) else None


def _items_only(answer: dict[str, Any] | None, objective: str, part: str) -> L3 | str:
    """The answer reduced to the objective's item groups, or why it is unusable.

    Every group must be present as an object (a judge that answers `{"reasoning": "I
    cannot"}` has judged nothing); keys outside the schema, `error` included, are dropped.
    """
    if answer is None:
        return "not a JSON object"
    groups = get_objective(objective).prompt_items if part == "prompt" else \
        get_objective(objective).response_items
    missing = [g for g in groups if not isinstance(answer.get(g), Mapping)]
    if missing:
        return f"missing item groups {missing}"
    return {g: dict(answer[g]) for g in groups}
