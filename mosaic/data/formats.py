"""Loaders for the public dataset formats mosaic trains and evaluates on.

Each loader reads a local file/folder or a Hugging Face id (see `sources.read_rows`) and
returns typed records:

| loader                     | format (real example)                          | gives      |
|----------------------------|------------------------------------------------|------------|
| load_chat_sft              | XGuard-Train: ShareGPT `conversations`         | PoolRow    |
|                            | [{from, value}] or OpenAI `messages`           |            |
| load_attack_set            | X-Teaming: {id, messages, metadata{turns}}     | EvalItem   |
| load_overrefusal_prompts   | OR-Bench: {prompt, category}                   | EvalItem   |
| load_instruction_sft       | Tulu-3 personas: {id, prompt, messages,        | PoolRow    |
|                            | constraints: [str]}                            |            |
| load_ifeval_prompts        | IFEval: {key, prompt, instruction_id_list,     | EvalItem   |
|                            | kwargs} (or Tulu-style `constraints`)          |            |
| load_pool                  | mosaic's own: one PoolRow per line             | PoolRow    |
| load_eval_items            | mosaic's own: one EvalItem per line (labels    | EvalItem   |
|                            | included, e.g. the starter eval sets)          |            |

Strict by default: every malformed row is collected and one `DataError` names each
(file, row, field). `lenient=True` skips bad rows instead and reports them in
`LoadResult.skipped`. A row identical to an earlier one (same id and content; a row
without an id is identified by its content) is dropped and counted.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from mosaic.data.ifeval_instructions import instruction_group, normalise_kwargs
from mosaic.data.sources import read_rows
from mosaic.data.tulu import map_constraints
from mosaic.errors import DataError, RowProblem
from mosaic.schema import EvalItem, Message, PoolRow, Role

T = TypeVar("T", PoolRow, EvalItem)

_SHAREGPT_ROLES: dict[str, Role] = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
    "chatgpt": "assistant", "bot": "assistant", "model": "assistant", "system": "system",
}


class BadRow(Exception):
    """Raised inside a row parser; becomes a RowProblem with the source and row index."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class LoadResult(Generic[T]):
    """What a loader read: the records, and what it skipped or dropped and why."""

    source: str
    rows: list[T]
    skipped: list[RowProblem] = field(default_factory=list)
    """Malformed rows skipped in lenient mode (empty in strict mode: those raise)."""
    duplicates: int = 0
    """Rows dropped because an identical row came earlier."""
    notes: list[str] = field(default_factory=list)
    """Row-level facts worth a look that did not stop a row (e.g. unverifiable constraints)."""
    origins: list[tuple[str, int]] = field(default_factory=list)
    """Where each of `rows` came from: (file or dataset id, 0-based row index)."""

    def summary(self) -> str:
        text = f"{len(self.rows)} rows from {self.source}"
        if self.skipped:
            text += f", {len(self.skipped)} malformed rows skipped"
        if self.duplicates:
            text += f", {self.duplicates} duplicates dropped"
        if self.notes:
            text += f", {len(self.notes)} notes"
        return text


# ---------------------------------------------------------------------------------------
# Row helpers


def _content_id(prefix: str, payload: Any) -> str:
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode())
    return f"{prefix}-{digest.hexdigest()[:16]}"


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRow(name, "missing or empty text" if value in (None, "") else
                     f"expected text, got {type(value).__name__}")
    return value


def parse_messages(row: Mapping[str, Any]) -> tuple[str, list[Message]]:
    """A conversation from OpenAI `messages` [{role, content}] or ShareGPT `conversations`
    [{from, value}]; returns the field it came from and the messages."""
    for name in ("messages", "conversations", "conversation"):
        if name in row and row[name] is not None:
            break
    else:
        raise BadRow("messages", "no 'messages' or 'conversations' field")
    raw = row[name]
    if isinstance(raw, str):  # CSV or stringified JSON
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise BadRow(name, "is text that is not a JSON list of messages") from None
    if not isinstance(raw, list) or not raw:
        raise BadRow(name, "must be a non-empty list of messages")
    messages = []
    for i, turn in enumerate(raw):
        where = f"{name}[{i}]"
        if not isinstance(turn, Mapping):
            raise BadRow(where, f"expected an object, got {type(turn).__name__}")
        if "role" in turn:
            role_key, content_key = "role", "content"
        elif "from" in turn:
            role_key, content_key = "from", "value"
        else:
            raise BadRow(where, "needs 'role'/'content' (OpenAI) or 'from'/'value' (ShareGPT)")
        role, content = turn[role_key], turn.get(content_key)
        mapped = _SHAREGPT_ROLES.get(str(role).strip().lower())
        if mapped is None:
            raise BadRow(f"{where}.{role_key}", f"unknown role {role!r}")
        if not isinstance(content, str):
            raise BadRow(f"{where}.{content_key}",
                         f"expected text, got {type(content).__name__}")
        messages.append(Message(role=mapped, content=content))
    return name, messages


