"""Steering: a person's message becomes a typed Constraint, a stop, or a note.

The command grammar works offline, always:

    /min-share orbench 0.2          orbench gets at least 20% of the budget
    /max-share xguard 0.5           xguard gets at most half of it
    /pin xguard complexity_5 0.4    that bucket's weight is exactly 0.4
    /forbid ifeval complexity_1     that bucket is never sampled
    /floor ifeval 3.5               a round whose ifeval mean is below 3.5 never enters the front
    /stop                           stop after the current round
    /note anything                  kept with the run, shown to the diagnoser

Free text without a leading `/` is a note here; an LLM parser (when an endpoint is
configured) can turn it into the same typed messages. A command that does not parse is a
SteeringError naming the command and its expected form, never a silently dropped rule.
"""

from __future__ import annotations

import shlex
from typing import Literal

from mosaic.errors import MosaicError
from mosaic.schema import Constraint, ConstraintOrigin, Record


class SteeringError(MosaicError):
    """A steering command that does not parse; the message says the expected form."""


class Steering(Record):
    """What one message asks for."""

    kind: Literal["constraint", "stop", "note"]
    constraint: Constraint | None = None
    text: str = ""
    """The message as typed (the note itself, or the command that made the rule)."""


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
        rule = Constraint(kind=kind, objective=args[0],
                          slice=args[1] if needs_slice else None, value=value, origin=origin,
                          note=text)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise SteeringError(f"{name}: {error} ({form})") from None
    return Steering(kind="constraint", constraint=rule, text=text)
