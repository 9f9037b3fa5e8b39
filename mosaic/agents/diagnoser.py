"""The LLM diagnoser: an LLM over any OpenAI-compatible endpoint reads the round's brief,
calls read-only probes, and answers with a DataAction.

    diagnosis = diagnose(brief, probes, settings, check=lambda a: validate_action(a, ...))
    diagnosis.action      # a DataAction `check` found valid, or None
    diagnosis.fallback    # why there is none (the caller's analyst then takes over)
    diagnosis.trace       # inputs, every request and reply, probe calls, answers, outcome

How the action comes back depends on what the endpoint offers (`settings.mode`):

| mode        | probes                          | the answer                                   |
|-------------|---------------------------------|----------------------------------------------|
| tools       | tool calls                      | a `submit_action` tool call (run schema)     |
| json_schema | findings computed into the prompt | content decoded against the run schema     |
| json_object | findings computed into the prompt | content as a JSON object (schema in prompt)|

`auto` tries them in that order and moves on when the endpoint rejects a mode's first
request (HTTP 400/422: no tool support, no json_schema), remembering what worked for the
process. An answer that is not valid goes back to the LLM with the validation report, up to
`max_answers` answers; timeouts, 5xx and connection errors are retried by the client. What
still fails ends in `fallback` with the reason, never in an exception: the loop goes on with
the analyst. The API key is read from the environment variable NAMED in the settings and
never enters the trace; server error texts are not kept either (they can echo key parts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mosaic.agents.probes import PROBE_NAMES, Probes
from mosaic.config import DiagnoserSettings
from mosaic.endpoint import (
    EndpointError,
    Reply,
    client_for,
    complete,
    message_text,
    parse_json_object,
    public_url,
    read_call,
)
from mosaic.prompting import render_messages, template_hash
from mosaic.redact import redact_value, watch
from mosaic.schema import DataAction, Problem, ValidationReport
from mosaic.tools.mixing.validate import parse_action

TEMPLATE = "diagnoser.j2"
MODES = ("tools", "json_schema", "json_object")
_DETECTED: dict[tuple[str, str], str] = {}
"""(base_url, model) -> the mode that endpoint accepted, for the life of the process."""


@dataclass
class Diagnosis:
    """What one round's LLM diagnosis came to."""

    action: DataAction | None
    fallback: str | None
    """Why there is no action (None when there is one)."""
    mode: str | None
    trace: dict[str, Any] = field(default_factory=dict)


class _Unsupported(Exception):
    """The endpoint rejected a mode's first request: try the next mode."""


class _Failed(Exception):
    """The conversation cannot give an action: fall back, with this reason."""


def diagnose(brief: Mapping[str, Any], probes: Probes, settings: DiagnoserSettings, *,
             check: Callable[[DataAction], ValidationReport], schema: Mapping[str, Any],
             client: Any = None) -> Diagnosis:
    """Ask the LLM for the next action (see the module docstring). `check` says whether an
    answer is acceptable (validation against the pools, budget and Constraints); `schema`
    is the run's DataAction JSON Schema."""
    if not settings.base_url:
        raise ValueError("diagnose() needs settings.base_url")
    started = time.monotonic()
    watch(settings.api_key_env)  # masked in the trace even when the caller brings a client
    client = client or client_for(settings.base_url, api_key_env=settings.api_key_env,
                                  timeout_s=settings.timeout_s,
                                  max_retries=settings.max_retries)
    key = (settings.base_url, settings.model)
    modes = ([settings.mode] if settings.mode != "auto"  # from what worked before, down
             else list(MODES[MODES.index(_DETECTED.get(key, MODES[0])):]))
    trace: dict[str, Any] = {
        "diagnoser": f"llm:{settings.model}", "base_url": public_url(settings.base_url),
        "model": settings.model, "template": f"{TEMPLATE}@{template_hash(TEMPLATE)}",
        "settings": settings.model_dump(mode="json", exclude={"base_url"}),
        "brief": dict(brief), "modes_rejected": {}, "conversations": []}
    outcome: Diagnosis | None = None
    for mode in modes:
        conversation = _Conversation(mode, brief, probes, settings, check, schema, client,
                                     may_reject=settings.mode == "auto")
        trace["conversations"].append(conversation.log)
        try:
            action = conversation.run()
        except _Unsupported as why:
            trace["modes_rejected"][mode] = str(why)
            continue
        except _Failed as why:
            outcome = Diagnosis(None, str(why), mode)
            break
        except Exception as error:  # a reply shape nobody foresaw must not stop the run
            outcome = Diagnosis(None, f"unreadable reply ({type(error).__name__}: "
                                f"{str(error)[:200]})", mode)
            break
        _DETECTED[key] = mode
        outcome = Diagnosis(action, None, mode)
        break
    if outcome is None:
        outcome = Diagnosis(None, "the endpoint accepted none of the modes "
                            + ", ".join(f"{m} ({r})" for m, r in
                                        trace["modes_rejected"].items()), None)
    trace.update(mode=outcome.mode, probe_calls=probes.calls, fallback=outcome.fallback,
                 action=outcome.action.model_dump(mode="json") if outcome.action else None,
                 rationale=outcome.action.rationale if outcome.action else None,
                 seconds=round(time.monotonic() - started, 2))
    # A key can only get here by mistake (echoed by a server, pasted into a setting), but
    # the trace is written to disk: its value is masked wherever it appears.
    outcome.trace = redact_value(trace)
    outcome.fallback = redact_value(outcome.fallback)
    return outcome


