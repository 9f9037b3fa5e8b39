"""The typed records every part of mosaic exchanges.

They are plain pydantic models that serialise to JSON and back without loss
(`Model.model_validate_json(x.model_dump_json()) == x`), so they can live in graph state
(as `model_dump()` dicts), in run folders and in caches. This module imports nothing of ours.

Records check their *shape* only. Whether an action's ratios sum to 1, whether a slice
exists in an objective, whether a budget is feasible: those are judged by the validators
(`mosaic.tools.mixing.validate`), which report every problem instead of failing on the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

if TYPE_CHECKING:
    # Labels, attributes and metadata are free-form JSON (what a judge or a dataset says).
    # pydantic checks at run time that they are JSON; to the type checker they are Any, as
    # the recursive JSON union would need a narrowing at every read.
    Json = Any
else:
    Json = JsonValue

SCHEMA_VERSION = 1
"""Version stamped on saved documents (reports, manifests, round records)."""

Role = Literal["system", "user", "assistant"]

# Free text is bounded where it enters (an edited action, an LLM's answer, a chat message),
# so one enormous answer cannot be copied into every card, status, archive and checkpoint.
MAX_RATIONALE_CHARS = 4000
MAX_NOTE_CHARS = 2000
"""A chat message, a note, a reviewer's feedback, a rule's note."""
MAX_EVIDENCE_ITEMS = 20
MAX_SHORT_CHARS = 200
"""A name or a short remark: an evidence item's slice, metric and note."""


class Record(BaseModel):
    """Base configuration shared by all records: unknown fields are errors, no NaN/inf."""

    # Field docstrings become JSON Schema descriptions (what an LLM diagnoser reads).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True)


# ---------------------------------------------------------------------------------------
# Conversations


class Message(Record):
    """One chat message."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    role: Role
    """Who speaks: system, user or assistant."""
    content: str
    """The text of the message."""


def user_turns(messages: list[Message]) -> list[str]:
    """The user messages of a conversation, in order (what multi-turn replay keeps fixed)."""
    return [m.content for m in messages if m.role == "user"]


# ---------------------------------------------------------------------------------------
# Data: training pools and eval sets


class PoolRow(Record):
    """One training example of an objective's pool, with its pre-computed labels.

    Loaders fill `id`, `objective`, `messages`, `source` and whatever prompt-side
    `attributes` the source format states; pre-scoring (issue 4) fills `slice`, `quality`
    and the token counts.
    """

    id: str
    """Unique within the pool; stable across reloads of the same source."""
    objective: str
    """The objective whose pool this row belongs to (`xguard`, `orbench`, `ifeval`, ...)."""
    messages: list[Message]
    """The chat to train on; assistant turns are the targets."""
    slice: str | None = None
    """Prompt-side slice label used as sampling bucket, e.g. `complexity_3`; None until labelled."""
    attributes: dict[str, Json] = Field(default_factory=dict)
    """Prompt-side or pool-row attributes that focus keys match (pressure, category, ...)."""
    quality: float | None = None
    """L1 score (1..5) of this row's own gold response by the project's judges; None = unjudged."""
    tokens: int | None = Field(default=None, ge=0)
    """Templated tokens of the whole chat for the target model's chat template."""
    assistant_tokens: int | None = Field(default=None, ge=0)
    """Of `tokens`, those inside assistant turns (content + end-of-turn token)."""
    source: str = ""
    """The file or dataset id this row was read from."""


class PromptChannel(Record):
    """Prompt-side labels of a sample: what the input is (frozen once per eval item)."""

    valid: bool = True
    """False when the item does not belong to the benchmark (e.g. an OR-Bench prompt judged
    harmful); invalid items still count in the mean but carry no need."""
    slice: str
    """L1 slice label, e.g. `complexity_4`, `boundary_2`."""
    weight: int = Field(ge=0)
    """L1 integer weight of the item (how hard / important its slice is)."""
    l3: dict[str, Json] = Field(default_factory=dict)
    """Atomic items (0/1 flags or small integers) as judged or stated by the data."""
    l2: dict[str, Json] = Field(default_factory=dict)
    """Deterministic aggregates of `l3` (pressure, boundary level, complexity, ...)."""
    notes: list[str] = Field(default_factory=list)
    """What was coerced while reading `l3` (missing items, out-of-range values)."""


