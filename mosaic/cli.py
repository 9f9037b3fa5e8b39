"""The `mosaic` command. Thin: parse, call the Python API, print. Heavy imports live inside
each command so `mosaic --help` loads no torch."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mosaic.cli_errors import DEBUG_ENV, run_reporting_errors
from mosaic.errors import MosaicError

EXAMPLES = """\
examples:
  mosaic run                                         the MOSAIC loop on the demo preset (CPU)
  mosaic run --preset tiny --rounds 2 --out runs/tiny train.lr=1e-3
  mosaic resume runs/tiny                            continue a killed or crashed run
  mosaic status runs/tiny                            rounds, front, current step
  mosaic report runs/tiny                            report.md + report.html
  mosaic objectives                                  slices, focus keys and rules of each objective
  mosaic schema action > data-action.schema.json     the JSON Schema every DataAction follows
  mosaic schema action --preset demo                 ... narrowed to the demo run's objectives
  mosaic model prepare smollm2-135m-instruct         convert the demo model once (~30 s)
  mosaic data check chat-sft data/xguard-train.jsonl --objective xguard --model tiny
  mosaic data check ifeval google/IFEval --split train --lenient
  mosaic data build --seed 0 --out /tmp/starter       recompose the starter data (docs/data.md)
  mosaic mix --action action.json --preset demo      build the mixture an action asks for
  mosaic mix --action action.json --budget 20000 --repair --out runs/mix
  mosaic train --mixture runs/mix --model smollm2-135m-instruct --out runs/lora
  mosaic train --mixture runs/mix --model tiny --lora-r 8 --lr 1e-3 --epochs 2
  mosaic eval --model smollm2-135m-instruct --limit 10 --out runs/eval-base
  mosaic eval --model smollm2-135m-instruct --per-slice 4    4 items of every slice
  mosaic eval --model smollm2-135m-instruct --heldout     on the starter held-out sets
  mosaic eval --model smollm2-135m-instruct --adapter runs/x/adapter --data orbench=or.csv
  mosaic eval --backend openai --base-url http://127.0.0.1:8000/v1 --model round3 \
      --judge llm --judge-base-url https://api.deepseek.com --judge-model deepseek-chat \
      --judge-api-key-env DEEPSEEK_API_KEY