def step_problems(action: DataAction, current: DataAction, max_move: float) -> list[Problem]:
    """Errors for every ratio, and every bucket weight both actions set, that moves by more
    than `max_move` from `current` (`diagnoser.max_move`: a trust region for the LLM)."""
    problems = []

    def compare(path: str, now: dict[str, float], before: dict[str, float]) -> None:
        for name in sorted(set(now) | set(before)):
            move = now.get(name, 0.0) - before.get(name, 0.0)
            if abs(move) > max_move + 1e-9:
                problems.append(Problem(
                    code="step_too_large", path=f"{path}.{name}",
                    message=f"moves by {move:+.2f} from the current action; "
                    f"diagnoser.max_move allows {max_move:g} per share"))

    compare("ratios", action.ratios, current.ratios)
    for name, plan in action.objectives.items():
        before = current.objectives.get(name)
        if plan.bucket_weights and before is not None and before.bucket_weights:
            compare(f"objectives.{name}.bucket_weights", plan.bucket_weights,
                    before.bucket_weights)
    return problems


def tool_specs(schema: Mapping[str, Any], objectives: Sequence[str]) -> list[dict[str, Any]]:
    """The probes and `submit_action` as OpenAI function tools."""
    objective = {"type": "string", "enum": list(objectives)}

    def tool(name: str, description: str, properties: dict[str, Any],
             required: list[str]) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required,
                           "additionalProperties": False}}}

    return [
        tool("slice_diagnosis", "One slice of the latest evaluation: mean, bootstrap 95% CI, "
             "fail rate, reliability, and label breakdowns of its samples and failures.",
             {"objective": objective, "slice": {"type": "string"}}, ["objective", "slice"]),
        tool("examples", "Up to 5 random samples of a slice with their labels and fenced, "
             "truncated, untrusted text.",
             {"objective": objective, "slice": {"type": "string"},
              "condition": {"type": "string", "enum": ["failed", "passed", "borderline", "all"]},
              "limit": {"type": "integer", "minimum": 1, "maximum": 5}},
             ["objective", "slice"]),
        tool("pool_availability", "Usable training tokens per bucket of an objective's pool "
             "and its focus keys.", {"objective": objective, "slice": {"type": "string"}},
             ["objective"]),
        _hoisted(tool("preview_action", "Validate a candidate DataAction: its problems, the "
                      "nearest valid action when it is invalid, and its planned tokens.",
                      {"action": _without_meta(schema)}, ["action"])),
        {"type": "function", "function": {
            "name": "submit_action", "description": "Give your final DataAction for the round.",
            "parameters": _without_meta(schema)}},
    ]


def _hoisted(spec: dict[str, Any]) -> dict[str, Any]:
    """A tool whose `action` argument is the action schema, with that schema's `$defs`
    moved to the parameters' root, where its `#/$defs/...` references point."""
    parameters = spec["function"]["parameters"]
    action = dict(parameters["properties"]["action"])
    defs = action.pop("$defs", None)
    parameters["properties"]["action"] = action
    if defs:
        parameters["$defs"] = defs
    return spec


def _without_meta(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("$id", "$schema", "title")}


