"""What a run generates and judges with, built from its config: the generation backend
(loaded only when a reply is needed) and the judge.

    generator = LazyGenerator(config)        # cheap: nothing loads until `generate`
    judge = make_judge(config.eval.judge, cache / "judgements.sqlite")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosaic.config import JudgeSettings, RunConfig
from mosaic.redact import watch
from mosaic.tools.evaluation.generation import (
    BackendError,
    choose_engine,
    generator_name,
    make_generator,
    resolve_dtype,
)
from mosaic.tools.evaluation.judges import Judge, RuleJudge
from mosaic.tools.evaluation.judges.cache import JudgementCache
from mosaic.tools.evaluation.judges.llm import LLMJudge, LLMJudgeConfig
from mosaic.train.models import load_configs, resolve_model


class LazyGenerator:
    """The run's generation backend, loaded on the first `generate` call: an evaluation
    answered from the cache (a resumed or repeated round) never loads the model. Its name,
    part of generation cache keys, is the backend (and engine) and the base model's content
    id (not a path), so the same weights anywhere share replies and new weights never reuse
    them."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        resolved = resolve_model(config.model)
        self.name = f"{config.eval.backend}:{resolved.model_id}"
        if config.eval.backend == "openai":  # what the server serves, and which weights
            self.name = f"openai:{self._served_model()}:{resolved.model_id}"
            watch(config.eval.api_key_env)  # masked from the start, not once it first loads
        if config.eval.backend == "transformers":
            model_config, generation_config = load_configs(config.model)
            engine = choose_engine(config.eval.engine, model_config, "cpu", generation_config)
            # On the CPU a dtype always resolves (None, the saved dtype, is for GPUs).
            self.name = generator_name(resolved.model_id, engine,
                                       resolve_dtype(config.eval.dtype, "cpu") or "float32")
        self._loaded: Any = None

    def generate(self, conversations: Any, decoding: Any, *, adapter: str | None = None,
                 progress: bool = False) -> list[str]:
        if self._loaded is None:
            # The model is built with the trainer's seed (0): `eval.seed` seeds decoding and
            # the bootstrap only, never the weights (the tiny model is random-init).
            settings = self.config.eval
            model = self._served_model() if settings.backend == "openai" else self.config.model
            self._loaded = make_generator(
                settings.backend, model, base_url=settings.base_url,
                api_key_env=settings.api_key_env, engine=settings.engine, dtype=settings.dtype,
                gpu_memory_utilization=settings.gpu_memory_utilization,
                sleep_mode=settings.sleep_while_training)
            if self.config.eval.backend == "transformers" and self._loaded.name != self.name:
                raise BackendError(f"generator {self._loaded.name} is not the {self.name} "
                                   "this run keys its replies by")
        return self._loaded.generate(conversations, decoding, adapter=adapter,
                                     progress=progress)

    def _served_model(self) -> str:
        return self.config.eval.served_model or self.config.model

    def sleep(self) -> None:
        """Free the GPU for a round's training: a loaded vLLM engine in sleep mode sleeps
        (the next `generate` wakes it); any other backend has nothing to free."""
        sleep = getattr(self._loaded, "sleep", None)
        if sleep is not None:
            sleep()


def freeze_eval_dtype(config: RunConfig) -> RunConfig:
    """`eval.dtype: auto` resolved on this machine, so the run's config.json says what it
    generates in and a resume on another CPU keeps it (replies stay of one precision)."""
    if config.eval.backend != "transformers" or config.eval.dtype != "auto":
        return config

    settings = config.eval.model_copy(update={"dtype": resolve_dtype("auto")})
    return config.model_copy(update={"eval": settings})


def make_judge(settings: JudgeSettings, cache: Path) -> Judge:
    """The run's judge: the rule judge, or the LLM judge over its endpoint, its answers
    cached in `cache` (beside the run's other artifacts: a resumed or repeated round asks
    nothing again)."""
    if settings.kind == "rules":
        return RuleJudge()
    assert settings.base_url is not None  # JudgeSettings requires it for llm
    return LLMJudge(LLMJudgeConfig(base_url=settings.base_url, model=settings.model,
                                   api_key_env=settings.api_key_env,
                                   concurrency=settings.concurrency),
                    cache=JudgementCache(cache))