class ResponseChannel(Record):
    """Response-side judgement of one model reply (or replayed conversation)."""

    score: float | None
    """L1 score on the objective's 1..5 scale; None when the sample could not be scored."""
    l3: dict[str, Json] = Field(default_factory=dict)
    """Atomic items of the response, as judged or checked."""
    l2: dict[str, Json] = Field(default_factory=dict)
    """Deterministic aggregates of `l3` (safety, refusal type, r_strict, ...)."""
    diag: dict[str, Json] = Field(default_factory=dict)
    """Diagnostics that are neither items nor aggregates (e.g. failed constraint ids)."""
    error: str | None = None
    """Why the sample is unscored (judge failure, checker error); None when scored."""
    notes: list[str] = Field(default_factory=list)
    """What was coerced while reading `l3`."""

    @model_validator(mode="after")
    def _score_xor_error(self) -> ResponseChannel:
        if (self.score is None) == (self.error is None):
            raise ValueError("exactly one of `score` and `error` must be set")
        return self


class EvalItem(Record):
    """One frozen item of an objective's eval set."""

    id: str
    """Unique within the eval set."""
    objective: str
    """The objective this item measures."""
    messages: list[Message]
    """The prompt side: a single user message, or the fixed user turns of a multi-turn attack
    (assistant turns are produced by the model under test at replay time)."""
    meta: dict[str, Json] = Field(default_factory=dict)
    """Source-format facts needed to judge it (category, turns, instruction ids, kwargs)."""
    prompt: PromptChannel | None = None
    """Frozen prompt-side labels; None until labelled (labels never change afterwards)."""


class JudgedSample(Record):
    """One eval item after generation and judging: the uniform L1-L3 record."""

    id: str
    objective: str
    prompt: PromptChannel
    response: ResponseChannel
    replies: list[str] = Field(default_factory=list)
    """The model's reply at every turn (one entry for single-turn items)."""
    judge: str = ""
    """Which judge produced `response.l3` (id + template hash), for caching and provenance."""

    @property
    def scored(self) -> bool:
        return self.response.score is not None


# ---------------------------------------------------------------------------------------
# Reports


Reliability = Literal["low", "medium", "high"]


class SliceStats(Record):
    """Statistics of one slice of one objective in one evaluation."""

    slice: str
    n: int = Field(ge=0)
    """Scored samples in the slice."""
    n_unscored: int = Field(default=0, ge=0)
    """Samples of the slice that could not be scored (excluded from the mean, never zero-filled)."""
    mean: float | None
    """Mean L1 score over scored samples; None when n == 0."""
    ci_low: float | None = None
    """Lower end of the 95% interval of the mean (mosaic.stats.mean_interval)."""
    ci_high: float | None = None
    fail_rate: float | None = None
    """Share of scored samples that count as failures for the objective."""
    reliability: Reliability = "low"
    """How far to trust the slice mean: low n < 10, medium n < 30, else high."""


class PairedDelta(Record):
    """Mean difference (this evaluation - the other) over the items both scored, with its
    paired 95% interval (mosaic.stats.paired_interval); per objective or per slice."""

    n: int = Field(ge=0)
    """Items scored in both evaluations."""
    mean: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.ci_low is not None and (self.ci_low > 0 or (self.ci_high or 0) < 0)


class ObjectiveDelta(Record):
    """One objective of a paired comparison: the whole objective and each slice."""

    objective: str
    delta: PairedDelta
    slices: dict[str, PairedDelta] = Field(default_factory=dict)


