"""The loop under a LangGraph server: `langgraph dev` (the in-memory runtime of the
`mosaic[server]` extra) serves the graph named in langgraph.json on 127.0.0.1, a client
drives a tiny review run with langgraph-sdk through human-in-the-loop requests and
responses, and the archive it leaves equals the one the `mosaic` CLI leaves for the same
answers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client

REPO = Path(__file__).resolve().parents[1]
EDITED = {"ratios": {"xguard": 0.6, "orbench": 0.2, "ifeval": 0.2},
          "rationale": "a person's choice"}
RULE = "/min-share orbench 0.25"
TIMING = ("seconds", "started_at", "finished_at")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    langgraph = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    assert langgraph, "the langgraph CLI is missing: pip install -e '.[server]'"
    home = tmp_path_factory.mktemp("server")
    # The repository's langgraph.json, its paths resolved against the repository (the
    # server reads them from its working directory, which holds its own state).
    spec = json.loads((REPO / "langgraph.json").read_text())
    spec["dependencies"] = [str((REPO / d).resolve()) for d in spec["dependencies"]]
    spec["graphs"] = {name: str(REPO / path) for name, path in spec["graphs"].items()}
    (home / "langgraph.json").write_text(json.dumps(spec))
    port = _free_port()
    env = {**os.environ, "LANGSMITH_TRACING": "false", "LANGCHAIN_TRACING_V2": "false",
           "LANGGRAPH_CLI_NO_ANALYTICS": "1", "MOSAIC_CACHE_DIR": str(home / "cache")}
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [langgraph, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
         "--port", str(port), "--config", str(home / "langgraph.json")],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("langgraph dev did not start:\n"
                                 + (home / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _records(run: Path) -> list[dict[str, Any]]:
    archive = json.loads((run / "archive.json").read_text())
    return [{k: v for k, v in r.items() if k not in TIMING} for r in archive["records"]]


def _interrupt(client: Any, thread_id: str) -> dict[str, Any] | None:
    state = client.threads.get_state(thread_id)
    pending = [i for task in state["tasks"] for i in task.get("interrupts", [])]
    return pending[0]["value"] if pending else None


def _cli(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mosaic.cli", *args], capture_output=True,
                            text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_served_review_run_matches_the_cli_run_for_the_same_answers(server, tmp_path):
    client = get_sync_client(url=server)
    served = tmp_path / "served"
    context = {"run_dir": str(served), "preset": "tiny",
               "overrides": ["loop.review=true", "eval.per_slice=1",
                             f"cache={tmp_path / 'served-cache'}"]}
    thread = client.threads.create()["thread_id"]
    options = {"context": context, "config": {"recursion_limit": 100}}
    client.runs.wait(thread, "mosaic", input={"records": []}, **options)

    request = _interrupt(client, thread)
    assert request is not None, "the run did not pause for approval"
    # LangChain's human-in-the-loop request: one action, its decisions, mosaic's card.
    (action_request,) = request["action_requests"]
    assert action_request["name"] == "data_action"
    assert action_request["args"] == request["card"]["action"]
    assert "round 1: action proposed by analyst" in action_request["description"]
    assert request["review_configs"] == [{"action_name": "data_action", "allowed_decisions": [
        "approve", "edit", "reject", "respond"]}]
    assert request["card"]["round"] == 1 and request["card"]["id"].startswith("1:")

    answers = [
        {"type": "edit", "edited_action": {"name": "data_action", "args": EDITED}},
        {"type": "respond", "message": RULE},
        {"type": "approve"},  # round 1 is built, trained and evaluated; round 2 waits
        {"type": "approve"},
    ]
    cards = []
    for answer in answers:
        client.runs.wait(thread, "mosaic", command={"resume": {"decisions": [answer]}},
                         **options)
        request = _interrupt(client, thread)
        cards.append(request["card"] if request else None)
    assert cards[0]["diagnoser"] == "person" and cards[0]["action"]["ratios"]["xguard"] == 0.6
    assert cards[1]["last_answer"].startswith("added: orbench share of the budget >= 0.25")
    assert cards[2]["round"] == 2 and cards[3] is None
    assert client.threads.get_state(thread)["values"]["stop_reason"] == \
        "round limit (2 rounds)"

    # The same answers through the CLI, in a folder of its own with a cache of its own.
    by_cli = tmp_path / "cli"
    edited = tmp_path / "edit.json"
    edited.write_text(json.dumps(EDITED))
    _cli("run", "--preset", "tiny", "--review", "--out", str(by_cli),
         f"cache={tmp_path / 'cli-cache'}", "eval.per_slice=1")
    _cli("approve", str(by_cli), "--edit", str(edited))
    _cli("approve", str(by_cli), "--message", RULE)
    _cli("approve", str(by_cli))
    _cli("approve", str(by_cli))

    assert _records(served) == _records(by_cli)
    assert len(_records(served)) == 3
    assert json.loads((served / "constraints.json").read_text()) == \
        json.loads((by_cli / "constraints.json").read_text())


def test_a_served_graph_without_a_run_folder_says_what_it_needs(server, tmp_path):
    client = get_sync_client(url=server)
    thread = client.threads.create()["thread_id"]
    run = client.runs.create(thread, "mosaic", input={"records": []},
                             context={"run_dir": str(tmp_path / "nothing")})
    client.runs.join(thread, run["run_id"])
    finished = client.runs.get(thread, run["run_id"])
    assert finished["status"] == "error"
    assert not (tmp_path / "nothing" / "config.json").exists()
