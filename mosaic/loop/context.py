"""A run's context: its settings, folders, cache and the heavy objects the round steps use.

    ctx = RunContext.create(config, Path("runs/demo"))   # checks, then writes config.json
    ctx = RunContext.open(Path("runs/demo"))             # the same run, in a new process

LangGraph passes each node a `LoopContext`: plain data (the run folder), which a LangGraph
server can send as JSON. `run_context` turns it into the process's `RunContext`, opened from
the folder on first use and kept, so the model stays warm across rounds; it is never
checkpointed. A RunContext also holds the rules in force (the config's Constraints plus those a
reviewer or chat added, kept in the run folder) and the preflight that refuses a config
that cannot work before anything is written.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mosaic.agents.analyst import starting_action
from mosaic.config import EvalSource, RunConfig, apply_overrides, load_preset
from mosaic.endpoint import public_url
from mosaic.errors import ConfigError, DamagedFile, validation_problems
from mosaic.loop.evaluators import LazyGenerator, freeze_eval_dtype, make_judge
from mosaic.objectives import get_objective
from mosaic.redact import redact, watch
from mosaic.schema import Constraint
from mosaic.store import ArtifactCache, RunFolder, cache_root, read_json_list, write_json_atomic
from mosaic.tools.evaluation.eval_sets import (
    DEFAULT_EVAL_SETS,
    HELDOUT_EVAL_SETS,
    STARTER_FORMAT,
    load_eval_set,
)
from mosaic.tools.mixing.pools import load_pools
from mosaic.tools.mixing.validate import validate_action


@dataclass
class RunContext:
    """What a run needs besides its graph state: its settings and folders, and the heavy
    objects (pools, eval sets, the generation model), loaded on first use and kept for the
    life of the process so the model stays warm across rounds. Never checkpointed: a
    resumed run builds a new one from the run folder."""

    config: RunConfig
    run: RunFolder
    cache: ArtifactCache
    progress: bool = True
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        watch(self.config.diagnoser.api_key_env)  # its value is masked in all we write

    @classmethod
    def create(cls, config: RunConfig, folder: Path, *, progress: bool = True) -> RunContext:
        """A new run in `folder` (which must not hold another run's config).

        Everything that can be checked cheaply is checked before the config is written
        (pools, eval sets, Constraints: `preflight`), so a run folder never freezes a
        config that cannot work. The artifact cache's path is made absolute and written
        down, so `mosaic resume` finds it from any directory and environment."""
        run = RunFolder(folder)
        if run.config.exists():
            raise ConfigError(f"{folder} already holds a run; continue it with "
                              f"`mosaic resume {folder}` or choose another --out")
        cache = Path(config.cache).expanduser() if config.cache else cache_root() / "artifacts"
        cache = cache.resolve()
        config = config.model_copy(update={"cache": str(cache)})
        config = freeze_eval_dtype(_absolute_paths(config))
        ctx = cls(config, run, ArtifactCache(cache), progress)
        preflight(ctx)
        write_json_atomic(run.config, config.model_dump(mode="json"), sort_keys=False)
        return ctx

    @classmethod
    def open(cls, folder: Path, *, progress: bool = True) -> RunContext:
        """The run in `folder`, with the config it was started with."""
        run = RunFolder(folder)
        try:
            raw = json.loads(run.config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{folder} is not a mosaic run (no config.json)") from None
        except json.JSONDecodeError as error:
            raise DamagedFile(run.config, f"not valid JSON at line {error.lineno}, column "
                                          f"{error.colno}: {error.msg} (cut short or "
                                          "edited?)") from None
        evaluation = raw.get("eval") if isinstance(raw, dict) else None
        if isinstance(evaluation, dict):
            # A run started before the decoder and eval.dtype existed generated with
            # transformers' generate in float32: it goes on as it began.
            evaluation.setdefault("engine", "generate")
            evaluation.setdefault("dtype", "float32")
        try:
            config = RunConfig.model_validate(raw)
        except ValidationError as error:
            problems = "; ".join(validation_problems(error, limit=5))
            raise DamagedFile(run.config, f"not a valid run config: {problems}") from None
        return cls(config, run, _artifact_cache(config), progress)

    def _memo(self, name: str, build: Any) -> Any:
        if name not in self._loaded:
            self._loaded[name] = build()
        return self._loaded[name]

    @property
    def objectives(self) -> list[str]:
        return list(self.config.pools)

    @property
    def constraints(self) -> list[Constraint]:
        """The config's rules and those a reviewer or chat added during the run."""
        return [*self.config.constraints, *read_added_constraints(self.run)]

    def add_constraint(self, rule: Constraint) -> str:
        """Add a rule for every later round (kept in the run folder's constraints.json);
        "" when added (or already there), else why it cannot be added."""
        # One writer at a time: two chats adding rules at once must both be kept.
        with open(self.run.root / "constraints.lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            added = read_added_constraints(self.run)
            if any(_same_rule(rule, other) for other in [*self.config.constraints, *added]):
                return ""
            problem = self.constraint_problem(rule)
            if problem:
                return problem
            write_json_atomic(self.run.added_constraints,
                              [c.model_dump(mode="json") for c in [*added, rule]])
        self.run.log("constraint_added", rule=rule.describe(), origin=rule.origin)
        return ""

    def constraint_problem(self, rule: Constraint) -> str:
        """Why `rule` cannot join the rules in force ("" when it can): an objective or
        slice the run does not have, or a contradiction with the rules already there. The
        same checks for a typed rule and for one an LLM proposes (shown before it is
        confirmed)."""
        if rule.objective not in self.config.pools:
            return (f"'{rule.objective}' is not one of this run's objectives "
                    f"({', '.join(self.config.pools)})")
        if rule.slice is not None and rule.slice not in get_objective(rule.objective).slices:
            return f"'{rule.slice}' is not a slice of {rule.objective}"
        pools = self.pools()
        report = validate_action(starting_action(pools, self.config.mixture), pools,
                                 self.config.mixture, [*self.constraints, rule])
        clash = [p.message for p in report.errors if p.code == "constraints_infeasible"]
        if clash:
            return f"'{rule.describe()}' contradicts the rules in force: " + "; ".join(clash)
        return ""

    def pools(self) -> dict[str, Any]:
        return self._memo("pools", lambda: load_pools(self.config))

    def judge(self) -> Any:
        return self._memo("judge", lambda: make_judge(self.config.eval.judge,
                                                      self.cache.root / "judgements.sqlite"))

    def eval_sets(self) -> dict[str, list[Any]]:
        def load() -> dict[str, list[Any]]:
            settings, sets = self.config.eval, {}
            starter = HELDOUT_EVAL_SETS if settings.split == "heldout" else DEFAULT_EVAL_SETS
            for name in self.objectives:
                named = settings.source(name)
                if named is None and name not in starter:
                    raise ConfigError(f"no eval set for objective '{name}': set "
                                      f"eval.data.{name} in the config")
                source = EvalSource(path=str(starter[name]), format=STARTER_FORMAT) \
                    if named is None else named
                # Frozen beside the run's artifacts, as its judgements are: a resume finds
                # the labels its rounds were scored under.
                sets[name] = load_eval_set(name, source.path, judge=self.judge(),
                                           limit=settings.limit, fmt=source.format,
                                           split=source.split, config=source.config,
                                           per_slice=settings.per_slice,
                                           frozen_in=self.cache.root / "eval_sets")
            return sets

        return self._memo("eval_sets", load)

    def generator(self) -> LazyGenerator:
        return self._memo("generator", lambda: LazyGenerator(self.config))

    def say(self, text: str) -> None:
        if self.progress:  # masked here too: the Python API prints without the CLI's console
            print(redact(f"[mosaic] {text}"), flush=True)

    @contextmanager
    def step(self, name: str, round_number: int) -> Iterator[dict[str, Any]]:
        """Log a step's start and finish (seconds, and `cached` if the body sets it)."""
        self.run.log("step_started", step=name, round=round_number)
        facts: dict[str, Any] = {"cached": False}
        start = time.perf_counter()
        yield facts
        facts["seconds"] = round(time.perf_counter() - start, 2)
        self.run.log("step_finished", step=name, round=round_number, **facts)


@dataclass(kw_only=True)
class LoopContext:
    """What the graph is given with each invocation: plain, JSON-serialisable data.

    A LangGraph server sends it as `context={"run_dir": "runs/x"}` (a folder without a
    config.json is started from `preset` and `overrides`); mosaic's own driver passes the
    RunContext it opened (`register`), so nothing is loaded twice."""

    run_dir: str
    """The run folder."""
    preset: str | None = None
    """Preset name or YAML path a new run starts from (ignored once the folder holds one)."""
    overrides: list[str] = field(default_factory=list)
    """`key=value` overrides of the preset, as on the command line."""
    progress: bool = False
    """Progress lines and bars on the process's stdout."""


_OPEN: dict[Path, RunContext] = {}
_OPEN_LOCK = threading.Lock()


def register(ctx: RunContext) -> LoopContext:
    """Make `ctx` the process's context for its run folder; returns the graph's context."""
    with _OPEN_LOCK:
        _OPEN[ctx.run.root.resolve()] = ctx
    return LoopContext(run_dir=str(ctx.run.root), progress=ctx.progress)


def release(ctx: RunContext) -> None:
    """Forget `ctx` (its models are freed with it) once its driver is done."""
    with _OPEN_LOCK:
        if _OPEN.get(ctx.run.root.resolve()) is ctx:
            del _OPEN[ctx.run.root.resolve()]


def run_context(context: LoopContext | RunContext | None) -> RunContext:
    """The RunContext of the run `context` names: the registered one, else opened from the
    folder (or created from the preset, for a new run served by a LangGraph server). Code in
    the same process may pass a RunContext itself."""
    if isinstance(context, RunContext):
        return context
    if context is None:
        raise ConfigError("the loop needs a context naming its run folder, e.g. "
                          "context={\"run_dir\": \"runs/demo\", \"preset\": \"tiny\"}")
    folder = Path(context.run_dir)
    with _OPEN_LOCK:
        ctx = _OPEN.get(folder.resolve())
        if ctx is None:
            if RunFolder(folder).config.is_file():
                ctx = RunContext.open(folder, progress=context.progress)
            elif context.preset:
                config, _ = apply_overrides(load_preset(context.preset), context.overrides)
                ctx = RunContext.create(config, folder, progress=context.progress)
                ctx.run.log("run_started", preset=config.preset, model=config.model)
            else:
                raise ConfigError(f"{folder} holds no run (no config.json) and the context "
                                  "names no preset to start one from")
            _OPEN[folder.resolve()] = ctx
        return ctx


def read_added_constraints(run: RunFolder) -> list[Constraint]:
    """Rules a reviewer or chat added during the run (constraints.json)."""
    if not run.added_constraints.is_file():
        return []
    return read_json_list(run.added_constraints, None, Constraint)


def _same_rule(a: Constraint, b: Constraint) -> bool:
    return (a.kind, a.objective, a.slice, a.value) == (b.kind, b.objective, b.slice, b.value)


def _artifact_cache(config: RunConfig) -> ArtifactCache:
    return ArtifactCache(Path(config.cache) if config.cache else cache_root() / "artifacts")


def preflight(ctx: RunContext) -> None:
    """Load the pools and eval sets and check the Constraints against them: a ConfigError
    naming every problem, before any model is trained or evaluated."""
    stray = [f"eval.data.{name}: '{name}' is not one of this run's objectives "
             f"({', '.join(ctx.config.pools)})"
             for name in ctx.config.eval.data if name not in ctx.config.pools]
    if stray:  # before loading: a mistyped key would silently leave the starter set in use
        raise ConfigError("the run cannot start: " + "; ".join(stray))
    judge = ctx.config.eval.judge  # said first: labelling the eval sets asks it
    if judge.kind == "llm" and judge.base_url:
        key = "set" if os.environ.get(judge.api_key_env) else "NOT set"
        ctx.say(f"judge: {judge.model} at {public_url(judge.base_url)} (key from "
                f"${judge.api_key_env}: {key}); IFEval by its checkers")
    pools = ctx.pools()
    eval_sets = ctx.eval_sets()
    empty = [f"pool '{name}' ({ctx.config.pools[name].path}) has no usable rows"
             for name, table in pools.items() if len(table) == 0]
    empty += [f"eval set '{name}' has no items" for name in pools
              if not eval_sets.get(name)]
    if empty:
        raise ConfigError("the run cannot start: " + "; ".join(empty))
    cut = ctx.config.train.max_example_tokens
    for name, table in pools.items():
        if table.cut_rows:
            ctx.say(f"warning: pool '{name}': {table.cut_rows:,} row(s) longer than "
                    f"train.max_example_tokens ({cut:,}; the longest {table.longest:,} "
                    f"tokens) are cut to it and planned at {cut:,} tokens")
    problems = []
    for rule in ctx.constraints:
        if rule.objective not in pools:
            problems.append(f"constraint '{rule.describe()}': objective '{rule.objective}' "
                            f"is not one of this run's ({', '.join(pools)})")
        elif rule.slice is not None and rule.slice not in get_objective(rule.objective).slices:
            problems.append(f"constraint '{rule.describe()}': '{rule.slice}' is not a slice "
                            f"of {rule.objective}")
    if not problems:
        report = validate_action(starting_action(pools, ctx.config.mixture), pools,
                                 ctx.config.mixture, ctx.constraints)
        problems = [f"{p.path}: {p.message}" for p in report.errors
                    if p.code in ("constraint_unknown", "constraints_infeasible")]
    if problems:
        raise ConfigError("the run's Constraints cannot hold: " + "; ".join(problems))
    diagnoser = ctx.config.diagnoser
    if diagnoser.base_url:
        key = "set" if os.environ.get(diagnoser.api_key_env) else "NOT set"
        ctx.say(f"diagnoser: {diagnoser.model} at {public_url(diagnoser.base_url)} "
                f"(mode {diagnoser.mode}; key from ${diagnoser.api_key_env}: {key}); the "
                "analyst takes any round the LLM cannot give a valid action for")


def _absolute(path: str) -> str:
    """A local file or folder's absolute path; `starter:` names and Hugging Face ids (no
    such local path) as they are."""
    if path.startswith("starter:") or not Path(path).expanduser().exists():
        return path
    return str(Path(path).expanduser().resolve())


def _absolute_paths(config: RunConfig) -> RunConfig:
    """`config` with every local pool and eval-set path made absolute, so the config.json
    a run folder keeps works from any directory (`mosaic resume` elsewhere)."""
    pools = {name: source.model_copy(update={"path": _absolute(source.path)})
             for name, source in config.pools.items()}
    data = {name: _absolute(entry) if isinstance(entry, str) else
            entry.model_copy(update={"path": _absolute(entry.path)})
            for name, entry in config.eval.data.items()}
    return config.model_copy(update={"pools": pools, "eval": config.eval.model_copy(
        update={"data": data})})
