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
| not JSON, or not a JSON object   | asked again up to `json_retries` times, then unscored   |
| a model refusal / empty answer   | same as malformed JSON                                  |

Unscored samples keep the reason and are counted in the report. Successful judgements are
cached by (judge id, template hash, payload), so re-judging identical text is free. The API
key is read from the environment variable NAMED in the config; it never enters config
files, state, logs or reports.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import Field

from mosaic.prompting import render_messages, template_hash
from mosaic.schema import EvalItem, Record
from mosaic.store import cache_root
from mosaic.tools.judges import L3, ifeval_prompt_l3, ifeval_response_l3, user_turns
from mosaic.tools.judges.cache import JudgementCache, judgement_key
from mosaic.tools.judges.ifeval_checker import CHECKER_ID

TEMPLATES = {
    ("xguard", "prompt"): "xguard_prompt_labels.j2",
    ("xguard", "response"): "xguard_response.j2",
    ("orbench", "prompt"): "orbench_prompt_labels.j2",
    ("orbench", "response"): "orbench_response.j2",
}


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


class LLMJudge:
    """xguard and orbench judged by an LLM; IFEval by its checkers."""

    def __init__(self, config: LLMJudgeConfig, *, cache: JudgementCache | None = None,
                 client: Any = None) -> None:
        self.config = config
        self._client = client
        self.cache = cache if cache is not None else JudgementCache(
            cache_root() / "judgements.sqlite")
        versions = ",".join(template_hash(t) for t in sorted(TEMPLATES.values()))
        self.id = f"llm:{config.model}:{versions}+{CHECKER_ID}"
        self.failures: dict[str, int] = {}

    def _openai(self) -> Any:
        if self._client is None:  # built lazily: OpenAI() raises when no key is configured
            import openai

            self._client = openai.OpenAI(
                base_url=self.config.base_url,
                api_key=os.environ.get(self.config.api_key_env) or "not-set",
                timeout=self.config.timeout_s,
                max_retries=self.config.max_retries,
            )
        return self._client

    def _ask(self, template: str, variables: dict[str, Any]) -> L3:
        """One judgement: cached, retried, or {"error": ...}."""
        key = judgement_key(self.id, template_hash(template), variables)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        import openai

        messages = render_messages(template, **variables)
        last_problem = ""
        for _ in range(self.config.json_retries + 1):
            try:
                completion = self._openai().chat.completions.create(
                    model=self.config.model, messages=messages, temperature=0.0,
                    max_tokens=self.config.max_tokens,
                    response_format={"type": "json_object"},
                )
            except openai.APIError as error:  # retries inside the client are exhausted
                return self._failed(type(error).__name__, f"judge call failed: "
                                    f"{type(error).__name__}: {_short(error)}")
            choice = completion.choices[0] if completion.choices else None
            content = choice.message.content if choice and choice.message else None
            parsed = parse_json_object(content)
            if parsed is not None:
                self.cache.put(key, parsed)
                return parsed
            last_problem = ("empty answer" if not content else
                            f"not a JSON object: {content[:80]!r}")
        return self._failed("malformed", f"judge answer unusable after "
                            f"{self.config.json_retries + 1} attempts ({last_problem})")

    def _failed(self, kind: str, message: str) -> L3:
        self.failures[kind] = self.failures.get(kind, 0) + 1
        return {"error": message}

    def _map(self, fn: Callable[[Any], L3], args: Sequence[Any]) -> list[L3]:
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            return list(pool.map(fn, args))

    def prompt_l3(self, objective: str, items: Sequence[EvalItem]) -> list[L3]:
        if objective == "ifeval":
            return [ifeval_prompt_l3(i) for i in items]
        if (objective, "prompt") not in TEMPLATES:
            return [{"error": f"no judge template for objective '{objective}'"} for _ in items]
        template = TEMPLATES[objective, "prompt"]
        if objective == "xguard":
            return self._map(lambda i: self._ask(template, {"turns": user_turns(i)}), items)
        return self._map(lambda i: self._ask(template, {"prompt": user_turns(i)[0]}), items)

    def response_l3(self, objective: str, items: Sequence[EvalItem],
                    replies: Sequence[Sequence[str]]) -> list[L3]:
        if objective == "ifeval":
            return [ifeval_response_l3(i, r) for i, r in zip(items, replies, strict=True)]
        if (objective, "response") not in TEMPLATES:
            return [{"error": f"no judge template for objective '{objective}'"} for _ in items]
        pairs = list(zip(items, replies, strict=True))
        if objective == "orbench":
            template = TEMPLATES["orbench", "response"]
            return self._map(lambda p: self._ask(template, {"prompt": user_turns(p[0])[0],
                                                            "reply": p[1][-1]}), pairs)
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
            return self._ask(template, {"conversation": conversation})

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
    leaks = l3.get("safety_leaks")
    return isinstance(leaks, dict) and any(v in (1, True, "1") for v in leaks.values())


def _short(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return text[:200]
