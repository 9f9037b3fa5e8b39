"""The token-budgeted mixture builder: a valid DataAction + pools -> the rows to train on.

    mixture = build_mixture(action, pools, MixSettings(budget=40_000, seed=0))
    write_mixture(mixture, pools, Path("runs/mix"))   # mosaic.data.mixture_files

How the budget is spent (docs/reference.md §4.2):

1. Objective budget = ratio x budget; bucket budget = bucket weight x objective budget
   (an objective without bucket weights is sampled as its pool comes: each bucket's share
   of the usable tokens). Usable rows are labelled, pass the quality bar and are not
   excluded.
2. In each bucket, rows are shuffled with a seed derived from (seed, objective, bucket).
   Focus rows (`include`) are taken first, up to `focus_share` of the bucket budget, then
   the other rows, then focus rows left over; with a repetition cap k > 1, k - 1 more
   shuffled copies of the bucket follow. Taking is first-fit: walk the order and take a row
   whenever it still fits (the reference's sampler, §3.3), computed with array operations,
   one pass per skipped row, not one Python step per row.
3. Budget a bucket could not use (its rows ran out, or no remaining row fits the
   remainder) goes to the same objective's other weighted buckets, in proportion to their
   weights, then to the other objectives' buckets, in proportion to ratio x weight. Buckets
   and objectives the action gave 0 never receive any. What nobody can use is reported as
   unplaced. The total never exceeds the budget.
4. The mixture is shuffled once more (seeded), and its manifest records row ids, realised
   tokens per objective, bucket and focus, every redistribution, the pools' fingerprints and
   a content hash.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mosaic.config import MixSettings
from mosaic.data.mixture_files import Mixture
from mosaic.data.pool_table import PoolTable
from mosaic.errors import ActionError, ConfigError
from mosaic.schema import (
    Constraint,
    DataAction,
    MixtureManifest,
    ObjectivePlan,
    Redistribution,
)
from mosaic.tools.mixing.capacity import (
    TOLERANCE,
    bucket_rules,
    capacity,
    focus_rows,
    natural_weights,
    normalised,
    share_bounds,
    usable_rows,
)
from mosaic.tools.mixing.validate import validate_action

MAX_SPREAD_ROUNDS = 8
"""Proportional redistribution rounds before the last sequential top-up."""


TAKEN = np.iinfo(np.int64).max
"""Token count written over a queue entry once taken, so no capacity ever fits it again."""
FIRST_WINDOW = 256
"""Queue entries first-fit looks at before widening its window (doubling each time)."""


def first_fit(tokens: np.ndarray, capacity: int) -> np.ndarray:
    """The items a first-fit walk takes: go through `tokens` in order and take an item
    whenever it still fits in what is left of `capacity`. Returns their indices, ascending.

    Each loop iteration takes the longest run (of the items that fit at all) that fits,
    then resumes right after the first item that did not: one iteration per skip, not per
    item. It looks at a window of the queue that doubles whenever it is used up, so a
    small capacity costs a short scan, not a pass over the whole queue.
    """
    taken = []
    left, start, window, n = int(capacity), 0, FIRST_WINDOW, len(tokens)
    while left > 0 and start < n:
        end = min(n, start + window)
        fits = start + np.flatnonzero(tokens[start:end] <= left)
        if len(fits):
            running = np.cumsum(tokens[fits])
            k = int(np.searchsorted(running, left, side="right"))  # k >= 1: fits[0] fits
            taken.append(fits[:k])
            left -= int(running[k - 1])
            if k < len(fits):
                start = int(fits[k]) + 1
                continue
        start, window = end, window * 2
    return np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)


@dataclass
class _Bucket:
    """One (objective, bucket) stratum being filled."""

    objective: str
    name: str
    weight: float
    """Its share of the objective's budget (the action's bucket weight)."""
    planned: int
    queue: np.ndarray
    """Row indices in the order first-fit walks them (a row may recur: repetition cap)."""
    queue_tokens: np.ndarray
    """Tokens of each queue entry; TAKEN once taken."""
    picked: list[np.ndarray] = field(default_factory=list)
    used: int = 0
    head: int = 0
    """Every queue entry before `head` is taken."""
    taken: int = 0
    """Queue entries taken so far."""

    def exhausted(self) -> bool:
        return self.taken == len(self.queue)

    def take(self, room: int) -> int:
        """Take queue entries into at most `room` more tokens; returns the tokens taken."""
        return self.take_from(self.head, len(self.queue), room)

    def take_from(self, start: int, end: int, room: int) -> int:
        """`take`, walking only queue entries start..end (the focus phase walks the focus
        rows alone)."""
        if room <= 0 or start >= end:
            return 0
        index = start + first_fit(self.queue_tokens[start:end], room)
        if not len(index):
            return 0
        gained = int(self.queue_tokens[index].sum())
        self.picked.append(self.queue[index])
        self.queue_tokens[index] = TAKEN
        self.taken += len(index)
        self.used += gained
        self._advance_head(len(index) + 1)
        return gained

    def _advance_head(self, window: int) -> None:
        """Move `head` past the taken entries at the front, a window at a time."""
        while self.head < len(self.queue):
            alive = np.flatnonzero(self.queue_tokens[self.head:self.head + window] != TAKEN)
            if len(alive):
                self.head += int(alive[0])
                return
            self.head += window
            window *= 2
        self.head = len(self.queue)

    def rows(self) -> np.ndarray:
        return np.concatenate(self.picked) if self.picked else np.zeros(0, dtype=np.int64)


def _rng(seed: int, *names: str) -> np.random.Generator:
    # crc32 is stable across processes (unlike hash()), so streams depend only on names.
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def action_hash(action: DataAction) -> str:
    """Hash of what an action asks for (rationale and evidence do not change a mixture)."""
    plan = action.model_dump(mode="json", exclude={"rationale", "evidence"})
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]


def _fill_bucket(table: PoolTable, name: str, weight: float, planned: int, rows: np.ndarray,
                 focus: np.ndarray | None, focus_room: int, settings: MixSettings) -> _Bucket:
    """Shuffle a bucket's rows, take focus rows up to `focus_room`, then fill to `planned`.

    The queue is the other rows, then the focus rows (each in shuffled order), then, with a
    repetition cap k, k - 1 reshuffled copies. The focus phase walks the focus rows alone;
    the rest walks the whole queue, so focus rows left over come after the other rows (the
    reference's phases 2 and 3).
    """
    rng = _rng(settings.seed, table.objective, name)
    rng.shuffle(rows)  # `rows` is the caller's fresh array
    tokens = np.asarray(table.tokens[rows], dtype=np.int64)
    focus_start = len(rows)
    if focus is not None:
        in_focus = focus[rows]
        others = np.flatnonzero(~in_focus)
        order = np.concatenate([others, np.flatnonzero(in_focus)])  # others, then focus rows
        rows, tokens = rows[order], tokens[order]
        focus_start = len(others)
    queue, queue_tokens = [rows], [tokens]
    for _ in range(settings.repetition_cap - 1):
        order = rng.permutation(len(rows))
        queue.append(rows[order])
        queue_tokens.append(tokens[order])
    bucket = _Bucket(table.objective, name, weight, planned,
                     np.concatenate(queue) if len(queue) > 1 else queue[0],
                     np.concatenate(queue_tokens) if len(queue) > 1 else queue_tokens[0])
    if focus_start < len(rows):
        bucket.take_from(focus_start, len(rows), focus_room)
    bucket.take(planned - bucket.used)
    return bucket


def _buckets(table: PoolTable, plan: ObjectivePlan | None, objective_budget: int,
             settings: MixSettings) -> list[_Bucket]:
    usable = usable_rows(table, plan, settings)
    weights = normalised(plan.bucket_weights if plan and plan.bucket_weights
                         else natural_weights(capacity(table, plan, settings)))
    share = plan.focus_share if plan else 0.0
    focus = focus_rows(table, plan, usable) if share > 0 else None
    if focus is not None and not focus.any():
        focus = None
    buckets = []
    for code, name in enumerate(table.slice_names):
        weight = weights.get(name, 0.0)
        if weight <= TOLERANCE:  # a weight within the validator's tolerance of 0 is 0
            continue
        rows = table.by_slice[table.slice_starts[code]:table.slice_starts[code + 1]]
        planned = int(weight * objective_budget)
        buckets.append(_fill_bucket(table, name, weight, planned, rows[usable[rows]], focus,
                                    int(share * planned), settings))
    return buckets


@dataclass
class _Receiver:
    bucket: _Bucket
    weight: float


def _spread(spare: int, receivers: Sequence[_Receiver], room: dict[str, float]) -> int:
    """Give `spare` tokens of budget to buckets in proportion to their weights, never past
    an objective's `room` (what its max_share still allows); returns what none could use."""
    receivers = [r for r in receivers if r.weight > TOLERANCE]

    def offer(r: _Receiver, tokens: int) -> int:
        gained = r.bucket.take(int(min(tokens, room[r.bucket.objective])))
        room[r.bucket.objective] -= gained
        return gained

    for _ in range(MAX_SPREAD_ROUNDS):
        active = [r for r in receivers if not r.bucket.exhausted()
                  and room[r.bucket.objective] > 0]
        if spare <= 0 or not active:
            return max(spare, 0)
        total = sum(r.weight for r in active)
        gained = sum(offer(r, int(spare * r.weight / total)) for r in active)
        spare -= gained
        if gained == 0:
            break
    # Shares too small for any remaining row: offer the whole remainder to each in turn.
    for receiver in sorted(receivers, key=lambda r: -r.weight):
        if spare <= 0:
            break
        spare -= offer(receiver, spare)
    return max(spare, 0)


def build_mixture(action: DataAction, pools: Mapping[str, PoolTable], settings: MixSettings,
                  constraints: Sequence[Constraint] = ()) -> Mixture:
    """The mixture a valid action asks for; an ActionError (with the report) otherwise.

    Redistribution keeps to the Constraints: no objective grows past its max_share, and
    pinned buckets keep their budget (they neither give nor take)."""
    report = validate_action(action, pools, settings, constraints)
    if not report.ok:
        raise ActionError("the action is not valid for this run:\n" + report.describe(), report)
    budget = settings.budget
    names = tuple(pools)
    # Shares are renormalised so that rounding inside the validator's tolerance can never
    # push the sum of budgets past the budget.
    ratios = normalised({n: action.ratios.get(n, 0.0) for n in names})
    # ... and never past a max_share, even by the validator's tolerance.
    objective_budget = {n: int(min(ratios[n], share_bounds(constraints, n)[1]) * budget)
                        for n in names}
    buckets = {n: (_buckets(pools[n], action.objectives.get(n), objective_budget[n], settings)
                   if objective_budget[n] > 0 else []) for n in names}
    room = {n: share_bounds(constraints, n)[1] * budget for n in names}
    for name in names:
        room[name] -= sum(b.used for b in buckets[name])

    def receivers(weight_of) -> list[_Receiver]:
        return [_Receiver(b, weight_of(n, b)) for n in names for b in buckets[n]
                if b.name not in bucket_rules(constraints, n)[0]]  # pinned buckets keep theirs

    for name in names:  # an objective's unused budget: first to its own buckets
        spare = objective_budget[name] - sum(b.used for b in buckets[name])
        _spread(spare, [r for r in receivers(lambda n, b: b.weight)
                        if r.bucket.objective == name], room)
    spare = budget - sum(b.used for bs in buckets.values() for b in bs)
    unplaced = _spread(spare, receivers(lambda n, b: ratios[n] * b.weight), room)
    return _assemble(action, pools, settings, names, buckets, unplaced)


def _assemble(action: DataAction, pools: Mapping[str, PoolTable], settings: MixSettings,
              names: tuple[str, ...], buckets: Mapping[str, list[_Bucket]], unplaced: int
              ) -> Mixture:
    picked = {n: (np.concatenate([b.rows() for b in buckets[n]]) if buckets[n]
                  else np.zeros(0, dtype=np.int64)) for n in names}
    objective_index = np.concatenate([np.full(len(picked[n]), i, dtype=np.int32)
                                      for i, n in enumerate(names)])
    row_index = np.concatenate([picked[n] for n in names]).astype(np.int64)
    order = _rng(settings.seed, "mixture-order").permutation(len(row_index))
    objective_index, row_index = objective_index[order], row_index[order]

    row_ids, focus_tokens, assistant = {}, {}, 0
    keys = np.empty(len(row_index), dtype=object)  # "objective<TAB>id" per row, in order
    for i, name in enumerate(names):
        mine = objective_index == i
        table, rows = pools[name], row_index[mine]
        keys[mine] = name + "\t" + table.ids[rows]
        row_ids[name] = table.ids[rows].tolist()
        assistant += int(table.assistant_tokens[rows].sum())
        plan = action.objectives.get(name)
        focus = focus_rows(table, plan, usable_rows(table, plan, settings))
        focus_tokens[name] = int(table.tokens[rows[focus[rows]]].sum())
    tokens_by_bucket = {n: {b.name: b.used for b in buckets[n]} for n in names}
    digest = hashlib.sha256()
    for name in names:
        digest.update(f"{name}\0{pools[name].fingerprint}\0".encode())
    digest.update("\n".join(keys.tolist()).encode())
    manifest = MixtureManifest(
        action_hash=action_hash(action), seed=settings.seed, budget=settings.budget,
        token_count=_token_count(pools), realised_tokens=sum(b.used for bs in buckets.values()
                                                            for b in bs),
        assistant_tokens=assistant,
        tokens_by_objective={n: sum(b.used for b in buckets[n]) for n in names},
        tokens_by_bucket=tokens_by_bucket, focus_tokens=focus_tokens, row_ids=row_ids,
        pool_fingerprints={n: pools[n].fingerprint for n in names},
        bucket_budgets={n: {b.name: b.planned for b in buckets[n]} for n in names},
        redistributed=_redistributions(buckets, unplaced, names),
        repetition_cap=settings.repetition_cap, min_quality=settings.min_quality,
        content_hash=digest.hexdigest()[:16])
    return Mixture(manifest, names, objective_index, row_index)


def _token_count(pools: Mapping[str, PoolTable]) -> str:
    counts = {t.token_count for t in pools.values()}
    if len(counts) != 1:
        raise ConfigError(f"pools were counted with different templates: {sorted(counts)}; "
                          "recount them for the run's base model")
    return counts.pop()


def _redistributions(buckets: Mapping[str, list[_Bucket]], unplaced: int,
                     names: Sequence[str]) -> list[Redistribution]:
    out = []
    for name in names:
        for b in buckets[name]:
            if b.used > b.planned:
                out.append(Redistribution(objective=name, bucket=b.name, planned=b.planned,
                                          realised=b.used, reason="received"))
            elif b.used < b.planned:
                exhausted = b.exhausted()
                out.append(Redistribution(
                    objective=name, bucket=b.name, planned=b.planned, realised=b.used,
                    reason="exhausted" if exhausted else "gap",
                    note="all usable rows taken" if exhausted
                    else "no remaining row fits the remainder"))
    if unplaced:
        out.append(Redistribution(objective="*", planned=unplaced, realised=0,
                                  reason="unplaced",
                                  note="budget no usable row of any objective could take"))
    return out