class _Conversation:
    """One attempt at an action in one mode: requests until a valid answer, or a reason."""

    def __init__(self, mode: str, brief: Mapping[str, Any], probes: Probes,
                 settings: DiagnoserSettings, check: Callable[[DataAction], ValidationReport],
                 schema: Mapping[str, Any], client: Any, *, may_reject: bool) -> None:
        self.mode, self.probes, self.settings, self.check = mode, probes, settings, check
        self.schema, self.client, self.may_reject = schema, client, may_reject
        findings = "" if mode == "tools" else _findings(brief, probes)
        self.messages: list[dict[str, Any]] = render_messages(
            TEMPLATE, brief=brief, mode=mode, findings=findings,
            schema=json.dumps(_without_meta(schema), separators=(",", ":")))
        self.log: dict[str, Any] = {"mode": mode, "messages": self.messages, "replies": [],
                                    "answers": []}
        self.answers = 0
        self.probe_calls = 0

    # -- requests

    def _request(self) -> dict[str, Any]:
        s = self.settings
        request: dict[str, Any] = {"model": s.model, "messages": self.messages,
                                   "temperature": s.temperature, "max_tokens": s.max_tokens}
        if s.seed is not None:
            request["seed"] = s.seed
        if self.mode == "tools":
            request["tools"] = tool_specs(self.schema, list(self.probes.pools))
            # After the probe budget only the answer is left to give.
            request["tool_choice"] = ("required" if self.probe_calls < s.max_probes else
                                      {"type": "function", "function": {"name": "submit_action"}})
        elif self.mode == "json_schema":
            request["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "DataAction", "schema": _without_meta(self.schema)}}
        else:
            request["response_format"] = {"type": "json_object"}
        return request

    def _complete(self, first: bool) -> Any:
        try:
            completion = complete(self.client, **self._request())
        except EndpointError as error:
            raise self._failure(error, first) from None
        choices = getattr(completion, "choices", None)
        if not choices:
            raise _Failed("unreadable reply (not a chat completion)")
        choice = choices[0]
        message = getattr(choice, "message", None)
        if message is None:
            raise _Failed("unreadable reply (a choice without a message)")
        usage: Any = getattr(completion, "usage", None)
        reply = Reply(content=message_text(message.content),
                      refusal=message_text(getattr(message, "refusal", None)),
                      finish_reason=getattr(choice, "finish_reason", None),
                      calls=[read_call(c) for c in (getattr(message, "tool_calls", None) or [])])
        self.log["replies"].append({
            "content": reply.content, "refusal": reply.refusal,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments}
                           for c in reply.calls],
            "finish_reason": reply.finish_reason,
            "usage": usage.model_dump() if hasattr(usage, "model_dump") else None})
        return reply

    def _failure(self, error: EndpointError, first: bool) -> Exception:
        """What a failed request means for the conversation."""
        if error.kind == "request":
            # What the server says about the request's shape is kept (short): it names the
            # missing feature. Messages of other errors are not (401s echo key fragments).
            if first and self.may_reject:
                return _Unsupported(f"HTTP {error.status}: {error.said}")
            return _Failed(f"the endpoint refused the request ({error.error_type}, "
                           f"HTTP {error.status}: {error.said})")
        if error.kind == "failing":
            return _Failed(f"the endpoint is failing or rate-limited ({error.error_type}, "
                           f"HTTP {error.status}) after {self.settings.max_retries} retries")
        if error.kind == "setup":
            return _Failed(f"the endpoint refused us ({error.error_type}, HTTP "
                           f"{error.status}); check the URL, model '{self.settings.model}' "
                           f"and the key in ${self.settings.api_key_env}")
        if error.kind == "no_answer":
            return _Failed(f"no answer from the endpoint ({error.error_type}, after "
                           f"{self.settings.max_retries} retries)")
        return _Failed(f"unreadable reply ({error.error_type})")

    # -- the loop

    def run(self) -> DataAction:
        limit = self.settings.max_answers + self.settings.max_probes + 2
        deadline = time.monotonic() + self.settings.round_timeout_s
        for turn in range(limit):
            if time.monotonic() > deadline:
                raise _Failed(f"no valid action within round_timeout_s "
                              f"({self.settings.round_timeout_s:g} s)")
            reply = self._complete(first=turn == 0)
            if reply.calls and self.mode == "tools":
                action = self._tool_calls(reply)
            else:
                action = self._content_answer(reply)
            if action is not None:
                return action
            if self.answers >= self.settings.max_answers:
                raise _Failed(f"no valid action after {self.answers} answer(s); last: "
                              + self.log["answers"][-1]["verdict"])
        raise _Failed(f"no answer after {limit} requests")

    def _tool_calls(self, reply: Reply) -> DataAction | None:
        # The protocol: the assistant message with its calls, then one tool message per
        # call id, before the next request.
        self.messages.append({"role": "assistant", "content": reply.content or None,
                              "tool_calls": [{"id": c.id, "type": "function", "function": {
                                  "name": c.name, "arguments": c.arguments}}
                                  for c in reply.calls]})
        for call in reply.calls:
            arguments = parse_json_object(call.arguments)
            accepted = None
            if call.name == "submit_action":
                accepted, result = self._answer(arguments, call.arguments)
            elif call.name in PROBE_NAMES:
                self.probe_calls += 1
                if self.probe_calls > self.settings.max_probes:
                    result = {"error": "the probe budget for this round is spent: call "
                              "submit_action with your DataAction now"}
                elif arguments is None:
                    result = {"error": "arguments are not a JSON object"}
                else:
                    result = self.probes.call(call.name, arguments)
            else:  # counted as an answer: a model stuck on a tool that isn't stops
                result = {"error": f"no tool named {call.name!r}",
                          "known": [*PROBE_NAMES, "submit_action"]}
                self._record(call.arguments, {"valid": False, "problems": [
                    f"called a tool that does not exist: {call.name!r}"]})
            self.messages.append({"role": "tool", "tool_call_id": call.id,
                                  "content": json.dumps(result, default=str)})
            if accepted is not None:
                return accepted
        return None

    def _content_answer(self, reply: Reply) -> DataAction | None:
        content = reply.content
        if reply.refusal:
            action, verdict = None, {"valid": False, "problems": [
                "you declined to answer; a DataAction only reweights existing training data"]}
            self._record(reply.refusal, verdict)
        elif reply.finish_reason == "length":
            action, verdict = None, {"valid": False, "problems": [
                f"the answer was cut off at the token limit ({self.settings.max_tokens} "
                "tokens): give a shorter action (fewer buckets and focus values, short "
                "numbers, a short rationale)"]}
            self._record(content, verdict)
        else:
            action, verdict = self._answer(parse_json_object(content), content)
        if action is not None:
            return action
        self.messages.append({"role": "assistant", "content": content or reply.refusal})
        follow_up = ("Call submit_action with the DataAction." if self.mode == "tools" else
                     "Answer with the DataAction as one JSON object.")
        self.messages.append({"role": "user", "content": "Your answer was not accepted:\n"
                              + json.dumps(verdict) + "\n" + follow_up})
        return None

    def _answer(self, value: dict[str, Any] | None, raw: str
                ) -> tuple[DataAction | None, dict[str, Any]]:
        """Check one answer; (the action, {"valid": True}) or (None, the report to send)."""
        if value is None:
            verdict: dict[str, Any] = {"valid": False, "problems": [
                "not a JSON object: give the DataAction as JSON"]}
            self._record(raw, verdict)
            return None, verdict
        if isinstance(value.get("action"), Mapping) and "ratios" not in value:
            value = dict(value["action"])  # {"action": {...}}: a common wrapping
        action, report = parse_action(value)
        if action is not None:
            report = self.check(action)
        verdict = {"valid": report.ok, "problems": [
            f"{p.severity}: {p.path}: {p.message} [{p.code}]"
            for p in report.errors + report.warnings]}
        self._record(raw, verdict)
        if action is not None and report.ok:
            return action, verdict
        verdict["answers_left"] = self.settings.max_answers - self.answers
        return None, verdict

    def _record(self, raw: str, verdict: Mapping[str, Any]) -> None:
        """Log one answer and count it against `max_answers` (the only place that counts)."""
        self.answers += 1
        problems = verdict.get("problems") or []
        self.log["answers"].append({
            "raw": raw[:4000], "valid": bool(verdict.get("valid")),
            "problems": problems,
            "verdict": "valid" if verdict.get("valid") else "; ".join(problems)[:400]})


def _findings(brief: Mapping[str, Any], probes: Probes) -> str:
    """Probe results for modes without tool calls: every objective's pool, and a diagnosis
    of its weakest slices (by mean), so the LLM sees what the tools would have told it."""
    parts = []
    for entry in brief.get("overview", []):
        name = entry["name"]
        parts.append(json.dumps(probes.call("pool_availability", {"objective": name}),
                                default=str))
        scored = [s for s in entry["slices"] if s.get("n")]
        for weakest in sorted(scored, key=lambda s: s["mean"])[:2]:
            parts.append(json.dumps(probes.call("slice_diagnosis", {
                "objective": name, "slice": weakest["slice"]}), default=str))
    return "\n".join(parts)
