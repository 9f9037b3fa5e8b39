"""The MOSAIC loop end to end on the tiny preset: `mosaic run`, `resume` after SIGKILL,
`status` and `report`, through the real CLI in subprocesses (the real graph, checkpointer,
mixture builder, trainer and evaluator; no test doubles)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

# Two rounds on the tiny model; a slightly longer eval than the preset's so a kill can land
# inside it. Every run in this module uses the same settings (and so the same results).
OVERRIDES = ["eval.per_slice=2", "eval.max_new_tokens=24"]
STABLE_FIELDS = ("round", "action", "diagnoser", "mixture_hash", "adapter", "means", "ci",
                 "accepted", "hypervolume", "breaches", "budget", "tokens_by_objective",
                 "report_path")


def mosaic(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "mosaic.cli", *args], capture_output=True,
                            text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"mosaic {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def start_run(out: Path, cache: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mosaic.cli", "run", "--preset", "tiny", "--out", str(out),
         f"cache={cache}", *OVERRIDES],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def events(out: Path) -> list[dict]:
    path = out / "events.jsonl"
    if not path.is_file():
        return []
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def wait_for(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the run exited ({process.returncode}) before the kill point")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the kill point was never reached")
        time.sleep(0.02)


def stable(out: Path) -> list[dict]:
    archive = json.loads((out / "archive.json").read_text())
    return [{k: r[k] for k in STABLE_FIELDS} for r in archive["records"]]


def computed_steps(out: Path) -> Counter:
    """(step, round) -> how many times it finished by computing (not from the cache)."""
    return Counter((e["step"], e["round"]) for e in events(out)
                   if e["event"] == "step_finished" and not e.get("cached"))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    """One uninterrupted two-round run on the tiny preset."""
    root = tmp_path_factory.mktemp("reference")
    out = root / "run"
    result = mosaic("run", "--preset", "tiny", "--out", str(out), f"cache={root / 'cache'}",
                    *OVERRIDES)
    assert "state: finished: round limit (2 rounds)" in result.stdout
    return out


def test_a_two_round_tiny_run_leaves_a_complete_archive_rounds_and_report(reference_run):
    """The whole loop ran: base + 2 rounds, each round folder complete, the archive holds
    the front, hypervolumes and a recommendation, and both reports exist."""
    archive = json.loads((reference_run / "archive.json").read_text())
    assert [r["round"] for r in archive["records"]] == [0, 1, 2]
    assert archive["objectives"] == ["xguard", "orbench", "ifeval"]
    assert archive["recommended"] in archive["front"]
    assert len(archive["hypervolume"]) == 3
    assert [r["hypervolume"] for r in archive["records"]] == archive["hypervolume"]
    assert archive["hypervolume"] == sorted(archive["hypervolume"])  # a front only grows
    for record in archive["records"][1:]:
        assert record["diagnoser"] == "analyst" and record["action"]["ratios"]
        assert abs(sum(record["action"]["ratios"].values()) - 1) < 1e-6
        assert 0 < sum(record["tokens_by_objective"].values()) <= record["budget"]
        folder = reference_run / "rounds" / f"{record['round']:03d}"
        for name in ("action.json", "validation.json", "manifest.json", "adapter.json",
                     "record.json", "eval/report.json", "eval/samples.jsonl"):
            assert (folder / name).is_file(), name
        assert json.loads((folder / "validation.json").read_text())["ok"]
    html = (reference_run / "report.html").read_text()
    assert html.count("<svg") >= 4 and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "")
    markdown = (reference_run / "report.md").read_text().replace("**", "")
    assert "| base" in markdown and "| 2 |" in markdown
    # Every expensive step of every round was computed exactly once.
    steps = computed_steps(reference_run)
    assert steps[("evaluate", 0)] == 1
    for round_number in (1, 2):
        for step in ("build_mixture", "train", "evaluate"):
            assert steps[(step, round_number)] == 1


def test_status_and_report_commands_read_the_run_folder(reference_run):
    out = mosaic("status", str(reference_run)).stdout
    assert "preset tiny" in out and "finished: round limit (2 rounds)" in out
    assert "recommended" in out and "base" in out
    assert "actions by the analyst" in out and out.count("by analyst") == 2
    # Each trained round against the base model, item by item, with a paired interval.
    paired = out.split("change vs base, item by item")[1].splitlines()
    rows = [line.split() for line in paired if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"]
    assert all("[" in line for line in paired if line.strip()[:1].isdigit())
    assert "mosaic compare" in out
    # Any two rounds, per objective and per slice; a typo is an error, not a traceback.
    compared = mosaic("compare", str(reference_run), "2", "previous").stdout
    assert compared.startswith("round 2 minus round 1, item by item")
    objective_rows = [line.split() for line in compared.splitlines()
                      if line.startswith("  ") and not line.startswith("    ")]
    assert [row[0] for row in objective_rows] == ["xguard", "orbench", "ifeval"]
    assert "    complexity_1" in compared and "n=" in compared
    assert "round base minus round 2" in mosaic("compare", str(reference_run), "base",
                                               "latest").stdout
    wrong = mosaic("compare", str(reference_run), "7", check=False)
    assert wrong.returncode == 2 and "round 7 is not in this run (rounds: 0, 1, 2)" in wrong.stderr
    (reference_run / "report.html").unlink()
    assert "report.html" in mosaic("report", str(reference_run)).stdout
    assert (reference_run / "report.html").is_file()


def test_status_writes_nothing_in_the_run_folder(reference_run):
    """`status` only reads (the checkpoints opened read-only): it works on a run folder it
    may not write to, and leaves every file as it was."""
    def files():  # (SQLite's shared-memory index, -shm, is touched by any reader)
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in reference_run.rglob("*")
                if p.is_file() and not p.name.endswith("-shm")}

    before = files()
    mosaic("status", str(reference_run))
    assert files() == before


def test_resuming_a_finished_run_changes_nothing(reference_run):
    before = (reference_run / "archive.json").read_text()
    out = mosaic("resume", str(reference_run)).stdout
    assert "nothing to resume" in out
    assert (reference_run / "archive.json").read_text() == before


def test_a_run_killed_during_training_resumes_to_the_same_archive(reference_run, tmp_path):
    """SIGKILL in round 1's training; `mosaic resume` retrains only that adapter (the
    baseline evaluation and the mixture come back from checkpoint and cache) and ends with
    the archive of the uninterrupted run."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    process = start_run(out, cache)
    wait_for(lambda: any(e["event"] == "step_started" and e.get("step") == "train"
                         and e.get("round") == 1 for e in events(out)), process)
    time.sleep(1.0)  # well inside the training (model load + ~6 s of steps)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not any(e["event"] == "step_finished" and e.get("step") == "train"
                   for e in events(out)), "the kill landed after training finished"
    assert not list((cache / "adapters").glob("[!.]*"))  # no half adapter in the cache

    result = mosaic("resume", str(out))
    assert "resuming" in result.stdout and "at train (round 1)" in result.stdout
    assert stable(out) == stable(reference_run)
    steps = computed_steps(out)
    assert max(steps.values()) == 1, steps  # nothing finished was computed twice
    starts = Counter((e["step"], e["round"]) for e in events(out)
                     if e["event"] == "step_started")
    assert starts[("train", 1)] == 2 and starts[("evaluate", 0)] == 1
    assert starts[("build_mixture", 1)] == 1


