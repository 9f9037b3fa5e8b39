"""What the loop's graph checkpoints between nodes: small plain data only.

The action is a dict (`DataAction.model_dump`), the mixture and adapter are cache keys, the
eval report a path; the heavy objects a step needs live in the run's context
(mosaic.loop.context), rebuilt from the run folder, never checkpointed.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict


class LoopState(TypedDict, total=False):
    """The graph's state: what one round has produced so far, and the archive."""

    round: int
    """The round in progress (0 is the base model)."""
    started_at: str
    action: dict[str, Any] | None
    """This round's DataAction (`model_dump`), once diagnosed; validated and approved later."""
    diagnoser: str
    """Who proposed the action: `analyst`, `llm:<model>`, `analyst (fallback)`, `person`."""
    validation: dict[str, Any] | None
    """The action's ValidationReport."""
    mixture_key: str | None
    adapter_key: str | None
    report_path: str | None
    """This round's eval report, relative to the run folder."""
    records: list[dict[str, Any]]
    """Every finished round's RoundRecord (`model_dump`): the archive."""
    stop_reason: str | None
    review: dict[str, Any] | None
    """The reviewer's last decision on this round's action (review mode)."""
    rejected: list[str]
    """Hashes of actions a reviewer rejected: never proposed again."""
    notes: list[str]
    """Reviewers' and chat notes, kept for the diagnoser and the report."""
    changes: list[dict[str, Any]]
    """What repair changed in this round's action at its last validation."""
    rules: list[dict[str, Any]]
    """The Constraints this round's action was validated against (the builder uses them)."""


class Checkpoint(NamedTuple):
    """Where a run's last checkpoint left it."""

    values: dict[str, Any]
    """The graph state (mosaic.loop.state.LoopState)."""
    next_nodes: tuple[str, ...]
    """The nodes due next; empty once the run has ended."""
    interrupts: list[Any]
    """What the run waits on: the approval request of a paused review-mode run."""
