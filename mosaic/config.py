"""Typed run configuration and the presets in `configs/` (tiny, demo, paper).

A preset is a YAML file that opens with the command that runs it and lists its settings
with a word on each trade-off. `load_preset(name)` reads and validates one; an unknown key
or a value of the wrong type is a ConfigError naming the file and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError, model_validator

from mosaic.data.compose import STARTER_DIR
from mosaic.errors import ConfigError, validation_problems
from mosaic.redact import url_problem
from mosaic.schema import Constraint, Record


def shipped_folder(in_wheel: str, in_repo: str) -> Path:
    """A folder of files that live at the top of the repository (configs/, prompts/) and
    inside the package once it is built (setup.py maps them to mosaic/<in_wheel>/)."""
    package = Path(__file__).resolve().parent
    return package / in_wheel if (package / in_wheel).is_dir() else package.parent / in_repo


CONFIGS_DIR = Path(os.environ.get("MOSAIC_CONFIGS_DIR") or shipped_folder("presets", "configs"))


def endpoint_problem(base_url: str | None, api_key_env: str, section: str) -> str | None:
    """What is wrong with an endpoint's settings, or None. The config is written to the run
    folder, so no secret may ride in it: not in the URL, and the key setting must be the
    NAME of a variable, not the key."""
    problem = url_problem(base_url, f"{section}.base_url") if base_url else None
    if problem:
        return problem
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):
        return (f"{section}.api_key_env must be the NAME of an environment variable "
                "(e.g. DEEPSEEK_API_KEY), not the key itself")
    return None


class MixSettings(Record):
    """How a DataAction becomes a mixture."""

    budget: int = Field(gt=0)
    """Templated tokens of the whole mixture (the base model's own chat template)."""
    seed: int = 0
    """Sampling seed: the same action, pools, budget and seed give the same mixture."""
    repetition_cap: int = Field(default=1, ge=1)
    """Most times one pool row may appear (1 = never repeat a row)."""
    min_quality: float | None = Field(default=None, ge=1, le=5)
    """Leave out pool rows whose gold quality is below this (unjudged rows too); None: keep all."""


class TrainSettings(Record):
    """How a round's LoRA is trained (defaults as the paper code: r 16, alpha 32, dropout
    0.05 on all linear projections, lr 2e-4, one epoch)."""

    lora_r: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"
    """peft's `all-linear` (every linear projection but the output head) or module names."""
    lr: float = Field(default=2e-4, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    max_grad_norm: float = Field(default=1.0, ge=0)
    pack_tokens: int = Field(default=1024, ge=64)
    """Tokens per optimiser step: whole examples packed into one row (no padding, no
    attention across examples). On the CPU 1024 beat 2048 (129 vs 88 tokens/s, SmolLM2):
    the block mask makes attention cost grow with the square of the row."""
    max_example_tokens: int = Field(default=2048, ge=16)
    """Longer examples are cut to this (counted and reported)."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """auto: bf16 autocast where the hardware computes bf16 natively (most GPUs; CPUs with
    AVX-512 BF16 or AMX), fp32 elsewhere. On a GPU, bf16 also loads the base weights in
    bf16 (an 8B model: 16 GB instead of 32); the LoRA weights stay fp32."""
    attention: Literal["auto", "sdpa", "flash_attention_2", "eager"] = "auto"
    """The attention kernel, chosen explicitly: auto is flash_attention_2 on a GPU where the
    flash-attn package is installed, else sdpa (PyTorch's fused kernels). Packed rows keep
    examples apart with either (position ids restart per example)."""
    processes: int = Field(default=1, ge=1)
    """Processes the training step runs in: above 1, the step launches itself under torchrun
    (one process per GPU of this machine; on the CPU, gloo), each process training on its
    share of the packed rows."""
    seed: int = 0

    def cache_fields(self) -> dict[str, Any]:
        """The settings an adapter's cache key covers. Settings added after adapters were
        first cached enter it only when set, so adapters trained before are still found."""
        fields = self.model_dump(mode="json")
        for name in ("attention", "processes"):
            if fields[name] == TrainSettings.model_fields[name].default:
                fields.pop(name)
        return fields


class PoolSource(Record):
    """Where one objective's training pool comes from."""

    path: str
    """A file, folder or Hugging Face id; relative paths are from the working directory,
    `starter:` names a file of the shipped starter data (e.g. `starter:xguard_pool.jsonl`)."""
    format: str = "pool"
    """A loader of `mosaic.data.formats.LOADERS`; `pool` is mosaic's own pre-scored format."""
    split: str | None = None
    """Dataset split (a Hugging Face id or a saved dataset folder; a file in a folder whose
    path contains it)."""
    config: str | None = None
    """Dataset config name (a Hugging Face id; a file in a folder whose path contains it)."""

    def resolved(self) -> Path | str:
        if self.path.startswith("starter:"):
            return STARTER_DIR / self.path.removeprefix("starter:")
        return self.path


class LoopSettings(Record):
    """How long the search goes and how far one round may move the mixture."""

    rounds: int = Field(default=5, ge=0)
    """Trained rounds after the base model's round 0."""
    patience: int | None = Field(default=None, ge=1)
    """Stop early after this many rounds in a row that did not grow the front's
    hypervolume; None: always run every round."""
    review: bool = False
    """Review mode: a person approves, edits or rejects every action before it is built
    (`mosaic run --review`); False: the loop approves validated actions itself."""
    step: float = Field(default=0.15, gt=0, le=1,
                        validation_alias=AliasChoices("step", "max_step"))
    """The analyst's step: its largest move of one share (ratio or bucket weight) in one
    round, halved for each round tried since the best round without displacing it (a trust
    region); an objective that lost beyond noise gets one step more share than the best
    round gave it. (Called `max_step` before; old configs are read with the new name.)"""


class EvalSource(Record):
    """Where one objective's eval set comes from, when more than a path is needed."""

    path: str
    """A file, folder or Hugging Face id."""
    format: str | None = None
    """A loader of `mosaic.data.formats.LOADERS`; None: the objective's public eval format
    (attacks, overrefusal, ifeval)."""
    split: str | None = None
    """Dataset split (a Hugging Face id or a saved dataset folder)."""
    config: str | None = None
    """Dataset config name (e.g. OR-Bench's `or-bench-hard-1k`)."""


class JudgeSettings(Record):
    """Who judges the replies (and labels the eval sets' prompts) in a run."""

    kind: Literal["rules", "llm"] = "rules"
    """rules: mosaic's offline pattern judges (free, deterministic; docs/judges.md measures
    them); llm: an OpenAI-compatible judge model for xguard and orbench, as the paper did
    (DeepSeek). IFEval is always checked by its verifiers."""
    base_url: str | None = None
    """llm: the endpoint, e.g. https://api.deepseek.com."""
    model: str = ""
    """llm: the judge model, e.g. deepseek-chat."""
    api_key_env: str = "OPENAI_API_KEY"
    """llm: NAME of the environment variable holding the key (the key is never stored)."""
    concurrency: int = Field(default=8, ge=1)
    """llm: judgements asked at once."""

    @model_validator(mode="after")
    def _endpoint(self) -> JudgeSettings:
        if self.kind == "llm" and not (self.base_url and self.model):
            raise ValueError("eval.judge.kind is llm: set eval.judge.base_url and "
                             "eval.judge.model")
        problem = endpoint_problem(self.base_url, self.api_key_env, "eval.judge")
        if problem:
            raise ValueError(problem)
        return self


class EvalSettings(Record):
    """How every round (and the base model) is evaluated."""

    data: dict[str, str | EvalSource] = Field(default_factory=dict)
    """Objective -> eval set: a path (file, folder or hub id in the objective's public
    format) or {path, format, split, config}; objectives left out use the shipped starter
    sets named by `split`."""
    split: Literal["eval", "heldout"] = "eval"
    """Which starter sets objectives without `data` use: the eval sets the search reads, or
    the held-out (generalisation) sets kept for the final comparison (benchmarks/search.py)."""
    per_slice: int | None = Field(default=None, ge=1)
    """Keep the first N items of every slice (a small eval that covers every slice)."""
    limit: int | None = Field(default=None, ge=1)
    """Keep the first N items of each eval set (before per_slice)."""
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    """transformers (in this process, CPU or GPU), vllm (an engine in this process, GPU), or
    openai (an OpenAI-compatible server that serves the base model, e.g. `vllm serve`; each
    round's adapter is loaded into it at run time, so no second copy of the model loads)."""
    base_url: str | None = None
    """openai backend: the server's /v1 URL, e.g. http://127.0.0.1:8000/v1."""
    api_key_env: str = "OPENAI_API_KEY"
    """openai backend: NAME of the environment variable holding the key (a local server
    needs none)."""
    served_model: str | None = None
    """openai backend: the name the server serves the base model under (vllm serve's
    --served-model-name); None: the run's `model`."""
    gpu_memory_utilization: float = Field(default=0.5, gt=0, lt=1)
    """vllm backend: the share of the GPU's memory the engine takes (weights, KV cache);
    the rest is the trainer's, which shares the process and the GPU."""
    sleep_while_training: bool = True
    """vllm backend: put the engine to sleep (vLLM sleep mode level 1: weights to CPU
    memory, KV cache dropped) while a round trains, and wake it to evaluate."""
    engine: Literal["auto", "decoder", "generate"] = "auto"
    """transformers backend: `decoder` (mosaic's KV-cached decoder over merged, packed weights;
    Llama-family models on the CPU), `generate` (transformers' `model.generate` with peft's
    adapter layers, the engine before the decoder), `auto` (the decoder where it supports the
    model). Replies can differ where float rounding flips a near-tie, so the engine is part
    of the generation cache key."""
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """transformers backend: the precision of generation. `auto`: bfloat16 on a CPU with
    native bf16 (AVX512-BF16 or AMX; measured 1.8x float32's speed there), else float32
    (bf16 measured 0.36x on AVX2), resolved when a run starts and frozen into its
    config.json. Part of the generation cache key (docs/generation.md)."""
    max_new_tokens: int = Field(default=256, ge=1)
    """Reply length cap per turn; multi-turn replay generates once per user turn."""
    batch_size: int = Field(default=16, ge=1)
    system_prompt: str | None = None
    seed: int = 0
    """Seed of generation and of the bootstrap CIs."""
    judge: JudgeSettings = Field(default_factory=JudgeSettings)

    @model_validator(mode="after")
    def _endpoint(self) -> EvalSettings:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("eval.backend is openai but eval.base_url is not set: name the "
                             "server's /v1 URL (e.g. http://127.0.0.1:8000/v1)")
        problem = endpoint_problem(self.base_url, self.api_key_env, "eval")
        if problem:
            raise ValueError(problem)
        return self

    def source(self, objective: str) -> EvalSource | None:
        """The eval set `data` names for `objective`, as an EvalSource (None: not named)."""
        entry = self.data.get(objective)
        return EvalSource(path=entry) if isinstance(entry, str) else entry


class DiagnoserSettings(Record):
    """The LLM diagnoser: any OpenAI-compatible endpoint. Without `base_url` the offline
    analyst proposes every action; with it the LLM does, and the analyst takes over (and
    says so in the round's trace) whenever the LLM gives no valid action."""

    base_url: str | None = None
    """e.g. https://api.deepseek.com or http://127.0.0.1:8000/v1; None: analyst only."""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    """NAME of the environment variable holding the key (the key is never stored)."""
    mode: Literal["auto", "tools", "json_schema", "json_object"] = "auto"
    """How the action comes back: `tools` (probes and the answer as tool calls),
    `json_schema` (decoded against the run's action schema), `json_object` (any JSON
    object, e.g. DeepSeek); the last two get the probes' findings in the prompt instead.
    auto: tools, then json_schema, then json_object, as far as the endpoint accepts them."""
    max_answers: int = Field(default=3, ge=1)
    """Answers the LLM may give per round; an invalid one goes back to it with the
    validation report. After the last, the analyst takes over."""
    max_probes: int = Field(default=12, ge=0)
    """Tool calls to probes per round (then it is asked for its answer)."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Per request."""
    max_retries: int = Field(default=2, ge=0)
    """Client retries on 429, 5xx, timeouts and connection errors (exponential backoff)."""
    max_move: float | None = Field(default=0.3, gt=0, le=1,
                                   validation_alias=AliasChoices("max_move", "max_step"))
    """Largest change of any ratio or bucket weight an LLM action may make from the
    current action (the starting mixture after the base model); a larger move is refused
    with the report, like a broken Constraint. On by default at twice the analyst's step
    (the prompt asks for moves of at most `loop.step`), so no answer, however it was
    talked into it, swings a share to 1.0 in one round; None: only the Constraints bound
    it. (Called `max_step` before; old configs are read with the new name.)"""
    round_timeout_s: float = Field(default=900.0, gt=0)
    """No new request after this long in one round's diagnosis: the analyst takes over."""
    temperature: float = Field(default=0.0, ge=0)
    seed: int | None = 0
    """Sent where the provider honours it; None: not sent."""
    max_tokens: int = Field(default=1500, ge=64)
    example_chars: int = Field(default=400, ge=40)
    """Eval text shown to the LLM is cut to this many characters per turn."""

    @model_validator(mode="after")
    def _model_with_endpoint(self) -> DiagnoserSettings:
        if self.base_url and not self.model:
            raise ValueError("diagnoser.base_url is set but diagnoser.model is empty: name "
                             "the model the endpoint serves")
        problem = endpoint_problem(self.base_url, self.api_key_env, "diagnoser")
        if problem:
            raise ValueError(problem)
        return self


class RunConfig(Record):
    """One run's settings (a preset plus overrides)."""

    preset: str
    """Name of the preset this config came from."""
    model: str
    """Base model: tiny | smollm2-135m-instruct | PATH | ORG/NAME."""
    pools: dict[str, PoolSource]
    """Objective -> its training pool; these are the run's objectives, in order."""
    mixture: MixSettings
    constraints: list[Constraint] = Field(default_factory=list)
    """Rules every action must satisfy (reviewers and chat add more during a run)."""
    train: TrainSettings = Field(default_factory=TrainSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    loop: LoopSettings = Field(default_factory=LoopSettings)
    diagnoser: DiagnoserSettings = Field(default_factory=DiagnoserSettings)
    cache: str | None = None
    """Folder of the content-addressed artifact cache (mixtures, adapters, generations,
    judgements); None: `$MOSAIC_CACHE_DIR/artifacts` (shared by runs, so a second run
    reuses what the first computed)."""


def preset_names() -> list[str]:
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))


def load_preset(name: str) -> RunConfig:
    """The preset `name` from `configs/` (shipped inside the package too), or a preset
    file of one's own when `name` is a path to a .yaml file; validated."""
    import yaml

    path = CONFIGS_DIR / f"{name}.yaml"
    if name.endswith((".yaml", ".yml")):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(f"no preset file {path}")
        name = path.stem
    elif not path.is_file():
        known = ", ".join(preset_names()) or "(none)"
        raise ConfigError(f"unknown preset '{name}' (no {path}); presets: {known}")
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return RunConfig.model_validate({"preset": name, **raw})
    except ValidationError as error:
        raise ConfigError(f"{path}: {'; '.join(validation_problems(error))}") from None


RENAMED_SETTINGS = {"loop.max_step": "loop.step", "diagnoser.max_step": "diagnoser.max_move"}
"""Old override keys read with their new names (files are read through the fields'
AliasChoices)."""

OPEN_MAPS = ("pools", "eval.data")
"""Settings that are maps keyed by objective: an override may add an entry
(`eval.data.orbench=or.csv`, `pools.xguard.path=x.jsonl`)."""


def apply_overrides(config: RunConfig, overrides: Sequence[str]) -> tuple[RunConfig, list[str]]:
    """`config` with `key=value` overrides applied (`mixture.budget=8000`, `train.lr=1e-3`,
    `loop.rounds=2`), and one line per override saying what changed.

    Keys are dotted paths of existing settings: an unknown key is a ConfigError naming it
    and the keys that exist there. Values are read as YAML scalars (`8000`, `1e-3`, `null`,
    `true`) and must fit the setting's type; every problem is listed at once.
    """
    import yaml

    data = config.model_dump(mode="json")
    lines, problems = [], []
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            problems.append(f"{override!r}: expected KEY=VALUE, e.g. mixture.budget=8000")
            continue
        key = RENAMED_SETTINGS.get(key.strip(), key)
        parts = key.strip().split(".")
        node: Any = data
        created: list[tuple[dict, str]] = []  # new map entries, taken back if the key fails
        for depth, part in enumerate(parts):
            if (isinstance(node, dict) and part not in node
                    and ".".join(parts[:depth]) in OPEN_MAPS):
                node[part] = {} if depth < len(parts) - 1 else None  # a new entry of a map
                created.append((node, part))
            if not isinstance(node, dict) or part not in node:
                where = ".".join(parts[:depth]) or "the top level"
                known = (", ".join(sorted(node)) or "none") if isinstance(node, dict) else \
                    "(not a section)"
                problems.append(f"{key.strip()}: unknown setting '{part}' in {where} "
                                f"(known: {known})")
                for parent, name in created:
                    parent.pop(name, None)
                break
            if depth == len(parts) - 1:
                try:
                    value = yaml.safe_load(raw) if raw.strip() else ""
                except yaml.YAMLError:
                    value = raw
                if (isinstance(value, str) and isinstance(node[part], int | float)
                        and _looks_numeric(value)):
                    value = float(value)  # YAML 1.1 reads `1e-3` as a string
                lines.append(f"{key.strip()}: {node[part]!r} -> {value!r} (override)")
                node[part] = value
            else:
                node = node[part]
    try:  # the known keys' values too, so every problem is listed in one message
        resolved = RunConfig.model_validate(data)
    except ValidationError as error:
        problems += validation_problems(error)
    if problems:
        raise ConfigError("bad override(s): " + "; ".join(problems))
    return resolved, lines


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