def _check_chat(messages: list[Message], where: str) -> None:
    """A trainable chat: a user turn, then at least one assistant turn, none empty."""
    if not any(m.role == "user" for m in messages):
        raise BadRow(where, "has no user turn")
    if not any(m.role == "assistant" for m in messages):
        raise BadRow(where, "has no assistant turn to train on")
    for i, m in enumerate(messages):
        if m.role == "assistant" and not m.content.strip():
            raise BadRow(f"{where}[{i}].content", "assistant turn is empty")


def _load(
    source: str | Path,
    parse: Callable[[Mapping[str, Any], str, int], T],
    *,
    lenient: bool,
    split: str | None,
    config: str | None,
    notes: list[str] | None = None,
) -> LoadResult[T]:
    name = str(source)
    rows: list[T] = []
    origins: list[tuple[str, int]] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    duplicates = 0
    for where, index, raw in read_rows(source, split=split, config=config):
        if isinstance(raw, RowProblem):
            problems.append(raw)
            continue
        if not isinstance(raw, Mapping):
            problems.append(RowProblem(where, index, "", f"expected an object, got "
                                       f"{type(raw).__name__}"))
            continue
        try:
            record = parse(raw, where, index)
        except BadRow as bad:
            problems.append(RowProblem(where, index, bad.field, bad.message))
            continue
        if record.id in seen:
            earlier = rows[seen[record.id]]
            if earlier.model_dump(exclude={"source"}) == record.model_dump(exclude={"source"}):
                duplicates += 1
                continue
            problems.append(RowProblem(where, index, "id", f"id '{record.id}' is used by an "
                                       "earlier, different row"))
            continue
        seen[record.id] = len(rows)
        rows.append(record)
        origins.append((where, index))
    if problems and not lenient:
        raise DataError(problems, hint="Fix these rows, or pass lenient=True (--lenient) to "
                        "skip and count them.")
    return LoadResult(source=name, rows=rows, skipped=problems, duplicates=duplicates,
                      notes=notes or [], origins=origins)


def _row_id(raw: Mapping[str, Any], prefix: str, payload: Any) -> str:
    for key in ("id", "key", "_id", "uid"):
        if raw.get(key) not in (None, ""):
            return str(raw[key])
    metadata = raw.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("original_id") not in (None, ""):
        return str(metadata["original_id"])
    return _content_id(prefix, payload)


def _jsonable(value: Any) -> Any:
    """Row metadata as plain JSON (parquet/arrow may hold numpy scalars or tuples)."""
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------------------------------
# The loaders


def load_chat_sft(
    source: str | Path, *, objective: str, lenient: bool = False, split: str | None = None,
    config: str | None = None,
) -> LoadResult[PoolRow]:
    """Multi-turn chat SFT rows (XGuard-Train style, or any OpenAI/ShareGPT chat data)
    as pool rows of `objective`. A `category` column, if present, becomes an attribute."""

    def parse(raw: Mapping[str, Any], name: str, index: int) -> PoolRow:
        where, messages = parse_messages(raw)
        _check_chat(messages, where)
        attributes: dict[str, Any] = {"turns": sum(m.role == "user" for m in messages)}
        if isinstance(raw.get("category"), str):
            attributes["category"] = raw["category"]
        payload = [m.model_dump() for m in messages]
        return PoolRow(id=_row_id(raw, objective, payload), objective=objective,
                       messages=messages, attributes=attributes, source=name)

    return _load(source, parse, lenient=lenient, split=split, config=config)


