"""Turn a public training set into a pre-scored pool file (`mosaic data score`).

    mosaic data score marslabucla/XGuard-Train --objective xguard \\
        --model meta-llama/Llama-3.1-8B-Instruct --out data/paper/xguard_pool.jsonl

Every row of the source goes through the same four steps, in batches:

1. read with the objective's training loader (`chat-sft` for xguard and orbench,
   `instruction-sft` for Tulu-style ifeval rows; `--format` picks another);
2. cut into windows of whole turns that fit `max_tokens` templated tokens of the model
   (`windows.window_conversation`: no overlap, each assistant turn trained once), and
   counted (total and assistant tokens) with the model's own chat template;
3. labelled on the prompt side by the judge, as an eval item would be: the slice and the
   L2 attributes the focus keys match (xguard pressure/concealment, orbench boundary
   level, ifeval instruction complexity);
4. given a `quality`: the judge's L1 score of the row's own gold replies (the IFEval
   checkers for ifeval).

What cannot be used is dropped with its reason (file, row, field where there is one) and
listed in `<out>.dropped.jsonl`: malformed rows (with `lenient`; strict reading stops on
them, naming each), rows with no reply, ifeval rows with no checkable constraint, prompts
outside the objective (an orbench prompt judged harmful), ids used twice, prompts the judge
could not label and gold replies it could not judge; when the judge could not answer at
all (a timeout, 5xx), the row is left out as `judge unavailable` and the next run of the
same command asks again. Exact duplicate rows are counted, not listed.

Resumable: each batch is appended to `<out>.partial.jsonl` as it finishes; a run killed
part-way continues after the last complete batch (the partial file's first line records
what it was scoring, and a different source, model or judge starts over). The LLM judge
caches its judgements too, so nothing paid for is asked twice. On success the pool is
written atomically, with `<out>.score.json` beside it: the source, the token count
(`templated:<model id>`, which lets a run keep the counts instead of recounting), the
judge, and rows, tokens and quality per slice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from mosaic.data.formats import LOADERS, LoadResult
from mosaic.data.pool_table import companion
from mosaic.data.sources import source_digest
from mosaic.data.tokens import count_tokens
from mosaic.data.windows import window_conversation
from mosaic.errors import ConfigError
from mosaic.objectives import Objective, get_objective
from mosaic.redact import redact
from mosaic.schema import EvalItem, PoolRow, PromptChannel
from mosaic.store import write_json_atomic, write_text_atomic
from mosaic.tools.evaluation.evaluate import JudgeError
from mosaic.tools.evaluation.judges import Judge

SCORER_VERSION = "1"
"""Bumped whenever scoring changes what it writes (a partial file of another version is
started over)."""
BATCH_ROWS = 64
"""Source rows per batch: the unit of progress saved for a resume."""
EVAL_ONLY_FORMATS = ("attacks", "overrefusal", "ifeval", "eval-items")
"""Loaders that give prompts without replies: nothing in them can be trained on."""
JUDGE_UNAVAILABLE = "judge unavailable"
"""The drop a later run retries: the judge could not answer (a timeout, 429 or 5xx after
its retries), which says nothing about the row. Rows it hit are left out of the partial
file, so the same command asks again. A judge that answered but could not be used (a
malformed answer, a refused item, no checker) is a drop like any other."""
ANSWERED = ("prompt outside the objective", "prompt not labelled", "gold reply not judged")
"""Drops that mean the judge did answer."""


@dataclass(frozen=True)
class Dropped:
    """One source row, or one window of it, left out of the pool, and why."""

    where: str
    """The file or dataset id."""
    row: int
    """0-based row index there."""
    reason: str
    """The kind of reason (a few fixed words, counted in the summary)."""
    detail: str = ""
    field: str = ""


@dataclass
class ScoreReport:
    """What a scoring run wrote and left out."""

    out: Path
    rows: list[PoolRow]
    dropped: list[Dropped]
    source_rows: int
    """Rows of the source that were scored (after `limit`)."""
    resumed_rows: int = 0
    """Of those, rows a killed earlier run had already scored."""
    duplicates: int = 0
    over_length: int = 0
    """Windows longer than `max_tokens` (a single turn that long): kept, the trainer cuts
    them to `train.max_example_tokens`."""
    retry_rows: int = 0
    """Source rows the judge failed on (left out now; the same command asks again)."""
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """Per slice: rows, tokens, mean quality; then what was dropped, by reason."""
        lines = [f"{len(self.rows):,} pool rows from {self.source_rows:,} source rows"
                 + (f" ({self.resumed_rows:,} scored by an earlier, interrupted run)"
                    if self.resumed_rows else "") + f" -> {self.out}"]
        lines.append(f"  {'slice':<16} {'rows':>7} {'tokens':>11} {'quality':>8} {'>=4':>6}")
        for name, facts in self.meta["slices"].items():
            lines.append(f"  {name:<16} {facts['rows']:>7,} {facts['tokens']:>11,} "
                         f"{facts['quality_mean']:>8.2f} {facts['quality_4_or_more']:>6.0%}")
        if self.over_length:
            lines.append(f"  {self.over_length:,} windows are longer than max_tokens (a single "
                         "turn that long): kept, the trainer cuts them")
        if self.retry_rows:
            lines.append(f"  the judge failed on {self.retry_rows:,} rows (left out): run the "
                         "same command again to ask for them again")
        reasons = Counter(d.reason for d in self.dropped)
        if self.duplicates:
            reasons["duplicate of an earlier row"] += self.duplicates
        if reasons:
            lines.append("  dropped: " + ", ".join(f"{n:,} {reason}" for reason, n in
                                                  reasons.most_common()))
        return "\n".join(lines)


def as_eval_item(row: PoolRow) -> EvalItem:
    """A pool row's prompt side as the eval item a judge labels and scores: its user turns,
    and (ifeval) the instructions its checks name."""
    meta: dict[str, Any] = {"turns": sum(m.role == "user" for m in row.messages)}
    if row.objective == "ifeval":
        checks = row.attributes.get("checks") or []
        meta = {"instruction_id_list": [c["id"] for c in checks],
                "kwargs": [c["kwargs"] for c in checks]}
    return EvalItem(id=row.id, objective=row.objective, meta=meta,
                    messages=[m for m in row.messages if m.role == "user"])


@dataclass(frozen=True)
class JudgeFailure:
    """Why a judgement is missing, and whether asking again later may help."""

    message: str
    transient: bool = False


def judge_gold(objective: Objective, items: Sequence[EvalItem], rows: Sequence[PoolRow],
               prompts: Sequence[PromptChannel], judge: Judge) -> list[float | JudgeFailure]:
    """The L1 score of each row's own assistant turns (as the replies to its eval item), or
    why it could not be judged."""
    replies = [[m.content for m in row.messages if m.role == "assistant"] for row in rows]
    out: list[float | JudgeFailure] = []
    for l3, prompt in zip(judge.response_l3(objective.name, items, replies), prompts,
                          strict=True):
        if "error" in l3:
            out.append(JudgeFailure(str(l3["error"]), bool(l3.get("transient"))))
            continue
        response = objective.score_response(l3, prompt)
        out.append(response.score if response.score is not None
                   else JudgeFailure(str(response.error)))
    return out


def _windows(row: PoolRow, tokenizer: Any, max_tokens: int) -> list[PoolRow]:
    """The row as windows of whole turns, each with its token counts; one window keeps the
    row's id, several get `<id>#w<k>` and say where they came from."""
    def count(messages: list[Any]) -> int:
        return count_tokens(tokenizer, [messages])[0].total

    windows = window_conversation(row.messages, max_tokens=max_tokens, count=count)
    counts = count_tokens(tokenizer, [w.messages for w in windows])
    out = []
    for k, (window, tokens) in enumerate(zip(windows, counts, strict=True)):
        attributes = {**row.attributes,
                      "turns": sum(m.role == "user" for m in window.messages)}
        if len(windows) > 1:
            attributes.update(source_id=row.id, window=k, windows=len(windows))
        out.append(row.model_copy(update={
            "id": row.id if len(windows) == 1 else f"{row.id}#w{k}",
            "messages": window.messages, "attributes": attributes,
            "tokens": tokens.total, "assistant_tokens": tokens.assistant}))
    return out