def test_a_run_killed_during_evaluation_keeps_the_objectives_it_finished(reference_run,
                                                                         tmp_path):
    """SIGKILL in round 1's evaluation after its first objective's replies were cached;
    the resumed evaluation reuses them and the archive equals the uninterrupted run's."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    process = start_run(out, cache)
    generations = cache / "generations"

    def first_objective_of_round_1_done() -> bool:
        # Round 0 writes one generation file per objective (3); the 4th is round 1's xguard.
        return generations.is_dir() and len(list(generations.glob("*.json"))) >= 4

    wait_for(first_objective_of_round_1_done, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not any(e["event"] == "step_finished" and e.get("step") == "evaluate"
                   and e.get("round") == 1 for e in events(out))
    kept = {p.name: p.stat().st_mtime_ns for p in generations.glob("*.json")}

    mosaic("resume", str(out))
    assert stable(out) == stable(reference_run)
    for name, mtime in kept.items():  # finished generations were read, not redone
        assert (generations / name).stat().st_mtime_ns == mtime
    assert len(list(generations.glob("*.json"))) == 9
    assert max(computed_steps(out).values()) == 1


def test_a_damaged_checkpoint_database_is_set_aside_and_the_run_rebuilt(reference_run,
                                                                         tmp_path):
    """checkpoints.sqlite overwritten: `status` still reads the run folder and warns;
    `resume` keeps the damaged file, rebuilds every round from the run folder and the
    cache (nothing trained or evaluated again) and ends with the same archive."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference_run, out)
    before = computed_steps(out)
    (out / "checkpoints.sqlite").write_bytes(b"\x00garbage" * 4096)
    status = mosaic("status", str(out)).stdout
    assert "checkpoints.sqlite" in status and "mosaic resume" in status
    result = mosaic("resume", str(out))
    assert "rebuilding the run" in result.stdout and "nothing to resume" not in result.stdout
    assert stable(out) == stable(reference_run)
    assert computed_steps(out) == before  # every step came back from the cache
    assert list(out.glob("checkpoints.sqlite.damaged-*"))
    assert "nothing to resume" in mosaic("resume", str(out)).stdout


