"""`mosaic objectives`, `mosaic schema`, `mosaic model prepare`, `mosaic data check|score|build`:
what mosaic knows (objectives, the action schema) and the models and data it reads."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mosaic.cli.steps import add_judge_arguments, judge_from
from mosaic.config import TrainSettings, load_preset
from mosaic.data.compose import STARTER_DIR
from mosaic.data.compose.build import TOKEN_MODEL, build_starter
from mosaic.data.formats import LOADERS, LoadResult
from mosaic.data.pool_table import companion
from mosaic.data.scoring import score_source
from mosaic.data.tokens import count_tokens
from mosaic.data.windows import window_conversation
from mosaic.errors import MosaicError
from mosaic.objectives import get_objective, objective_names
from mosaic.schema import action_json_schema
from mosaic.tools.mixing.action_schema import run_action_schema
from mosaic.tools.mixing.pools import token_count_id
from mosaic.train.models import load_model, load_tokenizer, resolve_model


def _cmd_objectives(args: argparse.Namespace) -> int:
    for name in objective_names():
        objective = get_objective(name)
        print(f"{objective.name} (v{objective.version}): {objective.description}")
        print(f"  slices:   {', '.join(objective.slices)}")
        print(f"  failure:  {objective.failure_rule}")
        print(f"  protocol: {'multi-turn replay' if objective.multi_turn else 'single turn'}")
        print("  focus keys:")
        for key in objective.focus_keys.values():
            domain = "open" if key.domain is None else (
                f"[{key.domain[0]}, {key.domain[1]}]" if key.kind == "range"
                else f"{len(key.domain)} values")
            print(f"    {key.name:<20} {key.kind:<6} {domain:<10} {key.description}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.preset:
        schema = run_action_schema(list(load_preset(args.preset).pools))
    else:
        schema = action_json_schema()
    text = json.dumps(schema, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _cmd_model_prepare(args: argparse.Namespace) -> int:
    resolved = resolve_model(args.spec, seed=args.seed)
    model, tokenizer = load_model(args.spec, seed=args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model     {resolved.spec} ({resolved.kind})")
    print(f"folder    {resolved.path}")
    print(f"id        {resolved.model_id}")
    print(f"class     {type(model).__name__}, {n_params / 1e6:.2f}M parameters, {model.dtype}")
    print(f"tokenizer vocab {len(tokenizer)}, eos {tokenizer.eos_token!r}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    loader: Callable[..., LoadResult[Any]] = LOADERS[args.kind]
    kwargs = {"lenient": args.lenient, "split": args.split, "config": args.config}
    if args.objective:
        kwargs["objective"] = args.objective
    elif args.kind in ("chat-sft", "pool", "eval-items"):
        raise MosaicError(f"`{args.kind}` needs --objective (which objective the rows "
                          "belong to)")
    result = loader(args.source, **kwargs)
    print(result.summary())
    for problem in result.skipped[:20]:
        print(f"  skipped: {problem}")
    for note in result.notes[:20]:
        print(f"  note: {note}")
    if len(result.notes) > 20:
        print(f"  ... {len(result.notes) - 20} more notes")
    if args.model and result.rows:
        _print_token_stats(result.rows, args.model, args.max_tokens)
    return 0


def _cmd_data_build(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else STARTER_DIR
    tokenizer = load_tokenizer(TOKEN_MODEL)
    build_starter(args.seed, out, tokenizer=tokenizer,
                  model_id=resolve_model(TOKEN_MODEL).model_id)
    print(f"[mosaic] wrote the starter data to {out} (manifest.json lists sizes and hashes)")
    return 0



def _cmd_data_score(args: argparse.Namespace) -> int:
    judge = judge_from(args)  # option problems first, before any model or data is read
    tokenizer = load_tokenizer(args.model)
    report = score_source(args.source, objective=args.objective, out=Path(args.out),
                          tokenizer=tokenizer, token_count=token_count_id(args.model),
                          judge=judge, fmt=args.format, split=args.split, config=args.config,
                          max_tokens=args.max_tokens, limit=args.limit, lenient=args.lenient,
                          restart=args.restart)
    print(report.summary())
    for dropped in report.dropped[:10]:
        field = f", field '{dropped.field}'" if dropped.field else ""
        print(f"  dropped: {dropped.where}, row {dropped.row}{field}: {dropped.reason}"
              + (f" ({dropped.detail})" if dropped.detail else ""))
    if len(report.dropped) > 10:
        print(f"  ... {len(report.dropped) - 10:,} more in "
              f"{companion(report.out, 'dropped.jsonl')}")
    print(f"[mosaic] wrote {report.out}, {companion(report.out, 'score.json').name} and "
          f"{companion(report.out, 'dropped.jsonl').name}; use it in a run config as "
          f"`pools.{args.objective}: {{path: {report.out}, format: pool}}`")
    return 0


def _print_token_stats(rows: list, model_spec: str, max_tokens: int) -> None:
    _, tokenizer = load_model(model_spec)
    counts = count_tokens(tokenizer, [row.messages for row in rows])
    totals = sorted(c.total for c in counts)
    assistant = sum(c.assistant for c in counts)
    print(f"tokens ({model_spec} chat template): total {sum(totals)}, assistant {assistant}, "
          f"median {totals[len(totals) // 2]}, max {totals[-1]}")
    too_long = [row for row, c in zip(rows, counts, strict=True) if c.total > max_tokens]
    if too_long:
        def count(messages):
            return count_tokens(tokenizer, [messages])[0].total

        n_windows = sum(len(window_conversation(r.messages, max_tokens=max_tokens, count=count))
                        for r in too_long)
        print(f"{len(too_long)} conversations exceed {max_tokens} tokens -> {n_windows} windows")


def add_data_commands(commands: argparse._SubParsersAction) -> None:
    objectives = commands.add_parser("objectives", help="list objectives, slices and focus keys")
    objectives.set_defaults(func=_cmd_objectives)

    schema = commands.add_parser("schema", help="print a published JSON Schema")
    schema.add_argument("what", choices=["action"], help="which schema")
    schema.add_argument("--preset", help="narrow the schema to this preset's objectives, "
                        "slices and focus keys (what a diagnoser should decode against)")
    schema.add_argument("--out", help="write to this file instead of stdout")
    schema.set_defaults(func=_cmd_schema)

    model = commands.add_parser("model", help="prepare and inspect model specs")
    model_commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    prepare = model_commands.add_parser(
        "prepare", help="build/convert a model spec into the cache and load it once")
    prepare.add_argument("spec", help="tiny | smollm2-135m-instruct | PATH | ORG/NAME")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the tiny model")
    prepare.set_defaults(func=_cmd_model_prepare)

    data = commands.add_parser("data", help="read and check datasets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = data_commands.add_parser("check", help="load a dataset with one of the loaders "
                                     "and report rows, problems and token counts")
    check.add_argument("kind", choices=["chat-sft", "attacks", "overrefusal",
                                        "instruction-sft", "ifeval", "pool", "eval-items"])
    check.add_argument("source", help="a .jsonl/.json/.parquet/.csv file, a folder, or a "
                       "Hugging Face dataset id")
    check.add_argument("--objective", help="objective the rows belong to (required for "
                       "chat-sft, pool, eval-items)")
    check.add_argument("--split", help="dataset split (hub ids and saved datasets)")
    check.add_argument("--config", help="dataset config name (hub ids)")
    check.add_argument("--lenient", action="store_true",
                       help="skip and count malformed rows instead of failing")
    check.add_argument("--model", help="count templated tokens with this model's chat template")
    check.add_argument("--max-tokens", type=int, default=4096,
                       help="window length for long conversations (default 4096)")
    check.set_defaults(func=_cmd_data_check)

    _add_score_command(data_commands)

    build = data_commands.add_parser(
        "build", help="compose the starter data (pools, eval and held-out sets) from a seed")
    build.add_argument("--seed", type=int, default=0, help="composition seed (default 0, "
                       "the seed of the shipped files)")
    build.add_argument("--out", help="output folder (default: the package's starter folder)")
    build.set_defaults(func=_cmd_data_build)


def _add_score_command(data_commands: argparse._SubParsersAction) -> None:
    score = data_commands.add_parser(
        "score", help="turn a public training set into a pre-scored pool file: windows, "
        "templated token counts, slice and L2 labels, and a quality score per row")
    score.add_argument("source", help="a .jsonl/.json/.parquet/.csv file, a folder, or a "
                       "Hugging Face dataset id already in the local cache")
    score.add_argument("--objective", required=True, choices=objective_names(),
                       help="the objective the rows train")
    score.add_argument("--out", required=True, help="the pool file to write (POOL.jsonl)")
    score.add_argument("--model", required=True, help="the base model whose chat template "
                       "counts the tokens (tiny | smollm2-135m-instruct | PATH | ORG/NAME)")
    score.add_argument("--format", choices=["chat-sft", "instruction-sft", "pool"],
                       help="loader of the source (default: chat-sft for xguard and "
                       "orbench, instruction-sft for ifeval)")
    score.add_argument("--split", help="dataset split (hub ids and saved datasets)")
    score.add_argument("--config", help="dataset config name (hub ids)")
    add_judge_arguments(score)
    score.add_argument("--max-tokens", type=int, default=TrainSettings().max_example_tokens,
                       help="window length in templated tokens (default %(default)s, the "
                       "trainer's train.max_example_tokens)")
    score.add_argument("--limit", type=int, help="score the first N rows of the source")
    score.add_argument("--lenient", action="store_true",
                       help="drop and list malformed rows instead of stopping on them")
    score.add_argument("--restart", action="store_true",
                       help="start over instead of continuing an interrupted run")
    score.set_defaults(func=_cmd_data_score)