class Rate(Record):
    """A standard metric as a proportion, `hits` of `n`, with its 95% Wilson interval
    (mosaic.stats.rate_interval); e.g. xguard's attack success rate."""

    hits: int = Field(ge=0)
    n: int = Field(ge=0)
    value: float | None
    """hits / n; None when n == 0."""
    ci_low: float | None = None
    ci_high: float | None = None


class ObjectiveReport(Record):
    """One objective's part of an evaluation."""

    objective: str
    mean: float | None
    """Plain mean of L1 scores over scored samples (the objective's coordinate in f)."""
    count: int = Field(ge=0)
    """Scored samples."""
    n_unscored: int = Field(default=0, ge=0)
    """Samples that could not be scored, reported instead of dropped."""
    ci_low: float | None = None
    ci_high: float | None = None
    histogram: dict[str, int] = Field(default_factory=dict)
    """Integer score -> count, keys as strings ("1".."5")."""
    slices: dict[str, SliceStats] = Field(default_factory=dict)
    first_leak_turn: dict[str, int] = Field(default_factory=dict)
    """Multi-turn objectives: turn number (1-based) -> samples whose first leak was there."""
    metrics: dict[str, Rate] = Field(default_factory=dict)
    """The objective's standard metrics beside the 1..5 scale (Objective.standard_metrics),
    e.g. xguard `attack_success_rate`, ifeval `prompt_level_strict_acc`."""


class EvalReport(Record):
    """A whole evaluation of one model (+ adapter) on several objectives."""

    version: int = SCHEMA_VERSION
    model: str
    """Base model spec or path."""
    adapter: str | None = None
    """Adapter path or content hash; None for the base model."""
    system_prompt: str | None = None
    """The eval system prompt used for every conversation (None = none injected)."""
    decoding: dict[str, Json] = Field(default_factory=dict)
    objectives: dict[str, ObjectiveReport] = Field(default_factory=dict)
    provenance: dict[str, Json] = Field(default_factory=dict)
    """What produced the numbers: generator, judge ids, objective versions, eval-set
    fingerprints (never URLs with credentials, never keys)."""
    created_at: str = ""
    """ISO-8601 UTC timestamp."""

    def f(self) -> dict[str, float | None]:
        """The objective vector: each objective's mean, in report order."""
        return {name: rep.mean for name, rep in self.objectives.items()}


# ---------------------------------------------------------------------------------------
# Actions and constraints


FocusValue = str | int


class FocusCriteria(Record):
    """Which rows of a bucket to prefer (include) or never use (exclude).

    Keys come from the objective's focus vocabulary (`mosaic objectives` lists them). Within
    one key the listed values are alternatives (OR). A range key takes `[lo, hi]` inclusive.
    """

    include: dict[str, list[FocusValue]] = Field(default_factory=dict)
    """Rows to fill first: a row is focus when it matches EVERY key here (AND across keys)."""
    exclude: dict[str, list[FocusValue]] = Field(default_factory=dict)
    """Rows never to train on: a row matching ANY key here is removed (OR across keys)."""


class ObjectivePlan(Record):
    """What an action asks of one objective's pool."""

    bucket_weights: dict[str, float] = Field(default_factory=dict)
    """Slice -> share of the objective's budget; empty means "as the pool comes"."""
    focus: FocusCriteria = Field(default_factory=FocusCriteria)
    focus_share: float = 0.5
    """Share of each bucket's budget filled with `focus.include` rows first."""


class Evidence(Record):
    """One number an action rests on."""

    objective: str = Field(max_length=MAX_SHORT_CHARS)
    slice: str | None = Field(default=None, max_length=MAX_SHORT_CHARS)
    metric: str = Field(max_length=MAX_SHORT_CHARS)
    """What was measured, e.g. `mean`, `fail_rate`, `ci_width`."""
    value: float
    note: str = Field(default="", max_length=MAX_SHORT_CHARS)