def test_a_rebuilt_review_run_replays_its_rounds_as_they_were(tmp_path):
    """A review run with a rule added at round 2's card and a late /stop in its inbox, its
    checkpoints then lost: the rebuild shows no card, keeps every round's action under the
    rules it had (nothing trained again) and is not ended at round 0 by the old stop."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.driver import approve, chat, paused_card, resume, run
    from mosaic.loop.inbox import Inbox, Message
    from mosaic.store import RunFolder

    out = tmp_path / "run"
    config, _ = apply_overrides(load_preset("tiny"), [
        f"cache={tmp_path / 'cache'}", "loop.review=true", *OVERRIDES])
    assert paused_card(run(config, out, progress=False)) is not None
    assert paused_card(approve(out, {"kind": "approve"}, progress=False)) is not None
    assert "answered the approval card" in chat(out, "/min-share orbench 0.45")
    assert paused_card(approve(out, {"kind": "approve"}, progress=False)) is None
    Inbox(RunFolder(out)).send(Message(kind="stop", text="/stop"))  # arrived late
    before, trained = stable(out), computed_steps(out)
    assert before[2]["action"]["ratios"]["orbench"] >= 0.45 - 1e-9
    (out / "checkpoints.sqlite").write_bytes(b"not a database" * 1000)
    for part in ("checkpoints.sqlite-wal", "checkpoints.sqlite-shm"):
        (out / part).unlink(missing_ok=True)
    state = resume(out, progress=False)
    assert paused_card(state) is None and len(state["records"]) == 3
    assert stable(out) == before and computed_steps(out) == trained


def test_a_checkpoint_cut_short_never_reads_as_finished(reference_run, tmp_path):
    """A kill in round 1, then the newest checkpoint lost while the step results saved with
    the one before it survive (what a WAL cut in half leaves): LangGraph sees no next
    step. `resume` must not call the run finished: it goes on and ends with the
    uninterrupted run's archive."""
    import sqlite3

    from mosaic.loop.context import RunContext
    from mosaic.loop.driver import checkpoint_state

    out, cache = tmp_path / "run", tmp_path / "cache"
    process = start_run(out, cache)
    wait_for(lambda: any(e["event"] == "step_started" and e.get("step") == "train"
                         and e.get("round") == 1 for e in events(out)), process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(out / "checkpoints.sqlite") as db:
        (newest,) = db.execute("SELECT max(checkpoint_id) FROM checkpoints").fetchone()
        db.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (newest,))
        db.execute("DELETE FROM writes WHERE checkpoint_id = ?", (newest,))
    _, next_nodes, _ = checkpoint_state(RunContext.open(out, progress=False))
    assert next_nodes == ()  # what made `resume` say "has finished (None)"
    result = mosaic("resume", str(out))
    assert "has finished" not in result.stdout and "never finished" in result.stdout
    assert stable(out) == stable(reference_run)


