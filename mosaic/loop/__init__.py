"""The MOSAIC loop: a LangGraph state machine over plain round steps, and its driver.

    from mosaic.loop import run, resume
    from mosaic.config import apply_overrides, load_preset

    config, _ = apply_overrides(load_preset("tiny"), ["loop.rounds=1"])
    state = run(config, "runs/tiny")        # baseline + rounds, report at the end
    state = resume("runs/tiny")             # after a crash or a kill: continues where it was

What lives here, one module per idea:

    driver     run, resume, approve, chat, status, compare, report (the public verbs)
    graph      the nodes and every edge of the state machine
    state      what the graph checkpoints between nodes
    context    a run's settings, folders and the heavy objects its steps use
    evaluators the generation backend and the judge a run is built with
    rounds     the steps of a round as plain functions (what each node calls)
    diagnosis  who proposes the next action
    review     the approval card and what a reviewer's decision does
    inbox      what people send a running run (notes, stop requests)
    summary    what a run folder says: status text, the report's inputs

Code outside the loop uses the names exported here; `context` (RunContext) and `rounds`
(the round's steps as plain functions) are public too, for code that runs a round's steps
on a fixed action without the graph (benchmarks/search.py's static mixtures).
"""

from mosaic.loop.driver import (
    DamagedCheckpoints,
    RunBusy,
    approve,
    chat,
    checkpoint_state,
    compare,
    paused_card,
    report,
    resume,
    run,
    status,
)
from mosaic.loop.review import describe_card
from mosaic.loop.state import Checkpoint

__all__ = ["Checkpoint", "DamagedCheckpoints", "RunBusy", "approve", "chat", "checkpoint_state",
           "compare", "describe_card", "paused_card", "report", "resume", "run", "status"]