class DataAction(Record):
    """What a diagnoser (LLM, analyst or person) asks the next round to train on."""

    ratios: dict[str, float]
    """Objective -> share of the token budget; should be >= 0 and sum to 1."""
    objectives: dict[str, ObjectivePlan] = Field(default_factory=dict)
    """Per-objective bucket weights and focus; an objective left out is sampled as it comes."""
    rationale: str = Field(default="", max_length=MAX_RATIONALE_CHARS)
    """Why this action, in a few sentences."""
    evidence: list[Evidence] = Field(default_factory=list, max_length=MAX_EVIDENCE_ITEMS)
    """The slices and numbers the rationale rests on."""


def action_json_schema() -> dict[str, Any]:
    """The published JSON Schema of `DataAction` (what LLM diagnosers must emit)."""
    schema = DataAction.model_json_schema()
    schema["$id"] = "https://mosaic.invalid/schema/data-action.json"
    schema["title"] = "DataAction"
    return schema


ConstraintKind = Literal["min_share", "max_share", "pin_bucket", "forbid_bucket", "score_floor"]
ConstraintOrigin = Literal["config", "reviewer", "chat"]

_NEEDS_SLICE = {"pin_bucket", "forbid_bucket"}
_NEEDS_VALUE = {"min_share", "max_share", "pin_bucket", "score_floor"}


class Constraint(Record):
    """A rule every later action must satisfy.

    kinds:
      min_share / max_share  objective's share of the budget is >= / <= value
      pin_bucket             objective's bucket `slice` gets exactly weight `value`
      forbid_bucket          objective's bucket `slice` gets weight 0
      score_floor            objective's mean score must stay >= value (checked on results)
    """

    kind: ConstraintKind
    objective: str
    slice: str | None = None
    value: float | None = None
    origin: ConstraintOrigin = "config"
    """Who set it: the run config, a reviewer at approval time, or chat steering."""
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Constraint:
        problems = []
        if self.kind in _NEEDS_SLICE and not self.slice:
            problems.append(f"`{self.kind}` needs `slice`")
        if self.kind not in _NEEDS_SLICE and self.slice is not None:
            problems.append(f"`{self.kind}` takes no `slice`")
        if self.kind in _NEEDS_VALUE and self.value is None:
            problems.append(f"`{self.kind}` needs `value`")
        if self.kind not in _NEEDS_VALUE and self.value is not None:
            problems.append(f"`{self.kind}` takes no `value`")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def describe(self) -> str:
        """The rule as a sentence, for cards, status and reports."""
        match self.kind:
            case "min_share":
                return f"{self.objective} share of the budget >= {self.value:g}"
            case "max_share":
                return f"{self.objective} share of the budget <= {self.value:g}"
            case "pin_bucket":
                return f"{self.objective} bucket {self.slice} weight = {self.value:g}"
            case "forbid_bucket":
                return f"{self.objective} bucket {self.slice} is never sampled"
            case "score_floor":
                return f"{self.objective} mean score stays >= {self.value:g}"


# ---------------------------------------------------------------------------------------
# Validation of actions

Severity = Literal["error", "warning"]


class Problem(Record):
    """One thing wrong with an action (or, as a warning, with what the pools can give it)."""

    code: str
    """Stable machine-readable code, e.g. `ratios_sum`, `unknown_slice`, `bucket_too_small`."""
    path: str
    """Where in the action, e.g. `objectives.xguard.bucket_weights.complexity_9`."""
    message: str
    """The problem and its fix, as a sentence a person (or an LLM) can act on."""
    severity: Severity = "error"
    """`error`: the action must change; `warning`: worth knowing, the action stands."""