def test_a_second_process_cannot_drive_a_running_run(tmp_path):
    """While one process holds the run, `mosaic resume` of it fails at once, naming why."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    process = start_run(out, cache)
    try:
        wait_for(lambda: bool(events(out)), process)
        result = mosaic("resume", str(out), check=False)
        assert result.returncode == 2 and "being run by another process" in result.stderr
        status = mosaic("status", str(out)).stdout
        assert "(running now)" in status
    finally:
        process.kill()
        process.wait()


def test_run_rejects_unknown_and_mistyped_overrides(tmp_path):
    result = mosaic("run", "--preset", "tiny", "--out", str(tmp_path / "r"),
                    "train.nope=1", check=False)
    assert result.returncode == 2 and "unknown setting 'nope' in train" in result.stderr
    result = mosaic("run", "--preset", "tiny", "--out", str(tmp_path / "r"),
                    "mixture.budget=lots", check=False)
    assert result.returncode == 2 and "mixture.budget" in result.stderr
    assert not (tmp_path / "r" / "config.json").exists()


def test_a_run_evaluates_through_a_served_model_loading_each_rounds_adapter(tmp_path):
    """`eval.backend=openai`: the base model is asked for by its served name, each round's
    adapter folder is loaded into the server at run time (vLLM's /v1/load_lora_adapter) and
    asked for under the name it was loaded as; no model is loaded here to generate."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.driver import run
    from tests.openai_server import Reply, ScriptedServer

    with ScriptedServer(lambda body: Reply.text("I can't help with that.")) as server:
        config, _ = apply_overrides(load_preset("tiny"), [
            f"cache={tmp_path / 'cache'}", "loop.rounds=1", "eval.per_slice=1",
            "eval.backend=openai", f"eval.base_url={server.url}",
            "eval.served_model=tiny-base", "eval.batch_size=4"])
        state = run(config, tmp_path / "run", progress=False)
    assert len(state["records"]) == 2
    [(name, path)] = server.adapters.items()
    adapter = json.loads((tmp_path / "run" / "rounds" / "001" / "adapter.json").read_text())
    assert Path(path) == Path(adapter["path"]).resolve()
    assert (Path(path) / "adapter_config.json").is_file()
    asked = Counter(body["model"] for body in server.requests)
    assert set(asked) == {"tiny-base", name} and asked["tiny-base"] == asked[name]
    report = json.loads((tmp_path / "run" / "rounds" / "001" / "eval" / "report.json")
                        .read_text())
    assert report["provenance"]["generator"].startswith("openai:tiny-base:")


def test_a_server_that_cannot_load_adapters_stops_the_round_saying_how_to_serve(tmp_path):
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.driver import run
    from mosaic.tools.evaluation.interface import BackendError
    from tests.openai_server import Reply, ScriptedServer

    with ScriptedServer(lambda body: Reply.text("Sure."), runtime_lora=False) as server:
        config, _ = apply_overrides(load_preset("tiny"), [
            f"cache={tmp_path / 'cache'}", "loop.rounds=1", "eval.per_slice=1",
            "eval.backend=openai", f"eval.base_url={server.url}"])
        with pytest.raises(BackendError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
            run(config, tmp_path / "run", progress=False)
    # Round 0 (the base model, no adapter) was evaluated and kept.
    assert (tmp_path / "run" / "rounds" / "000" / "eval" / "report.json").is_file()


def test_the_gpu_checks_timing_report_reads_a_run_folder(reference_run, tmp_path):
    """scripts/loop_timings.py (what scripts/gpu_check.sh prints after the loop) on a real
    run, with a memory log in nvidia-smi's csv format."""
    log = tmp_path / "memory.csv"
    log.write_text("1024, 81559\n40960, 81559\n2048, 81559\n")
    script = Path(__file__).resolve().parents[1] / "scripts" / "loop_timings.py"
    out = subprocess.run([sys.executable, str(script), str(reference_run), "--gpu-memory",
                          str(log)], capture_output=True, text=True, check=True).stdout
    finished = [e for e in events(reference_run) if e["event"] == "step_finished"]
    assert len(out.splitlines()) == 1 + len(finished) + 2
    for step in ("evaluate", "train", "build_mixture"):
        assert any(e["step"] == step for e in finished) and f" {step} " in out
    assert "peak GPU memory: 40,960 MiB of 81,559 MiB (50%)" in out


def test_a_run_can_be_judged_by_an_llm_as_the_paper_was(tmp_path, monkeypatch):
    """`eval.judge.kind=llm`: xguard and orbench replies are judged over the endpoint (the
    starter sets' shipped prompt labels are kept), IFEval by its checkers; the report names
    the LLM judge and the key never reaches the run folder."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.driver import run
    from tests.openai_server import Reply, ScriptedServer

    answer = {"safety_leaks": {"step_leak": 0, "code_leak": 0, "param_leak": 0,
                               "bypass_leak": 0},
              "utility": {"explicit_refusal": 1, "safe_alternative": 1, "brief_explanation": 1},
              "refusal": {"explicit_refusal": 0}, "help": {"actionable_help": 1},
              "friction": {}}
    monkeypatch.setenv("MOSAIC_JUDGE_KEY", "sk-judge-secret-123")
    with ScriptedServer(lambda body: Reply.json(answer)) as server:
        config, _ = apply_overrides(load_preset("tiny"), [
            f"cache={tmp_path / 'cache'}", "loop.rounds=0", "eval.per_slice=1",
            "eval.max_new_tokens=8", "eval.judge.kind=llm", f"eval.judge.base_url={server.url}",
            "eval.judge.model=judge-model", "eval.judge.api_key_env=MOSAIC_JUDGE_KEY"])
        run(config, tmp_path / "run", progress=False)
    report = json.loads((tmp_path / "run" / "rounds" / "000" / "eval" / "report.json")
                        .read_text())
    assert report["provenance"]["judge"].startswith("llm:judge-model:")
    assert report["provenance"]["judge_failures"] == {}  # every answer was usable
    templates = Counter("CONVERSATION (a JSON list" in json.dumps(r["messages"])
                        for r in server.requests)
    assert templates[True] >= 5 and templates[False] >= 4  # xguard and orbench replies
    assert all(r["model"] == "judge-model" for r in server.requests)
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md"):
            assert "sk-judge-secret-123" not in path.read_text(errors="replace")
