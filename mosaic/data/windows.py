"""Split long multi-turn conversations into windows that fit a maximum length.

A *turn* is a user message and everything after it up to the next user message. Windows
are runs of whole turns (never cut inside one), and every window repeats the
conversation's system messages.

Stride: windows do not overlap (stride = the window itself). Each assistant turn is
therefore trained exactly once. The reference slid a window forward two user turns at a
time (docs/reference.md §2.1, §3.3): a long dialogue turned into many near-duplicate windows,
each sampled independently, so it took far more than its share of the budget, and the
per-window weight meant to correct that was clamped to 1 and did nothing. The price of
no overlap is that a later window starts mid-dialogue without the earlier turns; a
conversation that fits is never split.

A single turn longer than the limit becomes its own window flagged `over_length`; the
caller decides whether to drop it or let the trainer truncate it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mosaic.schema import Message

CountFn = Callable[[list[Message]], int]
"""Templated token count of a list of messages (e.g. via `tokens.count_tokens`)."""


@dataclass(frozen=True)
class Window:
    messages: list[Message]
    first_turn: int
    """Index of the window's first turn in the conversation."""
    n_turns: int
    tokens: int
    over_length: bool = False


def split_turns(messages: Sequence[Message]) -> tuple[list[Message], list[list[Message]]]:
    """(system messages, turns). Anything before the first user message other than system
    messages (a greeting by the assistant) is kept with the first turn."""
    system = [m for m in messages if m.role == "system"]
    turns: list[list[Message]] = []
    lead: list[Message] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "user":
            turns.append([*lead, m])
            lead = []
        elif turns:
            turns[-1].append(m)
        else:
            lead.append(m)
    if lead:
        turns.append(lead)
    return system, turns


def window_conversation(messages: Sequence[Message], *, max_tokens: int,
                        count: CountFn) -> list[Window]:
    """Non-overlapping windows of whole turns, each within `max_tokens` where possible.

    Calls `count` about turns + windows times: each turn's cost is measured once from the
    full conversation's prefixes, plus once what a window costs on top of its turns (the
    system messages and any template header, such as a default system prompt). Windows are
    packed on that estimate, then measured exactly and shrunk by a turn in the rare case
    the template made them longer. Trailing turns with no assistant message are dropped:
    they have nothing to train.
    """
    messages = list(messages)
    system, turns = split_turns(messages)
    while turns and not any(m.role == "assistant" for m in turns[-1]):
        turns.pop()
    trimmed = system + [m for turn in turns for m in turn]
    if not turns:
        return []
    total = count(trimmed)
    if total <= max_tokens:
        return [Window(trimmed, 0, len(turns), total)]
    # Cost of each turn = growth of the templated length when the turn is appended.
    prefix_lengths, running = [], list(system)
    for turn in turns:
        running = running + turn
        prefix_lengths.append(count(running))
    costs = [b - a for a, b in zip([0, *prefix_lengths[:-1]], prefix_lengths, strict=True)]

    # What a window pays besides its turns, measured on a window starting at turn 1.
    overhead = count(system + turns[1]) - costs[1] if len(turns) > 1 else 0

    windows: list[Window] = []
    start = 0
    while start < len(turns):
        used = overhead + costs[start] if start else costs[0]
        end = start + 1
        while end < len(turns) and used + costs[end] <= max_tokens:
            used += costs[end]
            end += 1
        while True:
            body = system + [m for turn in turns[start:end] for m in turn]
            exact = count(body)
            if exact <= max_tokens or end - start == 1:
                break
            end -= 1
        windows.append(Window(body, start, end - start, exact, over_length=exact > max_tokens))
        start = end
    return windows
