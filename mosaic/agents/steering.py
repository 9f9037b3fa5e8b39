"""Steering: a person's message becomes a typed Constraint, a stop, or a note.

The command grammar works offline, always:

    /min-share orbench 0.2          orbench gets at least 20% of the budget
    /max-share xguard 0.5           xguard gets at most half of it
    /pin xguard complexity_5 0.4    that bucket's weight is exactly 0.4
    /forbid ifeval complexity_1     that bucket is never sampled
    /floor ifeval 3.5               a round whose ifeval mean is below 3.5 never enters the front
    /stop                           stop after the current round
    /note anything                  kept with the run, shown to the diagnoser

Free text without a leading `/` is a note; when an LLM endpoint is configured
(`diagnoser.base_url`), `interpret` also has the LLM translate it into commands of this
grammar, which are then parsed like typed ones. Rules an LLM proposes are marked
`proposed`: they are shown to the person as the commands they became and applied only when
confirmed (`mosaic chat --yes`, a yes in the terminal, or typing the commands). A command
that does not parse is a SteeringError naming the command and its expected form, never a
silently dropped rule. A message is at most MAX_NOTE_CHARS characters.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

from mosaic.config import DiagnoserSettings
from mosaic.endpoint import EndpointError, client_for, complete, message_text, parse_json_object
from mosaic.errors import MosaicError
from mosaic.prompting import render_messages
from mosaic.schema import (
    MAX_NOTE_CHARS,
    Constraint,
    ConstraintKind,
    ConstraintOrigin,
    Record,
)


class SteeringError(MosaicError):
    """A steering command that does not parse; the message says the expected form."""


class Steering(Record):
    """What one message asks for."""

    kind: Literal["constraint", "stop", "note"]
    constraint: Constraint | None = None
    text: str = ""
    """The message as typed (the note itself, or the command that made the rule)."""
    proposed: bool = False
    """A rule an LLM read into free text: applied only once the person confirms it."""

    @property
    def rule(self) -> Constraint:
        """The Constraint a `constraint` steering carries."""
        if self.constraint is None:
            raise ValueError(f"a {self.kind} steering carries no rule")
        return self.constraint


COMMANDS: dict[str, tuple[str, str]] = {
    # command: (Constraint kind or special, usage)
    "/min-share": ("min_share", "/min-share OBJECTIVE SHARE"),
    "/max-share": ("max_share", "/max-share OBJECTIVE SHARE"),
    "/pin": ("pin_bucket", "/pin OBJECTIVE SLICE WEIGHT"),
    "/forbid": ("forbid_bucket", "/forbid OBJECTIVE SLICE"),
    "/floor": ("score_floor", "/floor OBJECTIVE SCORE"),
    "/stop": ("stop", "/stop"),
    "/note": ("note", "/note TEXT"),
}


def usage() -> str:
    return "commands: " + "; ".join(usage for _, usage in COMMANDS.values())


def parse_command(text: str, *, origin: ConstraintOrigin = "chat") -> Steering:
    """One message in the command grammar (see the module docstring)."""
    text = text.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise SteeringError(f"the message is {len(text):,} characters; the limit is "
                            f"{MAX_NOTE_CHARS:,} (send a shorter one)")
    if not text.startswith("/"):
        return Steering(kind="note", text=text)
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise SteeringError(f"cannot read {text!r}: {error}") from None
    name, args = words[0].lower(), words[1:]
    if name == "/help":
        return Steering(kind="note", text="")
    if name not in COMMANDS:
        raise SteeringError(f"unknown command {name!r}; {usage()}")
    kind, form = COMMANDS[name]
    if kind == "stop":
        return Steering(kind="stop", text=text)
    if kind == "note":
        return Steering(kind="note", text=text.partition(" ")[2].strip())
    needs_slice = kind in ("pin_bucket", "forbid_bucket")
    needs_value = kind != "forbid_bucket"
    expected = 1 + needs_slice + needs_value
    if len(args) != expected:
        raise SteeringError(f"{name} takes {expected} argument(s): {form}")
    value = None
    if needs_value:
        try:
            value = float(args[-1])
        except ValueError:
            raise SteeringError(f"{name}: {args[-1]!r} is not a number ({form})") from None
    low, high = (1.0, 5.0) if kind == "score_floor" else (0.0, 1.0)
    if value is not None and not low <= value <= high:
        raise SteeringError(f"{name}: {value:g} is outside [{low:g}, {high:g}] ({form})")
    try:
        rule = Constraint(kind=cast(ConstraintKind, kind), objective=args[0],
                          slice=args[1] if needs_slice else None, value=value, origin=origin,
                          note=text)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise SteeringError(f"{name}: {error} ({form})") from None
    return Steering(kind="constraint", constraint=rule, text=text)


def interpret(text: str, *, settings: DiagnoserSettings, objectives: Mapping[str, Sequence[str]],
              origin: ConstraintOrigin = "chat", client: Any = None
              ) -> tuple[list[Steering], str]:
    """A message as steering, and a line saying how it was read.

    Commands (`/...`) go through the grammar. Free text goes to the LLM when an endpoint is
    configured: it answers with commands of the same grammar, each parsed like a typed one
    (so it can ask for nothing a person could not type), and the text itself is kept as a
    note whatever it answers. Without an endpoint, or when the LLM fails, free text is a
    note. Raises SteeringError only for a typed command that does not parse."""
    text = text.strip()
    if text.startswith("/") or not text or not settings.base_url or len(text) > MAX_NOTE_CHARS:
        return [parse_command(text, origin=origin)], ""
    note = Steering(kind="note", text=text)
    try:
        commands, explanation = _ask_llm(text, settings, objectives, client)
    except _Unreadable as why:
        return [note], f"kept as a note (the LLM could not read it: {why})"
    steerings: list[Steering] = []
    skipped: list[str] = []
    for command in commands:
        try:
            steering = parse_command(command, origin=origin)
        except SteeringError as error:
            skipped.append(f"{command} ({error})")
            continue
        if steering.kind == "constraint":
            quoted = text if len(text) <= 200 else text[:199] + "…"
            rule = steering.rule.model_copy(update={"note": f"{command} (from: {quoted})"})
            steerings.append(steering.model_copy(update={
                "constraint": rule, "text": command.strip(), "proposed": True}))
        elif steering.kind == "stop":  # ending a run is for a person to type, not to infer
            skipped.append(f"{command} (type /stop yourself to stop the run)")
        else:
            skipped.append(f"{command} (not a rule)")
    read = ", ".join(s.text for s in steerings) or "no rule"
    line = f"read as: {read}" + (f"; {explanation}" if explanation else "")
    if skipped:
        line += "; not used: " + "; ".join(skipped)
    return [note, *steerings], line


class _Unreadable(Exception):
    pass


def _ask_llm(text: str, settings: DiagnoserSettings, objectives: Mapping[str, Sequence[str]],
             client: Any) -> tuple[list[str], str]:
    messages = render_messages("steering.j2", usage=usage(), text=text,
                               objectives={k: list(v) for k, v in objectives.items()})
    # A person waits for this answer: a short timeout and one retry, whatever the
    # diagnoser's own patience is.
    client = client or client_for(settings.base_url or "", api_key_env=settings.api_key_env,
                                  timeout_s=min(settings.timeout_s, 30.0),
                                  max_retries=min(settings.max_retries, 1))
    try:
        completion = complete(client, model=settings.model, messages=messages,
                              temperature=0.0, max_tokens=300,
                              response_format={"type": "json_object"})
        answer = parse_json_object(message_text(completion.choices[0].message.content))
    except EndpointError as error:
        raise _Unreadable(error.error_type + (f", HTTP {error.status}"
                                              if error.status is not None else "")) from None
    except Exception as error:  # a reply without choices or message
        raise _Unreadable(type(error).__name__) from None
    commands = answer.get("commands") if answer else None
    if answer is None or not isinstance(commands, list) \
            or not all(isinstance(c, str) for c in commands):
        raise _Unreadable("no list of commands in the answer")
    return commands[:10], str(answer.get("explanation") or "")[:300]
