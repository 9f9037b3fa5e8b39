"""The loop's verbs of the `mosaic` command: run, resume, status, report.

    mosaic run                                   the demo preset: baseline + 5 rounds on the CPU
    mosaic run --preset tiny --rounds 2 --out runs/tiny
    mosaic run --preset demo mixture.budget=6000 train.lr=1e-3 eval.per_slice=2
    mosaic resume runs/tiny                      continue after a crash or a kill
    mosaic status runs/tiny                      rounds so far, front, what runs now
    mosaic report runs/tiny                      (re)write report.md and report.html
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path


def _cmd_run(args: argparse.Namespace) -> int:
    from mosaic.api import run
    from mosaic.config import apply_overrides, load_preset

    overrides = list(args.overrides)
    if args.rounds is not None:
        overrides.append(f"loop.rounds={args.rounds}")
    if args.budget is not None:
        overrides.append(f"mixture.budget={args.budget}")
    config, lines = apply_overrides(load_preset(args.preset), overrides)
    print(f"[mosaic] preset {args.preset} (configs/{args.preset}.yaml)")
    for line in lines:
        print(f"[mosaic]   {line}")
    out = Path(args.out or f"runs/{args.preset}-{datetime.now():%Y%m%d-%H%M%S}")
    print(f"[mosaic] run folder {out}: model {config.model}, budget "
          f"{config.mixture.budget:,} tokens, {config.loop.rounds} rounds", flush=True)
    with _resumable(out):
        state = run(config, out)
    return _finished(out, state)


def _cmd_resume(args: argparse.Namespace) -> int:
    from mosaic.api import resume

    with _resumable(Path(args.run)):
        state = resume(args.run)
    return _finished(Path(args.run), state)


@contextlib.contextmanager
def _resumable(out: Path) -> Iterator[None]:
    """Say how to continue when a run stops on an error or Ctrl-C (nothing finished is lost:
    checkpoints and the artifact cache keep it)."""
    from mosaic.api import RunBusy
    from mosaic.errors import MosaicError

    try:
        yield
    except KeyboardInterrupt:
        print(f"\n[mosaic] interrupted; continue with `mosaic resume {out}`", file=sys.stderr)
        raise SystemExit(130) from None
    except RunBusy:
        raise
    except MosaicError:
        if (out / "config.json").is_file():
            print(f"[mosaic] the run stopped; fix the cause below and continue with "
                  f"`mosaic resume {out}`", file=sys.stderr)
        raise


def _finished(out: Path, state: dict) -> int:
    from mosaic.api import status

    print(status(out))
    print(f"[mosaic] {state.get('stop_reason') or 'stopped'}; report: {out}/report.html, "
          f"{out}/report.md")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from mosaic.api import status

    print(status(args.run))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from mosaic.api import report

    markdown, html = report(args.run)
    print(f"[mosaic] wrote {markdown} and {html}")
    return 0


def add_loop_commands(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="search for a mixture: evaluate the base model, then rounds of diagnose, "
        "validate, build, train, evaluate (the MOSAIC loop)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--preset", default="demo",
                     help="tiny | demo | paper, a YAML file in configs/ (default demo)")
    run.add_argument("--rounds", type=int, help="trained rounds after the base model "
                     "(= loop.rounds)")
    run.add_argument("--budget", type=int, help="tokens per round (= mixture.budget)")
    run.add_argument("--out", help="run folder (default runs/<preset>-<time>)")
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                     help="settings of the preset to change, e.g. train.lr=1e-3 "
                     "eval.per_slice=2 loop.patience=2 cache=/tmp/artifacts")
    run.set_defaults(func=_cmd_run)

    resume = commands.add_parser("resume", help="continue a run from its last checkpoint "
                                 "(finished steps are reused from the cache)")
    resume.add_argument("run", help="the run folder")
    resume.set_defaults(func=_cmd_resume)

    status = commands.add_parser("status", help="a run's rounds, front and current step")
    status.add_argument("run", help="the run folder")
    status.set_defaults(func=_cmd_status)

    report = commands.add_parser("report", help="write a run's report.md and report.html")
    report.add_argument("run", help="the run folder")
    report.set_defaults(func=_cmd_report)