def load_attack_set(
    source: str | Path, *, objective: str = "xguard", lenient: bool = False,
    split: str | None = None, config: str | None = None,
) -> LoadResult[EvalItem]:
    """Multi-turn attacks (X-Teaming style). Only the user turns are kept: at replay time
    the model under test answers each one and its own replies are carried forward.
    Turn count T = `metadata.turns` when given, else the number of user turns."""

    def parse(raw: Mapping[str, Any], name: str, index: int) -> EvalItem:
        where, messages = parse_messages(raw)
        users = [m for m in messages if m.role == "user"]
        if not users:
            raise BadRow(where, "has no user turn to replay")
        if any(not m.content.strip() for m in users):
            raise BadRow(where, "has an empty user turn")
        raw_metadata = raw.get("metadata")
        metadata = raw_metadata if isinstance(raw_metadata, Mapping) else {}
        turns = metadata.get("turns", len(users))
        if (isinstance(turns, bool) or not isinstance(turns, int | float)
                or not math.isfinite(turns) or turns < 1):
            raise BadRow("metadata.turns", f"must be a positive integer, got {turns!r}")
        meta: dict[str, Any] = {"turns": int(turns)}
        for key in ("category", "behavior", "strategy"):
            value = raw.get(key, metadata.get(key))
            if isinstance(value, str):
                meta[key] = value
        payload = [m.content for m in users]
        return EvalItem(id=_row_id(raw, objective, payload), objective=objective,
                        messages=users, meta=_jsonable(meta))

    return _load(source, parse, lenient=lenient, split=split, config=config)


def load_overrefusal_prompts(
    source: str | Path, *, objective: str = "orbench", lenient: bool = False,
    split: str | None = None, config: str | None = None,
) -> LoadResult[EvalItem]:
    """Benign boundary prompts (OR-Bench style: `prompt` + `category`, or a `messages`
    list whose first user turn is the prompt)."""

    def parse(raw: Mapping[str, Any], name: str, index: int) -> EvalItem:
        if "prompt" in raw:
            prompt = _text(raw, "prompt")
        else:
            where, messages = parse_messages(raw)
            users = [m.content for m in messages if m.role == "user"]
            if not users or not users[0].strip():
                raise BadRow(where, "has no user prompt")
            prompt = users[0]
        meta: dict[str, Any] = {}
        category = raw.get("category")
        if category is not None:
            if not isinstance(category, str):
                raise BadRow("category", f"expected text, got {type(category).__name__}")
            meta["category"] = category
        payload = [prompt, meta.get("category")]
        return EvalItem(id=_row_id(raw, objective, payload), objective=objective,
                        messages=[Message(role="user", content=prompt)], meta=meta)

    return _load(source, parse, lenient=lenient, split=split, config=config)


def load_instruction_sft(
    source: str | Path, *, objective: str = "ifeval", lenient: bool = False,
    split: str | None = None, config: str | None = None,
) -> LoadResult[PoolRow]:
    """Instruction-following SFT rows (Tulu-3 personas style). Constraint strings are
    mapped to IFEval ids; kwargs are read from the prompt where they can be found.

    Attributes: `instruction_ids` (every mapped id), `instruction_groups`, `checks` (the
    (id, kwargs) pairs that can be checked), `unverifiable` (constraint + reason) and
    `constraints` (the original strings).
    """
    notes: list[str] = []

    def parse(raw: Mapping[str, Any], name: str, index: int) -> PoolRow:
        where, messages = parse_messages(raw)
        _check_chat(messages, where)
        constraints = raw.get("constraints")
        if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
            raise BadRow("constraints", f"expected a list of constraint strings, got "
                         f"{type(constraints).__name__}")
        raw_prompt = raw.get("prompt")
        prompt = raw_prompt if isinstance(raw_prompt, str) else next(
            m.content for m in messages if m.role == "user")
        mapped = map_constraints(constraints, prompt)
        for item in mapped.unverifiable:
            notes.append(f"{name}, row {index}: constraint {item['constraint']!r} not "
                         f"checkable: {item['reason']}")
        attributes = {
            "instruction_ids": mapped.instruction_ids,
            "instruction_groups": sorted({instruction_group(i) for i in mapped.instruction_ids}),
            "checks": [{"id": i, "kwargs": k} for i, k in mapped.checks],
            "unverifiable": mapped.unverifiable,
            "constraints": list(constraints),
        }
        payload = [m.model_dump() for m in messages]
        return PoolRow(id=_row_id(raw, objective, payload), objective=objective,
                       messages=messages, attributes=_jsonable(attributes), source=name)

    return _load(source, parse, lenient=lenient, split=split, config=config, notes=notes)


