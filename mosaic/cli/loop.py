"""The loop's verbs of the `mosaic` command: run, resume, status, report.

    mosaic run                                   the demo preset: baseline + 5 rounds on the CPU
    mosaic run --preset tiny --rounds 2 --out runs/tiny
    mosaic run --preset demo mixture.budget=6000 train.lr=1e-3 eval.per_slice=2
    mosaic resume runs/tiny                      continue after a crash or a kill
    mosaic status runs/tiny                      rounds so far, front, what runs now
    mosaic report runs/tiny                      (re)write report.md and report.html
    mosaic run --preset tiny --review --out runs/r   a person approves every action
    mosaic approve runs/r                        approve the action the run waits on
    mosaic approve runs/r --edit action.json     ... or replace it (re-validated first)
    mosaic approve runs/r --reject "too much xguard"
    mosaic chat runs/r "/min-share orbench 0.2"  steer: rules, /stop, notes (/help)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

from mosaic.agents.steering import usage
from mosaic.config import apply_overrides, load_preset
from mosaic.errors import MosaicError


def _loop() -> ModuleType:
    """mosaic.loop, imported when a command drives or reads a run: it brings LangGraph
    (about a second), which `mosaic --help` and the other commands need not pay for."""
    import mosaic.loop

    return mosaic.loop


def _cmd_run(args: argparse.Namespace) -> int:
    loop = _loop()

    overrides = list(args.overrides)
    if args.rounds is not None:
        overrides.append(f"loop.rounds={args.rounds}")
    if args.budget is not None:
        overrides.append(f"mixture.budget={args.budget}")
    if args.review:
        overrides.append("loop.review=true")
    config, lines = apply_overrides(load_preset(args.config or args.preset), overrides)
    print(f"[mosaic] preset {config.preset} ({args.config or f'configs/{args.preset}.yaml'})")
    for line in lines:
        print(f"[mosaic]   {line}")
    out = Path(args.out or f"runs/{config.preset}-{datetime.now():%Y%m%d-%H%M%S}")
    print(f"[mosaic] run folder {out}: model {config.model}, budget "
          f"{config.mixture.budget:,} tokens, {config.loop.rounds} rounds", flush=True)
    with _resumable(out):
        state = loop.run(config, out)
    return _finished(out, state)


def _cmd_resume(args: argparse.Namespace) -> int:
    loop = _loop()

    with _resumable(Path(args.run)):
        state = loop.resume(args.run)
    return _finished(Path(args.run), state)


@contextlib.contextmanager
def _resumable(out: Path) -> Iterator[None]:
    """Say how to continue when a run stops on an error or Ctrl-C (nothing finished is lost:
    checkpoints and the artifact cache keep it)."""
    loop = _loop()

    try:
        yield
    except KeyboardInterrupt:
        print(f"\n[mosaic] interrupted; continue with `mosaic resume {out}`", file=sys.stderr)
        raise SystemExit(130) from None
    except loop.RunBusy:
        raise
    except (MosaicError, OSError):  # OSError: a full disk, a read-only folder
        if (out / "config.json").is_file():
            print(f"[mosaic] the run stopped; fix the cause below and continue with "
                  f"`mosaic resume {out}`", file=sys.stderr)
        raise


def _finished(out: Path, state: dict) -> int:
    loop = _loop()

    card = loop.paused_card(state)
    while card is not None and sys.stdin.isatty():
        state = _answer_in_terminal(out, card)
        card = loop.paused_card(state)
    if card is not None:
        print(loop.status(out))
        print(f"[mosaic] paused for approval; answer with `mosaic approve {out}` "
              "[--edit FILE | --reject TEXT | --message TEXT]")
        return 0
    print(loop.status(out))
    print(f"[mosaic] {state.get('stop_reason') or 'stopped'}; report: {out}/report.html, "
          f"{out}/report.md")
    return 0


def _answer_in_terminal(out: Path, card: dict) -> dict:
    """Show the card and take the answer in place: a(pprove), e(dit) FILE, r(eject) TEXT,
    or any other line as a steering message."""
    loop = _loop()

    print(loop.describe_card(card))
    while True:
        try:
            answer = input("approve (a) | edit FILE | reject TEXT | /command or note: ").strip()
        except (EOFError, KeyboardInterrupt):
            print(f"\n[mosaic] left paused; answer later with `mosaic approve {out}`")
            raise SystemExit(0) from None
        word, _, rest = answer.partition(" ")
        if not answer:
            continue
        if answer.lower() in ("a", "approve"):  # the whole answer: "a bit less..." is a note
            decision: dict = {"kind": "approve"}
        elif word.lower() == "edit" and rest.strip():
            try:
                decision = {"kind": "edit", "action": _read_action(rest.strip())}
            except MosaicError as error:
                print(f"[mosaic] {error}")
                continue
        elif word.lower() == "reject":
            decision = {"kind": "reject", "feedback": rest}
        else:
            decision = {"kind": "message", "text": answer}
        # The card's identity goes with the answer: if another process answered first and
        # the card changed, this answer is not applied to a card it never saw.
        return loop.approve(out, {**decision, "card": card.get("id")})


def _read_action(path: str) -> dict:

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MosaicError(f"cannot read an action from {path!r}: {error}") from None


def _cmd_approve(args: argparse.Namespace) -> int:
    loop = _loop()

    if args.edit is not None:
        decision = {"kind": "edit", "action": _read_action(args.edit)}
    elif args.reject is not None:
        decision = {"kind": "reject", "feedback": args.reject}
    elif args.message is not None:
        decision = {"kind": "message", "text": args.message}
    else:
        decision = {"kind": "approve"}
    with _resumable(Path(args.run)):
        state = loop.approve(args.run, decision)
    return _finished(Path(args.run), state)


def _cmd_chat(args: argparse.Namespace) -> int:
    loop = _loop()

    print(loop.status(args.run))
    messages = list(args.messages)
    interactive = not messages and sys.stdin.isatty()

    def confirm(commands: list[str]) -> bool:
        """Rules an LLM read into free text: applied with --yes, or a yes in a terminal."""
        if args.yes:
            return True
        if not sys.stdin.isatty():
            return False
        answer = input(f"the LLM read it as: {', '.join(commands)}; apply? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    if not messages and not interactive:
        messages = [line for line in sys.stdin.read().splitlines() if line.strip()]
    while True:
        if interactive:
            try:
                line = input("> ").strip()
            except EOFError:
                break
            if line in ("", "/quit", "/exit"):
                break
            messages = [line]
        if not messages:
            break
        text = messages.pop(0)
        if text.strip() == "/help":
            print(usage())
            continue
        try:
            print(f"[mosaic] {loop.chat(args.run, text, confirm=confirm)}")
        except MosaicError as error:
            if not interactive:
                raise
            print(f"[mosaic] {error}")  # a typo does not end the conversation
        if not interactive and not messages:
            break
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    loop = _loop()

    print(loop.status(args.run))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    loop = _loop()

    print(loop.compare(args.run, args.round, args.against))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    loop = _loop()

    markdown, html = loop.report(args.run)
    print(f"[mosaic] wrote {markdown} and {html}")
    return 0


def add_loop_commands(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="search for a mixture: evaluate the base model, then rounds of diagnose, "
        "validate, build, train, evaluate (the MOSAIC loop)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--preset", default="demo",
                     help="tiny | demo | paper, a YAML file in configs/ (default demo)")
    run.add_argument("--config", metavar="PATH.yaml", help="a preset file of your own (the "
                     "format of configs/*.yaml) instead of --preset")
    run.add_argument("--rounds", type=int, help="trained rounds after the base model "
                     "(= loop.rounds)")
    run.add_argument("--budget", type=int, help="tokens per round (= mixture.budget)")
    run.add_argument("--out", help="run folder (default runs/<preset>-<time>)")
    run.add_argument("--review", action="store_true", help="a person approves, edits or "
                     "rejects every action (= loop.review=true); in a terminal the card is "
                     "answered in place, otherwise the run pauses for `mosaic approve`")
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                     help="settings of the preset to change, e.g. train.lr=1e-3 "
                     "eval.per_slice=2 loop.patience=2 cache=/tmp/artifacts")
    run.set_defaults(func=_cmd_run, trailing="overrides")

    resume = commands.add_parser("resume", help="continue a run from its last checkpoint "
                                 "(finished steps are reused from the cache)")
    resume.add_argument("run", help="the run folder")
    resume.set_defaults(func=_cmd_resume)

    status = commands.add_parser("status", help="a run's rounds, front and current step")
    status.add_argument("run", help="the run folder")
    status.set_defaults(func=_cmd_status)

    approve = commands.add_parser("approve", help="answer the approval card a review-mode "
                                  "run is paused on, then continue it")
    approve.add_argument("run", help="the run folder")
    answer = approve.add_mutually_exclusive_group()
    answer.add_argument("--edit", metavar="FILE", help="replace the action with this "
                        "DataAction JSON (validated before it is accepted)")
    answer.add_argument("--reject", metavar="TEXT", help="reject it; the diagnoser proposes "
                        "another (the feedback is kept with the run)")
    answer.add_argument("--message", metavar="TEXT", help="a steering message, e.g. "
                        "'/min-share orbench 0.2' (kept as a rule for every later round)")
    approve.set_defaults(func=_cmd_approve)

    chat = commands.add_parser("chat", help="steer a run: show its status and send messages "
                               "(/min-share, /max-share, /pin, /forbid, /floor, /stop, /note)")
    chat.add_argument("run", help="the run folder")
    chat.add_argument("messages", nargs="*", help="messages to send (none: read them from "
                      "the terminal, or one per line from stdin)")
    chat.add_argument("--yes", action="store_true", help="apply the rules an LLM reads into "
                      "free text without asking (scripts); without it they are shown and "
                      "applied only on a yes in the terminal")
    chat.set_defaults(func=_cmd_chat, trailing="messages")

    compare = commands.add_parser(
        "compare", help="two rounds of a run item by item: the mean change per objective and "
        "slice with its paired 95%% interval")
    compare.add_argument("run", help="the run folder")
    compare.add_argument("round", help="N, base, recommended or latest")
    compare.add_argument("against", nargs="?", default="base",
                         help="N, base (default), recommended, latest or previous (the round "
                         "before ROUND)")
    compare.set_defaults(func=_cmd_compare)

    report = commands.add_parser("report", help="write a run's report.md and report.html")
    report.add_argument("run", help="the run folder")
    report.set_defaults(func=_cmd_report)
