"""The `mosaic` command. Thin: parse, call the Python API, print. One module per verb group:

    loop    run, resume, approve, chat, status, compare, report   (mosaic.loop)
    data    objectives, schema, model prepare, data check|build
    steps   mix, train, eval: one step of the loop by hand
    errors  how a failure reaches the person: one line, an exit code, --debug

mosaic's modules import torch, transformers and the like inside the functions that need
them, and the loop's verbs import mosaic.loop (LangGraph) when they run, so `mosaic --help`
loads none of them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mosaic.cli.data import add_data_commands
from mosaic.cli.errors import DEBUG_ENV, run_reporting_errors
from mosaic.cli.loop import add_loop_commands
from mosaic.cli.steps import add_step_commands
from mosaic.redact import install_on_console

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

    add_loop_commands(commands)
    add_data_commands(commands)
    add_step_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