def score_batch(objective: Objective, rows: Sequence[PoolRow],
                origins: Sequence[tuple[str, int]], *, tokenizer: Any, judge: Judge,
                max_tokens: int) -> list[tuple[list[PoolRow], list[Dropped]]]:
    """Each source row's scored windows and what of it was dropped (steps 2-4 above)."""
    results: list[tuple[list[PoolRow], list[Dropped]]] = []
    todo: list[tuple[int, PoolRow]] = []  # (position in results, window)
    for row, (where, index) in zip(rows, origins, strict=True):
        results.append(([], []))
        if objective.name == "ifeval" and not row.attributes.get("checks"):
            unverifiable = "; ".join(u.get("reason", "") for u in
                                     row.attributes.get("unverifiable") or [])
            results[-1][1].append(Dropped(where, index, "no checkable constraint",
                                          unverifiable, "constraints"))
            continue
        windows = _windows(row, tokenizer, max_tokens)
        if not windows:
            results[-1][1].append(Dropped(where, index, "no reply to train on",
                                          "no user turn is followed by an assistant turn",
                                          "messages"))
        todo += [(len(results) - 1, w) for w in windows]
    if not todo:
        return results
    windows = [w for _, w in todo]
    items = [as_eval_item(w) for w in windows]
    l3s = judge.prompt_l3(objective.name, items)
    labelled = []
    for (position, window), item, l3 in zip(todo, items, l3s, strict=True):
        where, index = origins[position]
        if "error" in l3:
            reason = JUDGE_UNAVAILABLE if l3.get("transient") else "prompt not labelled"
            results[position][1].append(Dropped(where, index, reason,
                                                f"{window.id}: {l3['error']}"))
            continue
        prompt = objective.label_prompt(l3, turns=item.meta.get("turns", 1))
        if not prompt.valid:  # e.g. an orbench prompt judged harmful: not a boundary case
            results[position][1].append(Dropped(
                where, index, "prompt outside the objective",
                f"{window.id}: judged {json.dumps(prompt.l3, sort_keys=True)[:300]}"))
            continue
        labelled.append((position, window, item, prompt))
    qualities = judge_gold(objective, [x[2] for x in labelled], [x[1] for x in labelled],
                           [x[3] for x in labelled], judge)
    for (position, window, _, prompt), quality in zip(labelled, qualities, strict=True):
        where, index = origins[position]
        if isinstance(quality, JudgeFailure):
            reason = JUDGE_UNAVAILABLE if quality.transient else "gold reply not judged"
            results[position][1].append(Dropped(where, index, reason,
                                                f"{window.id}: {quality.message}"))
            continue
        results[position][0].append(window.model_copy(update={
            "slice": prompt.slice, "quality": quality,
            "attributes": {**window.attributes, **prompt.l2}}))
    return results


