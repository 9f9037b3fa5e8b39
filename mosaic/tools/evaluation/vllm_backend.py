"""Generation with vLLM's offline engine: the GPU extra, imported only inside a guard.

One engine stays warm across calls (and rounds); adapters are served with `LoRARequest`,
each with a stable integer id. vLLM has a known bug where requests for the base model,
batched together with adapter requests, get the adapter applied; we never mix them in one
call (base and adapter calls are separate) and size `max_loras` one above the number of
adapters, the workaround confirmed on the CPU build.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mosaic.data.tokens import render_chat
from mosaic.errors import MissingExtra
from mosaic.tools.evaluation.interface import (
    BackendError,
    Conversation,
    Decoding,
    adapter_identity,
    end_token_ids,
)


def import_vllm() -> Any:
    """The vllm module, or MissingExtra with the install line (never an import error)."""
    try:
        import vllm
    except Exception as error:  # ImportError, or a broken CUDA/torch build underneath
        raise MissingExtra(f"the vllm backend ({type(error).__name__}: {error})",
                           "pip install 'mosaic[gpu]'  (CPU machines: see `make test-vllm`)"
                           ) from None
    return vllm


def _sleep_mode_available() -> bool:
    try:
        from vllm.platforms import current_platform
    except Exception:  # an older layout: assume the CUDA platform, which has it
        return True
    available = getattr(current_platform, "is_sleep_mode_available", None)
    return bool(available()) if callable(available) else True


class VLLMGenerator:
    """vLLM's offline engine in this process. It takes `gpu_memory_utilization` of the GPU
    (weights and KV cache), leaving the rest to the trainer that shares the process; with
    `sleep_mode`, `sleep()` frees the GPU while a round trains (level 1: the weights wait in
    CPU memory, the KV cache is dropped) and the next `generate` wakes it."""

    def __init__(self, model_path: str, *, max_model_len: int = 4096, max_lora_rank: int = 64,
                 max_adapters: int = 4, enforce_eager: bool = False, dtype: str = "auto",
                 seed: int = 0, gpu_memory_utilization: float = 0.5, sleep_mode: bool = False,
                 **engine_args: Any) -> None:
        vllm = import_vllm()
        self._vllm = vllm
        if sleep_mode and not _sleep_mode_available():
            sleep_mode = False  # vLLM's CPU build has none: the engine simply stays awake
        self.model_path = model_path
        self.name = f"vllm:{model_path}"
        self._adapters: dict[str, int] = {}
        try:
            self.engine = vllm.LLM(model=model_path, enable_lora=True, max_lora_rank=max_lora_rank,
                                   max_loras=max_adapters + 1, max_model_len=max_model_len,
                                   enforce_eager=enforce_eager, dtype=dtype, seed=seed,
                                   gpu_memory_utilization=gpu_memory_utilization,
                                   enable_sleep_mode=sleep_mode, **engine_args)
        except Exception as error:
            raise BackendError(f"vLLM could not start on {model_path}: {type(error).__name__}: "
                               f"{error}") from None
        self.tokenizer = self.engine.get_tokenizer()
        self._stop_ids = end_token_ids(self.tokenizer)
        self.sleep_mode = sleep_mode
        self.sleeping = False

    def sleep(self) -> None:
        """Free the GPU for training (only with sleep mode; a no-op otherwise)."""
        if self.sleep_mode and not self.sleeping:
            self.engine.sleep(level=1)
            self.sleeping = True

    def _wake(self) -> None:
        if self.sleeping:
            self.engine.wake_up()
            self.sleeping = False

    def _lora(self, adapter: str | None) -> Any:
        if adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        folder = str(Path(adapter).resolve())
        if not (Path(folder) / "adapter_config.json").is_file():
            raise BackendError(f"{folder} is not a peft adapter folder (no adapter_config.json)")
        key = adapter_identity(folder)
        if key not in self._adapters:  # a rewritten folder gets a new id, so vLLM reloads it
            self._adapters[key] = len(self._adapters) + 1
        return LoRARequest(f"adapter{self._adapters[key]}", self._adapters[key], folder)

    def generate(self, conversations: Sequence[Conversation], decoding: Decoding, *,
                 adapter: str | None = None, progress: bool = False) -> list[str]:
        self._wake()
        params = self._vllm.SamplingParams(
            max_tokens=decoding.max_new_tokens, temperature=decoding.temperature,
            top_p=decoding.top_p, seed=decoding.seed if decoding.temperature > 0 else None,
            stop_token_ids=self._stop_ids)
        # Token ids, not text: vLLM would add the BOS token again to a rendered template.
        prompts = [{"prompt_token_ids": self.tokenizer(
            render_chat(self.tokenizer, c, add_generation_prompt=True),
            add_special_tokens=False)["input_ids"]} for c in conversations]
        try:
            outputs = self.engine.generate(prompts, params, lora_request=self._lora(adapter),
                                           use_tqdm=progress)
        except BackendError:
            raise
        except Exception as error:  # e.g. a prompt longer than max_model_len
            raise BackendError(f"vLLM generation failed on {self.model_path}: "
                               f"{type(error).__name__}: {error}") from None
        return [o.outputs[0].text.strip() for o in outputs]
