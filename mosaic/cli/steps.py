"""`mosaic mix`, `mosaic train`, `mosaic eval`: one step of the loop by hand, on files a person
names (an action, a mixture folder, a model and an adapter)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mosaic.config import EvalSource, TrainSettings, load_preset
from mosaic.data.mixture_files import describe_manifest, write_mixture
from mosaic.errors import MosaicError
from mosaic.objectives import get_objective
from mosaic.store import write_text_atomic
from mosaic.tools.evaluation.eval_sets import (
    DEFAULT_EVAL_SETS,
    HELDOUT_EVAL_SETS,
    STARTER_FORMAT,
    load_eval_set,
)
from mosaic.tools.evaluation.evaluate import EvalConditions, evaluate
from mosaic.tools.evaluation.generation import Decoding, make_generator
from mosaic.tools.evaluation.judges import Judge, RuleJudge
from mosaic.tools.evaluation.judges.llm import LLMJudge, LLMJudgeConfig
from mosaic.tools.evaluation.report import markdown_summary, write_eval_outputs
from mosaic.tools.mixing.builder import build_mixture
from mosaic.tools.mixing.pools import load_pools
from mosaic.tools.mixing.repair import repair_action
from mosaic.tools.mixing.validate import parse_action, validate_action
from mosaic.train.loop import is_main_process
from mosaic.train.sft import AdapterCard, loss_text, precision_for, train


def _cmd_mix(args: argparse.Namespace) -> int:
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
    overrides = {k: v for k, v in (("lora_r", args.lora_r), ("lora_alpha", args.lora_alpha),
                                   ("lora_dropout", args.lora_dropout), ("lr", args.lr),
                                   ("epochs", args.epochs), ("pack_tokens", args.pack_tokens),
                                   ("precision", args.precision), ("seed", args.seed),
                                   ("processes", args.processes))
                 if v is not None}
    base: dict[str, object] = {}
    if args.settings:  # what the loop's training step hands a launched run
        try:
            base = json.loads(Path(args.settings).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise MosaicError(f"cannot read the settings file {args.settings}: {error}"
                              ) from None
    settings = TrainSettings.model_validate({**base, **overrides})  # fails before any load
    out = Path(args.out or f"{args.mixture.rstrip('/')}-lora")

    if is_main_process():
        print(f"[mosaic] training a LoRA on {args.mixture} from {args.model} "
              f"(r {settings.lora_r}, alpha {settings.lora_alpha}, lr {settings.lr:g}, "
              f"{settings.epochs:g} epoch(s), {precision_for(settings)} precision) -> {out}",
              flush=True)
    adapter = train(Path(args.mixture), args.model, settings, out, progress=not args.quiet)
    if not adapter.main_process:  # one report per run under `accelerate launch`
        return 0
    card = AdapterCard.model_validate(adapter.card)
    print(f"[mosaic] {card.steps} steps, {card.realised_tokens:,} tokens "
          f"({card.trained_tokens:,} targets) in {card.seconds:.1f}s, "
          f"{card.tokens_per_second:,.0f} tokens/s; {loss_text(card)}")
    print(f"[mosaic] wrote {out}/adapter_model.safetensors, mosaic_card.json, metrics.jsonl")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from datetime import datetime


    # Settings first: a bad value fails before any model or data is loaded.
    settings = EvalConditions(system_prompt=args.system_prompt, seed=args.seed,
                              decoding=Decoding(max_new_tokens=args.max_new_tokens,
                                                batch_size=args.batch_size))
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    sources: dict[str, str | Path] = dict(DEFAULT_EVAL_SETS)
    formats: dict[str, str | None] = dict.fromkeys(DEFAULT_EVAL_SETS, STARTER_FORMAT)
    if args.heldout:
        sources.update(HELDOUT_EVAL_SETS)
    named: dict[str, EvalSource] = {}
    for entry in args.data or []:
        name, _, value = entry.partition("=")
        if not value:
            raise MosaicError(f"--data takes OBJECTIVE=PATH, got {entry!r}")
        named[name] = _eval_source(name, value)
        sources[name], formats[name] = named[name].path, named[name].format
    for name in objectives:
        get_objective(name)
        if name not in sources:
            raise MosaicError(f"no eval set for '{name}': pass --data {name}=PATH")
    judge = judge_from(args)
    eval_sets = {name: load_eval_set(name, sources[name], judge=judge, limit=args.limit,
                                     skip_unlabelled=args.skip_unlabelled,
                                     fmt=formats.get(name), per_slice=args.per_slice,
                                     split=named[name].split if name in named else None,
                                     config=named[name].config if name in named else None)
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



def _eval_source(name: str, value: str) -> EvalSource:
    """`--data`'s value: a path, or a YAML mapping as in a run config's `eval.data`
    (`{path: data/raw/or-bench, config: or-bench-hard-1k}`)."""
    import yaml

    if not value.strip().startswith("{"):
        return EvalSource(path=value)
    try:
        return EvalSource.model_validate(yaml.safe_load(value))
    except (yaml.YAMLError, ValueError) as error:
        raise MosaicError(f"--data {name}=...: not an eval set ({{path, format, split, "
                          f"config}}): {str(error).splitlines()[0]}") from None


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", choices=["rules", "llm"], default="rules",
                        help="rules: offline pattern judges (default); llm: an "
                        "OpenAI-compatible judge model for xguard and orbench (IFEval always "
                        "uses its checkers)")
    parser.add_argument("--judge-base-url", help="--judge llm: the endpoint's /v1 URL")
    parser.add_argument("--judge-model", help="--judge llm: the model it serves")
    parser.add_argument("--judge-api-key-env", default="OPENAI_API_KEY",
                        help="NAME of the environment variable holding the judge's key")


def judge_from(args: argparse.Namespace) -> Judge:
    """The judge `add_judge_arguments`' options name."""
    if args.judge != "llm":
        return RuleJudge()
    if not (args.judge_base_url and args.judge_model):
        raise MosaicError("--judge llm needs --judge-base-url and --judge-model")
    return LLMJudge(LLMJudgeConfig(base_url=args.judge_base_url, model=args.judge_model,
                                   api_key_env=args.judge_api_key_env))


def add_step_commands(commands: argparse._SubParsersAction) -> None:
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
    tr.add_argument("--processes", type=int, help="train in N processes under torchrun, one "
                    "per GPU (default 1; or launch this command with torchrun yourself)")
    tr.add_argument("--settings", help="a TrainSettings JSON file (the flags above override "
                    "it)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
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
                    "public format), or a mapping '{path: P, format: F, split: S, config: C}'"
                    "; defaults to the starter eval sets (docs/data.md)")
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
    add_judge_arguments(ev)
    ev.add_argument("--skip-unlabelled", action="store_true",
                    help="leave out eval items whose prompts the judge cannot label (counted "
                    "in a warning) instead of stopping")
    ev.add_argument("--system-prompt", help="injected before every conversation (default none)")
    ev.add_argument("--max-new-tokens", type=int, default=256)
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=_cmd_eval)

