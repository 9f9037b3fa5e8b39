"""Eval protocols: single-turn answering and multi-turn replay.

Multi-turn replay keeps the eval item's user turns fixed and carries the model's own
replies forward: turn t of an item is answered given the system prompt, the item's first
t user turns and the model's t-1 earlier replies. All items are advanced turn by turn
together, so every generate call is a full batch. A single-turn item is the one-turn case.

The eval system prompt is a setting (None = none injected); it is recorded in reports
because it changes what is measured (docs/reference.md §3.8: the paper's code silently injected
a Llama-2 safety prompt at eval but not at training time).
"""

from __future__ import annotations

from collections.abc import Sequence

from mosaic.schema import EvalItem, Message
from mosaic.tools.evaluation.generation import Decoding, Generator


def user_turns_of(item: EvalItem, *, multi_turn: bool) -> list[str]:
    """The user turns replayed for an item (only the first one for single-turn protocols)."""
    turns = [m.content for m in item.messages if m.role == "user"]
    return turns if multi_turn else turns[:1]


def replay(items: Sequence[EvalItem], generator: Generator, decoding: Decoding, *,
           multi_turn: bool, system_prompt: str | None = None, adapter: str | None = None,
           progress: bool = False) -> list[list[str]]:
    """Every item's replies, one per replayed user turn."""
    turns = [user_turns_of(item, multi_turn=multi_turn) for item in items]
    histories: list[list[Message]] = [
        [Message(role="system", content=system_prompt)] if system_prompt else [] for _ in items]
    replies: list[list[str]] = [[] for _ in items]
    for t in range(max((len(x) for x in turns), default=0)):
        active = [i for i, item_turns in enumerate(turns) if t < len(item_turns)]
        for i in active:
            histories[i].append(Message(role="user", content=turns[i][t]))
        answers = generator.generate([histories[i] for i in active], decoding, adapter=adapter,
                                     progress=progress)
        for i, answer in zip(active, answers, strict=True):
            histories[i].append(Message(role="assistant", content=answer))
            replies[i].append(answer)
    return replies