"""


def _cmd_objectives(args: argparse.Namespace) -> int:
    from mosaic.objectives import get_objective, objective_names

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
    from mosaic.schema import action_json_schema

    if args.preset:
        from mosaic.config import load_preset
        from mosaic.tools.action_schema import run_action_schema

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
    from mosaic.train.models import load_model, resolve_model

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
    from mosaic.data.formats import LOADERS

    loader = LOADERS[args.kind]
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
    from mosaic.data.compose import STARTER_DIR
    from mosaic.data.compose.build import TOKEN_MODEL, build_starter
    from mosaic.train.models import load_tokenizer, resolve_model

    out = Path(args.out) if args.out else STARTER_DIR
    tokenizer = load_tokenizer(TOKEN_MODEL)
    build_starter(args.seed, out, tokenizer=tokenizer,
                  model_id=resolve_model(TOKEN_MODEL).model_id)
    print(f"[mosaic] wrote the starter data to {out} (manifest.json lists sizes and hashes)")
    return 0


def _cmd_mix(args: argparse.Namespace) -> int:
    from mosaic.config import load_preset
    from mosaic.data.mixture_files import describe_manifest, write_mixture
    from mosaic.store import write_text_atomic
    from mosaic.tools.mixture import build_mixture
    from mosaic.tools.pools import load_pools
    from mosaic.tools.repair import repair_action
    from mosaic.tools.validate import parse_action, validate_action

    config = load_preset(args.preset)
    updates = {k: v for k, v in (("budget", args.budget), ("seed", args.seed),
                                 ("repetition_cap", args.repetition_cap)) if v is not None}
    if updates:
        settings = config.mixture.model_validate({**config.mixture.model_dump(), **updates})
        config = config.model_copy(update={"mixture": settings})
    try:
        text = Path(args.action).read_text(encoding="utf-8")
    except OSError as error:
        raise MosaicError(f"cannot read the action file {args.action}: {error.strerror}"
                          ) from None
    action, report = parse_action(text)
    if action is None:
        print(f"{args.action} is not a DataAction:\n{report.describe()}", file=sys.stderr)
        return 2
    pools = load_pools(config)
    for name, table in pools.items():
        print(f"[mosaic] pool {name}: {len(table):,} rows, {int(table.tokens.sum()):,} tokens "
              f"({config.pools[name].path})", flush=True)
    report = validate_action(action, pools, config.mixture, config.constraints)
    if not report.ok and not args.repair:
        print(f"{args.action} cannot be built as it is:\n{report.describe()}\n"
              "(--repair builds the nearest valid action instead)", file=sys.stderr)
        return 2
    if not report.ok:
        repaired = repair_action(action, pools, config.mixture, config.constraints)
        for change in repaired.changes:
            print(f"repair: {change.path}: {json.dumps(change.before)} -> "
                  f"{json.dumps(change.after)} ({change.reason})")
        action, report = repaired.action, repaired.report
    for problem in report.problems:
        print(f"{problem.severity}: {problem.path}: {problem.message}")
    mixture = build_mixture(action, pools, config.mixture, config.constraints)
    out = Path(args.out or f"runs/mix-{mixture.manifest.content_hash}")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "action.json", action.model_dump_json(indent=2) + "\n")
    write_mixture(mixture, pools, out)  # its manifest, written last, marks the folder complete
    print(describe_manifest(mixture.manifest))
    print(f"[mosaic] wrote {out}/train.jsonl ({len(mixture)} rows), manifest.json, action.json")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from mosaic.config import TrainSettings
    from mosaic.train.sft import precision_for, train

    overrides = {k: v for k, v in (("lora_r", args.lora_r), ("lora_alpha", args.lora_alpha),
                                   ("lora_dropout", args.lora_dropout), ("lr", args.lr),
                                   ("epochs", args.epochs), ("pack_tokens", args.pack_tokens),
                                   ("precision", args.precision), ("seed", args.seed))
                 if v is not None}
    settings = TrainSettings(**overrides)  # a bad value fails before any model loads
    out = Path(args.out or f"{args.mixture.rstrip('/')}-lora")
    from mosaic.train.loop import is_main_process

    if is_main_process():
        print(f"[mosaic] training a LoRA on {args.mixture} from {args.model} "
              f"(r {settings.lora_r}, alpha {settings.lora_alpha}, lr {settings.lr:g}, "
              f"{settings.epochs:g} epoch(s), {precision_for(settings)} precision) -> {out}",
              flush=True)
    adapter = train(Path(args.mixture), args.model, settings, out)
    if not adapter.main_process:  # one report per run under `accelerate launch`
        return 0
    card = adapter.card
    print(f"[mosaic] {card['steps']} steps, {card['realised_tokens']:,} tokens "
          f"({card['trained_tokens']:,} targets) in {card['seconds']:.1f}s, "
          f"{card['tokens_per_second']:,.0f} tokens/s; loss {card['first_loss']:.3f} -> "
          f"{card['final_loss']:.3f}")
    print(f"[mosaic] wrote {out}/adapter_model.safetensors, mosaic_card.json, metrics.jsonl")
    return 0


def _print_token_stats(rows: list, model_spec: str, max_tokens: int) -> None:
    from mosaic.data.tokens import count_tokens
    from mosaic.data.windows import window_conversation
    from mosaic.train.models import load_model

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


def _cmd_eval(args: argparse.Namespace) -> int:
    from datetime import datetime

    from mosaic.objectives import get_objective
    from mosaic.tools.eval_sets import (
        DEFAULT_EVAL_SETS,
        HELDOUT_EVAL_SETS,
        STARTER_FORMAT,
        load_eval_set,
    )
    from mosaic.tools.evaluate import EvalSettings, evaluate
    from mosaic.tools.generation import Decoding, make_generator
    from mosaic.tools.judges import RuleJudge
    from mosaic.tools.report import markdown_summary, write_eval_outputs

    # Settings first: a bad value fails before any model or data is loaded.
    settings = EvalSettings(system_prompt=args.system_prompt, seed=args.seed,
                            decoding=Decoding(max_new_tokens=args.max_new_tokens,
                                              batch_size=args.batch_size))
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    sources: dict[str, str | Path] = dict(DEFAULT_EVAL_SETS)
    formats: dict[str, str | None] = dict.fromkeys(DEFAULT_EVAL_SETS, STARTER_FORMAT)
    if args.heldout:
        sources.update(HELDOUT_EVAL_SETS)
    for entry in args.data or []:
        name, _, path = entry.partition("=")
        if not path:
            raise MosaicError(f"--data takes OBJECTIVE=PATH, got {entry!r}")
        sources[name], formats[name] = path, None
    for name in objectives:
        get_objective(name)
        if name not in sources:
            raise MosaicError(f"no eval set for '{name}': pass --data {name}=PATH")
    if args.judge == "llm":
        from mosaic.tools.judges.llm import LLMJudge, LLMJudgeConfig

        if not (args.judge_base_url and args.judge_model):
            raise MosaicError("--judge llm needs --judge-base-url and --judge-model")
        judge = LLMJudge(LLMJudgeConfig(base_url=args.judge_base_url, model=args.judge_model,
                                        api_key_env=args.judge_api_key_env))
    else:
        judge = RuleJudge()
    eval_sets = {name: load_eval_set(name, sources[name], judge=judge, limit=args.limit,
                                     skip_unlabelled=args.skip_unlabelled,
                                     fmt=formats.get(name), per_slice=args.per_slice)
                 for name in objectives}
    print("[mosaic] eval sets: " + ", ".join(f"{n} {len(s)} items" for n, s in
                                              eval_sets.items()), flush=True)
    if args.backend != "transformers" and (args.engine != "auto" or args.dtype != "auto"):
        print(f"[mosaic] note: --engine and --dtype apply to the transformers backend only; "
              f"the {args.backend} backend ignores them", flush=True)
    generator = make_generator(args.backend, args.model, base_url=args.base_url,
                               api_key_env=args.api_key_env, seed=args.seed,
                               engine=args.engine, dtype=args.dtype)
    result = evaluate(eval_sets, generator, judge, settings, model=args.model,
                      adapter=args.adapter, progress=True)
    out = Path(args.out or f"runs/eval-{datetime.now():%Y%m%d-%H%M%S}")
    write_eval_outputs(out, result.report, result.samples)
    print(markdown_summary(result.report))
    failures = result.report.provenance.get("judge_failures")
    if failures:
        print(f"[mosaic] judge failures (samples left unscored): {failures}")
    print(f"[mosaic] wrote {out}/report.json, samples.jsonl, summary.md")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mosaic",
        description="Multi-objective, slice-aware curation of SFT data under a token budget.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback behind an "
                        f"error (or set {DEBUG_ENV}=1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from mosaic.cli_loop import add_loop_commands

    add_loop_commands(commands)

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

    build = data_commands.add_parser(
        "build", help="compose the starter data (pools, eval and held-out sets) from a seed")
    build.add_argument("--seed", type=int, default=0, help="composition seed (default 0, "
                       "the seed of the shipped files)")
    build.add_argument("--out", help="output folder (default: the package's starter folder)")
    build.set_defaults(func=_cmd_data_build)

    mix = commands.add_parser(
        "mix", help="validate a DataAction and build its token-budgeted mixture")
    mix.add_argument("--action", required=True, help="a DataAction JSON file "
                     "(`mosaic schema action` gives its schema)")
    mix.add_argument("--preset", default="demo", help="run preset from configs/: pools, "
                     "base model (its chat template counts the tokens), budget (default demo)")
    mix.add_argument("--budget", type=int, help="templated tokens (default: the preset's)")
    mix.add_argument("--seed", type=int, help="sampling seed (default: the preset's)")
    mix.add_argument("--repetition-cap", type=int,
                     help="most times a row may repeat (default: the preset's)")
    mix.add_argument("--repair", action="store_true",
                     help="build the nearest valid action when this one is not valid")
    mix.add_argument("--out", help="output folder (default runs/mix-<content hash>)")
    mix.set_defaults(func=_cmd_mix)

    tr = commands.add_parser("train", help="train a fresh LoRA on a mixture folder "
                             "(`mosaic mix --out`): adapter, card and metrics")
    tr.add_argument("--mixture", required=True, help="folder with train.jsonl + manifest.json")
    tr.add_argument("--model", required=True,
                    help="tiny | smollm2-135m-instruct | PATH | ORG/NAME (the base model)")
    tr.add_argument("--out", help="adapter folder (default: <mixture>-lora)")
    tr.add_argument("--lora-r", type=int, help="LoRA rank (default 16)")
    tr.add_argument("--lora-alpha", type=int, help="LoRA alpha (default 32)")
    tr.add_argument("--lora-dropout", type=float, help="LoRA dropout (default 0.05)")
    tr.add_argument("--lr", type=float, help="peak learning rate (default 2e-4)")
    tr.add_argument("--epochs", type=float, help="passes over the mixture (default 1)")
    tr.add_argument("--pack-tokens", type=int,
                    help="tokens per step, whole examples packed in one row (default 1024)")
    tr.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                    help="auto (default): bf16 where the hardware has it natively, else fp32")
    tr.add_argument("--seed", type=int, help="default 0")
    tr.set_defaults(func=_cmd_train)

    ev = commands.add_parser("eval", help="evaluate a model (+ adapter) on the objectives' "
                             "eval sets: report.json, samples.jsonl, summary.md")
    ev.add_argument("--model", required=True,
                    help="tiny | smollm2-135m-instruct | PATH | ORG/NAME (openai: served name)")
    ev.add_argument("--adapter", help="peft adapter folder (openai backend: served adapter name)")
    ev.add_argument("--objectives", default="xguard,orbench,ifeval",
                    help="comma-separated objectives (default: all three)")
    ev.add_argument("--data", action="append", metavar="OBJECTIVE=PATH",
                    help="eval set of an objective (file, folder or hub id, in the objective's "
                    "public format); defaults to the starter eval sets (docs/data.md)")
    ev.add_argument("--heldout", action="store_true",
                    help="use the starter held-out (generalisation) sets instead of the "
                    "starter eval sets")
    ev.add_argument("--limit", type=int, help="first N items of each eval set")
    ev.add_argument("--per-slice", type=int,
                    help="first N items of every slice of each eval set (a small eval that "
                    "still covers every slice)")
    ev.add_argument("--out", help="output folder (default runs/eval-<time>)")
    ev.add_argument("--backend", choices=["transformers", "openai", "vllm"],
                    default="transformers")
    ev.add_argument("--engine", choices=["auto", "decoder", "generate"], default="auto",
                    help="transformers backend: decoder (KV-cached, merged LoRA; Llama-family "
                    "models on the CPU), generate (transformers' model.generate), auto (the "
                    "decoder where it supports the model; default)")
    ev.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                    help="transformers backend: precision (auto: bfloat16 on a CPU with "
                    "native bf16, AVX512-BF16 or AMX, else float32; default)")
    ev.add_argument("--base-url", help="openai backend: the server's /v1 URL")
    ev.add_argument("--api-key-env", default="OPENAI_API_KEY",
                    help="NAME of the environment variable holding the API key")
    ev.add_argument("--judge", choices=["rules", "llm"], default="rules",
                    help="rules: offline pattern judges (default); llm: an OpenAI-compatible "
                    "judge model for xguard and orbench (IFEval always uses its checkers)")
    ev.add_argument("--judge-base-url")
    ev.add_argument("--judge-model")
    ev.add_argument("--judge-api-key-env", default="OPENAI_API_KEY")
    ev.add_argument("--skip-unlabelled", action="store_true",
                    help="leave out eval items whose prompts the judge cannot label (counted "
                    "in a warning) instead of stopping")
    ev.add_argument("--system-prompt", help="injected before every conversation (default none)")
    ev.add_argument("--max-new-tokens", type=int, default=256)
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=_cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mosaic.redact import install_on_console

    install_on_console()  # no key reaches the console, whatever route it took
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `mosaic chat RUN --yes "msg"`: argparse gives a list positional nothing after an
    # option; words left over go to the command's list (messages, overrides) if it has one.
    trailing = getattr(args, "trailing", None)
    if extra and trailing and not any(word.startswith("-") for word in extra):
        getattr(args, trailing).extend(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return run_reporting_errors(lambda: args.func(args), debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