def load_ifeval_prompts(
    source: str | Path, *, objective: str = "ifeval", lenient: bool = False,
    split: str | None = None, config: str | None = None,
) -> LoadResult[EvalItem]:
    """IFEval prompts: {key, prompt, instruction_id_list, kwargs} (Google's format; the
    Hugging Face copy's null kwargs are dropped), or {key, prompt, constraints} with Tulu
    strings. Every kept instruction has complete kwargs; an item with no checkable
    instruction is malformed (it would score 5 whatever the model says)."""
    notes: list[str] = []

    def parse(raw: Mapping[str, Any], name: str, index: int) -> EvalItem:
        prompt = _text(raw, "prompt")
        unverifiable: list[dict[str, str]] = []
        if "instruction_id_list" in raw:
            ids = raw["instruction_id_list"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise BadRow("instruction_id_list", "expected a list of instruction ids")
            kwargs = raw.get("kwargs") if raw.get("kwargs") is not None else [{}] * len(ids)
            if not isinstance(kwargs, list) or len(kwargs) != len(ids):
                raise BadRow("kwargs", f"expected a list of {len(ids)} objects (one per "
                             "instruction)")
            checks = []
            for i, (instruction_id, given) in enumerate(zip(ids, kwargs, strict=True)):
                if given is not None and not isinstance(given, Mapping):
                    raise BadRow(f"kwargs[{i}]", "expected an object")
                given = dict(given or {})
                if (instruction_id == "combination:repeat_prompt"
                        and given.get("prompt_to_repeat") is None):
                    # As the reference does: the text to repeat is the whole prompt.
                    given["prompt_to_repeat"] = prompt
                    notes.append(f"{name}, row {index}: repeat_prompt without prompt_to_repeat; "
                                 "the whole prompt is used")
                clean, problems = normalise_kwargs(instruction_id, given)
                if problems:
                    raise BadRow(f"kwargs[{i}]", "; ".join(problems))
                checks.append((instruction_id, clean))
        elif "constraints" in raw:
            constraints = raw["constraints"]
            if not isinstance(constraints, list) or not all(isinstance(c, str)
                                                            for c in constraints):
                raise BadRow("constraints", "expected a list of constraint strings")
            mapped = map_constraints(constraints, prompt)
            checks, unverifiable = mapped.checks, mapped.unverifiable
            for item in unverifiable:
                notes.append(f"{name}, row {index}: constraint {item['constraint']!r} dropped: "
                             f"{item['reason']}")
        else:
            raise BadRow("instruction_id_list", "needs 'instruction_id_list' + 'kwargs' or "
                         "Tulu-style 'constraints'")
        if not checks:
            raise BadRow("instruction_id_list", "no checkable instruction")
        meta = {
            "instruction_id_list": [i for i, _ in checks],
            "kwargs": [k for _, k in checks],
        }
        if unverifiable:
            meta["unverifiable"] = unverifiable
        return EvalItem(id=_row_id(raw, objective, prompt), objective=objective,
                        messages=[Message(role="user", content=prompt)], meta=_jsonable(meta))

    return _load(source, parse, lenient=lenient, split=split, config=config, notes=notes)


def _load_records(source: str | Path, model: type[T], objective: str, *, lenient: bool,
                  split: str | None, config: str | None) -> LoadResult[T]:
    def parse(raw: Mapping[str, Any], name: str, index: int) -> T:
        try:
            record = model.model_validate(dict(raw))
        except ValueError as error:  # pydantic's ValidationError: name the first field
            errors: list[Any] = getattr(error, "errors", lambda: [])()
            where = ".".join(map(str, errors[0]["loc"])) if errors else ""
            raise BadRow(where, errors[0]["msg"] if errors else str(error)) from None
        if record.objective != objective:
            raise BadRow("objective", f"row belongs to '{record.objective}', not '{objective}'")
        return record

    return _load(source, parse, lenient=lenient, split=split, config=config)


def load_pool(source: str | Path, *, objective: str, lenient: bool = False,
              split: str | None = None, config: str | None = None) -> LoadResult[PoolRow]:
    """mosaic's own pool format: one `PoolRow` per line, pre-scored (the starter pools)."""
    return _load_records(source, PoolRow, objective, lenient=lenient, split=split,
                         config=config)


def load_eval_items(source: str | Path, *, objective: str, lenient: bool = False,
                    split: str | None = None, config: str | None = None
                    ) -> LoadResult[EvalItem]:
    """mosaic's own eval-set format: one `EvalItem` per line. Items that carry `prompt`
    labels keep them (labels stated by the data are never re-judged)."""
    return _load_records(source, EvalItem, objective, lenient=lenient, split=split,
                         config=config)


LOADERS: dict[str, Callable[..., LoadResult[Any]]] = {
    "chat-sft": load_chat_sft,
    "attacks": load_attack_set,
    "overrefusal": load_overrefusal_prompts,
    "instruction-sft": load_instruction_sft,
    "ifeval": load_ifeval_prompts,
    "pool": load_pool,
    "eval-items": load_eval_items,
}
"""Loader names as the CLI (`mosaic data check KIND SOURCE`) knows them."""