def scoring_key(source: str | Path, *, objective: Objective, fmt: str, split: str | None,
                config: str | None, token_count: str, judge: Judge, max_tokens: int,
                lenient: bool) -> dict[str, Any]:
    """Everything that decides what a scoring run writes: a partial file made under
    another key cannot be continued."""
    local = Path(source).expanduser()
    where = str(local.resolve()) if local.exists() else str(source)
    return {"scorer": SCORER_VERSION, "source": where, "digest": source_digest(source),
            "objective": f"{objective.name}@{objective.version}", "format": fmt,
            "split": split, "config": config, "token_count": token_count,
            "judge": judge.id, "label_judge": judge.label_id, "max_tokens": max_tokens,
            "lenient": lenient}


def _read_partial(path: Path, key: dict[str, Any]) -> dict[int, tuple[list[PoolRow],
                                                                      list[Dropped]]]:
    """The source rows an interrupted run finished (by position), if it scored the same
    thing; a torn last line (the kill came mid-write) is ignored."""
    done: dict[int, tuple[list[PoolRow], list[Dropped]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return done
    try:
        if not lines or json.loads(lines[0]).get("key") != key:
            return done
    except ValueError:
        return done
    for line in lines[1:]:
        try:
            record = json.loads(line)
            done[int(record["position"])] = (
                [PoolRow.model_validate(r) for r in record["rows"]],
                [Dropped(**d) for d in record["dropped"]])
        except (ValueError, KeyError, TypeError):
            break  # a torn line is the last one written
    return done


def _slice_facts(objective: Objective, rows: Sequence[PoolRow]) -> dict[str, dict[str, Any]]:
    facts = {}
    for name in [*objective.slices, None]:
        chosen = [r for r in rows if r.slice == name]
        if not chosen:
            continue
        qualities = [r.quality for r in chosen if r.quality is not None]
        facts[name or "(none)"] = {
            "rows": len(chosen), "tokens": sum(r.tokens or 0 for r in chosen),
            "quality_mean": round(sum(qualities) / len(qualities), 4) if qualities else 0.0,
            "quality_4_or_more": round(sum(q >= 4 for q in qualities) / len(chosen), 4)}
    return facts


def score_source(
    source: str | Path, *, objective: str, out: Path, tokenizer: Any, token_count: str,
    judge: Judge, fmt: str | None = None, split: str | None = None, config: str | None = None,
    max_tokens: int = 2048, limit: int | None = None, lenient: bool = False,
    restart: bool = False, progress: bool = True, batch_rows: int = BATCH_ROWS,
    say: Callable[[str], None] = lambda text: print(f"[mosaic] {text}", flush=True),
) -> ScoreReport:
    """Score every row of `source` (its first `limit`) into the pool file `out`; see the
    module docstring. `restart` throws away an interrupted run's partial file."""
    spec = get_objective(objective)
    fmt = fmt or spec.pool_format
    if fmt not in LOADERS:
        raise ConfigError(f"unknown format '{fmt}' (formats: {', '.join(LOADERS)})")
    if fmt in EVAL_ONLY_FORMATS:
        raise ConfigError(f"format '{fmt}' reads prompts without replies (an eval set), "
                          "so nothing in it can be trained on; a pool needs conversations "
                          "with assistant turns (chat-sft, instruction-sft or pool)")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    if max_tokens < 16:
        raise ConfigError(f"max_tokens must be at least 16, got {max_tokens}")
    out = Path(out)
    folder = Path(source).expanduser()
    if folder.is_dir() and out.expanduser().resolve().is_relative_to(folder.resolve()):
        raise ConfigError(f"--out {out} is inside the source folder {source}: the pool would "
                          "be read as source data by the next run; write it elsewhere")
    loader = cast("Callable[..., LoadResult[PoolRow]]", LOADERS[fmt])
    say(f"reading {source} as {fmt} rows of {objective}")
    loaded = loader(source, objective=objective, lenient=lenient, split=split, config=config)
    say(loaded.summary())
    rows, origins = loaded.rows[:limit], loaded.origins[:limit]
    key = scoring_key(source, objective=spec, fmt=fmt, split=split, config=config,
                      token_count=token_count, judge=judge, max_tokens=max_tokens,
                      lenient=lenient)
    partial = companion(out, "partial.jsonl")
    earlier = {} if restart else _read_partial(partial, key)
    out.parent.mkdir(parents=True, exist_ok=True)
    _start_partial(partial, key, earlier)  # rows past `limit` are kept for a later run
    done = {p: v for p, v in earlier.items() if p < len(rows)}
    if done:
        say(f"continuing an interrupted run: {len(done):,} of {len(rows):,} rows already "
            f"scored ({partial})")
    from tqdm.auto import tqdm

    bar = tqdm(total=len(rows), initial=len(done), disable=not progress, unit="row",
               desc=f"scoring {objective}")
    todo = [p for p in range(len(rows)) if p not in done]
    with partial.open("a", encoding="utf-8") as handle:
        for begin in range(0, len(todo), batch_rows):
            batch = todo[begin:begin + batch_rows]
            scored = score_batch(spec, [rows[p] for p in batch], [origins[p] for p in batch],
                                 tokenizer=tokenizer, judge=judge, max_tokens=max_tokens)
            _check_judge(scored, judge)
            for position, (kept, dropped) in zip(batch, scored, strict=True):
                done[position] = (kept, dropped)
                if not _retry(dropped):  # a judge failure is asked again by a rerun
                    handle.write(_record(position, kept, dropped) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            bar.update(len(batch))
    bar.close()
    return _finish(out, spec, rows, done, loaded, key=key, resumed=len(rows) - len(todo),
                   max_tokens=max_tokens)


def _record(position: int, kept: Sequence[PoolRow], dropped: Sequence[Dropped]) -> str:
    """One finished source row as a line of the partial file."""
    return json.dumps({"position": position, "rows": [r.model_dump(mode="json") for r in kept],
                       "dropped": [asdict(d) for d in dropped]}, ensure_ascii=False)


def _retry(dropped: Sequence[Dropped]) -> bool:
    return any(d.reason == JUDGE_UNAVAILABLE for d in dropped)


def _check_judge(scored: Sequence[tuple[list[PoolRow], list[Dropped]]], judge: Judge) -> None:
    """Stop when the judge answered nothing in a whole batch: an endpoint that is down
    would otherwise leave the pool empty row by row. What finished before is kept."""
    failed = [d for _, dropped in scored for d in dropped if d.reason == JUDGE_UNAVAILABLE]
    answered = sum(len(rows) for rows, _ in scored) + sum(
        d.reason in ANSWERED for _, dropped in scored for d in dropped)
    if len(failed) >= 8 and answered == 0:
        raise JudgeError(f"the judge ({judge.id}) failed on all {len(failed)} windows of a "
                         f"batch, e.g. {failed[0].detail}; check the endpoint, then run the "
                         "same command again: finished rows are kept, these are asked again")


def _start_partial(partial: Path, key: dict[str, Any],
                   done: dict[int, tuple[list[PoolRow], list[Dropped]]]) -> None:
    """The partial file holding `key` and exactly the rows kept from before (a torn line or
    rows of another key are gone from it)."""
    lines = [json.dumps({"key": key})]
    lines += [_record(position, *done[position]) for position in sorted(done)]
    write_text_atomic(partial, "\n".join(lines) + "\n")


def _finish(out: Path, spec: Objective, rows: Sequence[PoolRow],
            done: dict[int, tuple[list[PoolRow], list[Dropped]]], loaded: LoadResult[PoolRow],
            *, key: dict[str, Any], resumed: int, max_tokens: int) -> ScoreReport:
    dropped = [Dropped(p.source, p.row, "malformed", p.message, p.field)
               for p in loaded.skipped]
    kept, ids = [], set()
    for position in range(len(rows)):
        where, index = loaded.origins[position]
        for row in done[position][0]:
            if row.id in ids:  # e.g. a source id "x#w1" beside row "x"'s second window
                dropped.append(Dropped(where, index, "id used twice", row.id, "id"))
                continue
            ids.add(row.id)
            kept.append(row)
        dropped += done[position][1]
    over = sum((row.tokens or 0) > max_tokens for row in kept)
    text = "".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n"
                   for r in kept)
    meta = {**key, "rows": len(kept), "tokens": sum(r.tokens or 0 for r in kept),
            "source_rows": len(rows), "duplicates": loaded.duplicates,
            "dropped": dict(Counter(d.reason for d in dropped)),
            "over_length_windows": over, "slices": _slice_facts(spec, kept),
            # Of the bytes written: write_text_atomic masks any key in the text first.
            "pool_sha256": hashlib.sha256(redact(text).encode("utf-8")).hexdigest()}
    # The record goes first and comes back last: a kill in between leaves no record that
    # vouches for the token counts of a pool file it did not describe.
    companion(out, "score.json").unlink(missing_ok=True)
    write_text_atomic(out, text)
    write_text_atomic(companion(out, "dropped.jsonl"),
                      "".join(json.dumps(asdict(d), ensure_ascii=False) + "\n"
                              for d in dropped))
    write_json_atomic(companion(out, "score.json"), meta)  # last: the pool is complete
    retry = sum(_retry(done[position][1]) for position in range(len(rows)))
    if len(rows) == len(loaded.rows) and not retry:
        # Kept otherwise: a longer `limit`, or a rerun asking the judge again, continues it.
        companion(out, "partial.jsonl").unlink(missing_ok=True)
    return ScoreReport(out=out, rows=kept, dropped=dropped, source_rows=len(rows),
                       resumed_rows=resumed, duplicates=loaded.duplicates, over_length=over,
                       retry_rows=retry, meta=meta)