class ValidationReport(Record):
    """Every problem of one action, never just the first."""

    problems: list[Problem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def codes(self) -> set[str]:
        return {p.code for p in self.problems}

    def describe(self) -> str:
        """One line per problem, errors first; "valid" when there is none."""
        if not self.problems:
            return "valid"
        return "\n".join(f"{p.severity}: {p.path}: {p.message} [{p.code}]"
                         for p in self.errors + self.warnings)


class Change(Record):
    """One edit repair made to an action."""

    path: str
    """Where in the action, as in `Problem.path`."""
    before: Json = None
    after: Json = None
    reason: str


# ---------------------------------------------------------------------------------------
# Mixtures and rounds


RedistributionReason = Literal["exhausted", "gap", "received", "unplaced"]


class Redistribution(Record):
    """One bucket whose realised tokens differ from the budget the action gave it.

    A bucket that runs out of rows (`exhausted`) or keeps a remainder no row fits into
    (`gap`) gives its unused budget to the same objective's other buckets, then to the other
    objectives; those that took it are `received`. Budget nobody could use is `unplaced`.
    """

    objective: str
    """The bucket's objective; `*` for an `unplaced` entry (the run as a whole)."""
    bucket: str | None = None
    """None for an `unplaced` entry."""
    planned: int = Field(ge=0)
    """Tokens the action's ratios and bucket weights gave the bucket (`unplaced`: the
    budget nobody could use)."""
    realised: int = Field(ge=0)
    """Tokens of the bucket in the mixture."""
    reason: RedistributionReason
    note: str = ""


class MixtureManifest(Record):
    """What a built mixture holds and how it was made (written beside the mixture file)."""

    version: int = SCHEMA_VERSION
    action_hash: str
    seed: int
    budget: int = Field(ge=0)
    """Token budget asked for."""
    token_count: str
    """How tokens were counted, e.g. `templated:<model id>` (the base model's chat template)."""
    realised_tokens: int = Field(ge=0)
    assistant_tokens: int = Field(default=0, ge=0)
    tokens_by_objective: dict[str, int] = Field(default_factory=dict)
    tokens_by_bucket: dict[str, dict[str, int]] = Field(default_factory=dict)
    focus_tokens: dict[str, int] = Field(default_factory=dict)
    row_ids: dict[str, list[str]] = Field(default_factory=dict)
    """Objective -> ids of the pool rows taken (a row may repeat up to the repetition cap)."""
    pool_fingerprints: dict[str, str] = Field(default_factory=dict)
    bucket_budgets: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Objective -> bucket -> tokens the action planned for it (before redistribution)."""
    redistributed: list[Redistribution] = Field(default_factory=list)
    repetition_cap: int = Field(default=1, ge=1)
    """Most times one pool row may appear in the mixture."""
    min_quality: float | None = None
    """Rows whose gold quality is below this were not used (None: no quality filter)."""
    content_hash: str = ""
    """Hash of the mixture's ordered (objective, row id) list and the pools' fingerprints."""


class RoundRecord(Record):
    """Everything one round of the loop did and measured (round 0 is the base model)."""

    version: int = SCHEMA_VERSION
    round: int = Field(ge=0)
    action: DataAction | None = None
    """None for round 0 (the base model is evaluated as is)."""
    mixture_hash: str | None = None
    adapter: str | None = None
    means: dict[str, float | None] = Field(default_factory=dict)
    """The objective vector f of this round."""
    ci: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """Objective -> 95% interval of its mean (mosaic.stats.mean_interval)."""
    item_scores: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Objective -> item id -> L1 score of every scored item: what paired comparisons pair
    on (the front's dominance test). Empty in records written before it existed."""
    accepted: bool = False
    """Whether the point entered the Pareto front when it was added (see tools/pareto.py)."""
    hypervolume: float | None = None
    """Hypervolume of the front over rounds 0..this one (reference point 1 on every axis)."""
    breaches: list[str] = Field(default_factory=list)
    """score_floor Constraints this round's means break: such a round never enters the front."""
    diagnoser: str = ""
    """Who proposed the action: `analyst`, `llm:<model>`, `person`; empty for round 0."""
    budget: int | None = None
    """The token budget of this round's mixture."""
    tokens_by_objective: dict[str, int] = Field(default_factory=dict)
    """Templated tokens the mixture realised per objective."""
    report_path: str | None = None
    """The round's eval report, relative to the run folder."""
    seconds: dict[str, float] = Field(default_factory=dict)
    """Wall seconds of each step that ran in this round (0 when a cached result was reused)."""
    started_at: str = ""
    finished_at: str = ""
    notes: list[str] = Field(default_factory=list)
