"""One round's LoRA fine-tune: a mixture folder + a base model -> an adapter folder.

    adapter = train(Path("runs/mix"), "smollm2-135m-instruct", TrainSettings(), Path("runs/lora"))

setup (load the base model, wrap it in a fresh LoRA, encode and pack the mixture) ->
train (`loop.train_lora`: progress bar with tokens/s, one metrics line per step) -> save
(`adapter_model.safetensors` + `adapter_config.json` from peft, `mosaic_card.json` and a
README card: mixture hash, base model, settings, seed, realised tokens, final loss).

The loss covers exactly the assistant turns: each chat is rendered with the base model's
own template and the tokens inside `assistant_spans` (content + end-of-turn token) are the
targets, for any template (not a Llama-3 header search, docs/reference.md §3.7). The budget was
counted with the same spans (mosaic.data.tokens), so training and budget agree.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaic import hardware
from mosaic.config import TrainSettings
from mosaic.data.mixture_files import read_mixture
from mosaic.data.tokens import assistant_spans, token_mask
from mosaic.errors import ConfigError
from mosaic.schema import Message, MixtureManifest, Record
from mosaic.store import read_json, write_json_atomic
from mosaic.train.launch import launched, train_in_processes
from mosaic.train.loop import (
    IGNORE,
    Example,
    LoopStats,
    TrainLoopSettings,
    is_main_process,
    pack_examples,
    train_lora,
)
from mosaic.train.models import load_model, resolve_model

CARD_FILE = "mosaic_card.json"
METRICS_FILE = "metrics.jsonl"


class AdapterCard(Record):
    """What `mosaic_card.json` says about a trained adapter: what it was trained on, how,
    and what came of it. `Adapter.card` is its JSON form, as written to the file."""

    version: int = 1
    base_model: str
    """The model spec it was trained on (`tiny`, `smollm2-135m-instruct`, a path, an id)."""
    base_model_id: str
    mixture_hash: str
    mixture_action_hash: str
    mixture_token_count: str
    settings: dict[str, Any]
    """The TrainSettings (`model_dump`)."""
    mixed_precision: str
    attention: str = "sdpa"
    """The attention implementation trained with (cards before it was recorded: sdpa)."""
    base_dtype: str = "float32"
    """The dtype the base weights were loaded in (cards before it was recorded: fp32)."""
    seed: int
    examples: int
    examples_cut: int
    """Examples cut to `max_example_tokens`."""
    examples_without_targets: int
    """Examples whose assistant turns were all cut away (nothing to learn from)."""
    steps: int
    processes: int
    realised_tokens: int
    trained_tokens: int
    """Assistant tokens the loss was taken on."""
    seconds: float
    tokens_per_second: float
    first_loss: float | None
    """None: no step ran, or the loss was not a finite number (training diverged)."""
    final_loss: float | None
    versions: dict[str, str]
    """torch, transformers and peft versions."""
    created_at: str


@dataclass(frozen=True)
class Adapter:
    """A trained adapter: where it is, and what its card says."""

    path: Path
    card: dict[str, Any]
    """The AdapterCard, as JSON data (what `mosaic_card.json` holds)."""
    main_process: bool = True
    """False in the other processes of a multi-process run (they wrote nothing)."""


def encode_chat(tokenizer: Any, messages: Sequence[Message | dict],
                max_tokens: int | None = None) -> Example:
    """Token ids of a chat under the tokenizer's template, and labels that keep only the
    assistant turns (content + end-of-turn token); cut to `max_tokens` when given."""
    text, spans = assistant_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    mask = token_mask(encoded["offset_mapping"], spans)
    labels = [t if inside else IGNORE for t, inside in zip(ids, mask, strict=True)]
    return Example(ids[:max_tokens], labels[:max_tokens])


def precision_for(settings: TrainSettings) -> str:
    """`bf16` (autocast) or `no`, from the setting and the hardware: auto means bf16 where
    the hardware computes it natively (a GPU that supports it, or a CPU with AVX-512 BF16 /
    AMX, where it measured 1.3x faster than fp32 for SmolLM2 LoRA), fp32 elsewhere."""
    import torch

    if settings.precision != "auto":
        return "bf16" if settings.precision == "bf16" else "no"
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"

    return "bf16" if hardware.cpu_has_native_bf16() else "no"


def base_dtype(settings: TrainSettings) -> Any:
    """The dtype the base weights load in for training: bf16 on a GPU training in bf16
    (half the memory; the LoRA weights stay fp32), else fp32 (on the CPU autocast does the
    bf16 work and fp32 weights measured faster)."""
    import torch

    if torch.cuda.is_available() and precision_for(settings) == "bf16":
        return torch.bfloat16
    return torch.float32


def attention_for(settings: TrainSettings) -> str:
    """The attention implementation, explicit: `auto` is flash_attention_2 on a GPU training
    in bf16 with the flash-attn package installed, else sdpa."""
    import importlib.util

    import torch

    half = base_dtype(settings) == torch.bfloat16  # flash-attn takes fp16/bf16 only
    if settings.attention == "flash_attention_2" and not half:
        raise ConfigError("train.attention flash_attention_2 needs the base weights in bf16 "
                          "(a GPU training in bf16: train.precision auto or bf16); use sdpa")
    if settings.attention != "auto":
        return settings.attention
    if half and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def release_gpu_memory() -> None:
    """Hand the memory PyTorch's allocator still holds after training back to the GPU, so
    an evaluation engine that wakes (or starts) next finds its share free."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def add_lora(model: Any, settings: TrainSettings) -> Any:
    """The model wrapped in a fresh LoRA (only the LoRA weights train)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                        lora_dropout=settings.lora_dropout,
                        target_modules=settings.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def train(mixture: Path, model_spec: str, settings: TrainSettings, out: Path, *,
          progress: bool = True) -> Adapter:
    """Train a fresh LoRA on the mixture in `mixture` from `model_spec`; save it to `out`.
    With `settings.processes` above 1 (and not yet launched), the training runs in that
    many processes under torchrun (`launch.py`) and this one reads the card they wrote."""
    import torch

    if settings.processes > 1 and not launched():
        train_in_processes(mixture, model_spec, settings, out, progress=progress)
        card = read_json(out / CARD_FILE, AdapterCard)
        return Adapter(out, card.model_dump(mode="json"))
    chats, manifest = read_mixture(mixture)
    torch.manual_seed(settings.seed)
    resolved = resolve_model(model_spec)
    attention = attention_for(settings)
    model, tokenizer = load_model(model_spec, dtype=base_dtype(settings), attention=attention)
    examples, cut, targetless = _encode_all(tokenizer, chats, settings.max_example_tokens)
    packs = pack_examples(examples, settings.pack_tokens)
    model = add_lora(model, settings)
    main = is_main_process()
    out.mkdir(parents=True, exist_ok=True)
    metrics = (out / METRICS_FILE).open("w", encoding="utf-8") if main else None
    bar = _progress(len(packs), settings.epochs) if progress and main else None

    def on_step(record: dict[str, Any]) -> None:  # called in the main process only
        assert metrics is not None  # opened in the main process
        metrics.write(json.dumps(record) + "\n")
        metrics.flush()
        if bar is not None:
            bar.total = record["steps"]  # the loop's own count (per process under a launcher)
            bar.set_postfix(loss=f"{record['loss']:.3f}",
                            tok_s=f"{record['tokens'] / max(record['seconds'], 1e-9):.0f}")
            bar.update(1)

    loop = TrainLoopSettings(lr=settings.lr, epochs=settings.epochs,
                             warmup_ratio=settings.warmup_ratio,
                             weight_decay=settings.weight_decay,
                             max_grad_norm=settings.max_grad_norm, seed=settings.seed,
                             mixed_precision=precision_for(settings))
    try:
        stats = train_lora(model, packs, loop, on_step=on_step)
    finally:
        if metrics is not None:
            metrics.close()
        if bar is not None:
            bar.close()
    card = _card(manifest, resolved.model_id, model_spec, settings, loop, stats,
                 examples=len(examples), cut=cut, targetless=targetless,
                 attention=attention, base_dtype=str(model.dtype).removeprefix("torch."))
    if stats.main_process:  # under `accelerate launch`, one process writes
        model.save_pretrained(out)
        _write_readme(out, card)
        # Last: its presence means the folder is done.
        write_json_atomic(out / CARD_FILE, card.model_dump(mode="json"))
    return Adapter(out, card.model_dump(mode="json"), main_process=stats.main_process)


def _encode_all(tokenizer: Any, chats: list[list[Message]], max_tokens: int
                ) -> tuple[list[Example], int, int]:
    """Examples to train on, how many were cut to `max_tokens`, and how many were left out
    because the cut removed every assistant token (their loss would be 0/0)."""
    examples, cut, targetless = [], 0, 0
    for chat in chats:
        full = encode_chat(tokenizer, chat)
        cut += len(full.input_ids) > max_tokens
        example = Example(full.input_ids[:max_tokens], full.labels[:max_tokens])
        if all(label == IGNORE for label in example.labels[1:]):
            targetless += 1
            continue
        examples.append(example)
    if not examples:
        raise ConfigError(f"no chat keeps an assistant token within {max_tokens} tokens; "
                          "raise max_example_tokens")
    return examples, cut, targetless


def _progress(packs: int, epochs: float) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=max(1, round(packs * epochs)), desc="[mosaic] train", unit="step")


def _card(manifest: MixtureManifest, model_id: str, model_spec: str, settings: TrainSettings,
          loop: TrainLoopSettings, stats: LoopStats, *, examples: int, cut: int,
          targetless: int, attention: str, base_dtype: str) -> AdapterCard:
    import peft
    import torch
    import transformers

    return AdapterCard(
        base_model=model_spec,
        base_model_id=model_id,
        mixture_hash=manifest.content_hash,
        mixture_action_hash=manifest.action_hash,
        mixture_token_count=manifest.token_count,
        settings=settings.model_dump(mode="json"),
        mixed_precision=loop.mixed_precision,
        attention=attention,
        base_dtype=base_dtype,
        seed=settings.seed,
        examples=examples,
        examples_cut=cut,
        examples_without_targets=targetless,
        steps=stats.steps,
        processes=stats.processes,
        realised_tokens=stats.tokens,
        trained_tokens=stats.trained_tokens,
        seconds=round(stats.seconds, 2),
        tokens_per_second=round(stats.tokens_per_second, 1),
        first_loss=_finite(stats.losses[0]) if stats.losses else None,
        final_loss=_finite(stats.losses[-1]) if stats.losses else None,
        versions={"torch": torch.__version__, "transformers": transformers.__version__,
                  "peft": peft.__version__},
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _finite(loss: float) -> float | None:
    # A diverged loss (NaN, inf) is no number JSON can hold: the card says None instead.
    return loss if math.isfinite(loss) else None


def loss_text(card: AdapterCard, digits: int = 3) -> str:
    """`first -> final` loss, or why there is none."""
    if not card.steps:
        return "no steps were run"
    if card.first_loss is None or card.final_loss is None:
        return "loss not finite (training diverged)"
    return f"loss {card.first_loss:.{digits}f} -> {card.final_loss:.{digits}f}"


def _write_readme(out: Path, card: AdapterCard) -> None:
    settings = card.settings
    lines = [
        f"# LoRA adapter for {card.base_model}",
        "",
        f"Trained by mosaic on mixture `{card.mixture_hash}` ({card.realised_tokens:,} "
        f"tokens, {card.trained_tokens:,} of them assistant targets, "
        f"{card.examples} chats) in {card.steps} steps, seed {card.seed}.",
        "",
        f"LoRA r={settings['lora_r']}, alpha={settings['lora_alpha']}, dropout "
        f"{settings['lora_dropout']}, modules {settings['target_modules']}; lr {settings['lr']},"
        f" {settings['epochs']} epoch(s), {card.mixed_precision} precision.",
        f"{loss_text(card, 4).capitalize()}; {card.tokens_per_second:,} tokens/s.",
        "",
        "Everything above is in `mosaic_card.json`; per-step metrics in `metrics.jsonl`.",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
