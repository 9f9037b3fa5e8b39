"""The LoRA training loop over packed examples: torch, peft and accelerate only.

    packs = pack_examples(examples, pack_tokens=2048)
    stats = train_lora(model, packs, LoopSettings(lr=2e-4, epochs=1, seed=0))

Packing without attention across examples: each step feeds one row of several whole
examples laid end to end, with `position_ids` restarting at 0 for each example and no
attention mask. transformers then builds a block-diagonal causal mask from the position
ids (masking_utils' packed-sequence detection, sdpa and eager attention), so no token sees
another example, and no step spends compute on padding. A test checks the packed logits
equal the logits of each example run alone.

The loop goes through `accelerate.Accelerator`, so the same code runs on the CPU, one GPU,
or several GPUs under `accelerate launch` (each process takes every n-th pack). It imports
nothing of mosaic's typed layer (pydantic), so `scripts/gpu_check.sh` can run it on a GPU
machine that has only torch, transformers, peft and accelerate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

IGNORE = -100
"""Label of a token the loss ignores (outside assistant turns)."""


@dataclass(frozen=True)
class Example:
    """One tokenised chat: its ids and its labels (IGNORE outside assistant tokens)."""

    input_ids: list[int]
    labels: list[int]


@dataclass(frozen=True)
class Pack:
    """Whole examples laid end to end in one row (one optimiser step's input)."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    examples: int

    @property
    def tokens(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def pack_examples(examples: Sequence[Example], pack_tokens: int) -> list[Pack]:
    """Lay examples end to end, in order, starting a new pack when the next one would not
    fit. An example longer than `pack_tokens` gets a pack of its own (truncate before)."""
    packs: list[Pack] = []
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    count = 0
    for example in examples:
        if ids and len(ids) + len(example.input_ids) > pack_tokens:
            packs.append(Pack(ids, labels, positions, count))
            ids, labels, positions, count = [], [], [], 0
        ids.extend(example.input_ids)
        # The first token of an example is never a target: it would be predicted from the
        # previous example's last token.
        labels.extend([IGNORE, *example.labels[1:]])
        positions.extend(range(len(example.input_ids)))
        count += 1
    if ids:
        packs.append(Pack(ids, labels, positions, count))
    return packs


@dataclass(frozen=True)
class LoopSettings:
    """How to train (the LoRA shape is set on the model before the loop)."""

    lr: float = 2e-4
    """Peak learning rate (the paper code's 2e-4)."""
    epochs: float = 1.0
    """Passes over the packs (fractions allowed: 0.5 = the first half)."""
    warmup_ratio: float = 0.03
    """Share of steps with a linear warm-up; then linear decay to 0."""
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    mixed_precision: str = "no"
    """`no` or `bf16` (autocast); the caller decides from the hardware."""
    max_seconds: float | None = None
    """Stop after this long (benchmarks, gpu_check); None: run every step."""


@dataclass
class LoopStats:
    steps: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    main_process: bool = True
    """False in the other processes of an `accelerate launch` run (they save nothing)."""
    processes: int = 1

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


StepHook = Callable[[dict[str, Any]], None]


def train_lora(model: Any, packs: Sequence[Pack], settings: LoopSettings, *,
               on_step: StepHook | None = None) -> LoopStats:
    """Train the model's trainable (LoRA) parameters on `packs`; returns what it did.

    `on_step` gets one record per optimiser step (main process only): step, loss, lr,
    tokens, seconds. Under `accelerate launch`, each of n processes trains on every n-th
    pack of the schedule; `tokens` counts this process's.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    set_seed(settings.seed)
    # Precision by our own autocast, not Accelerator(mixed_precision=...): accelerate keeps
    # one global state per process, and a second round with another setting would fail.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    autocast = torch.autocast(accelerator.device.type, dtype=torch.bfloat16,
                              enabled=settings.mixed_precision == "bf16")
    order = torch.randperm(len(packs), generator=torch.Generator().manual_seed(settings.seed))
    steps = max(1, math.ceil(len(packs) * settings.epochs)) if packs else 0
    schedule = [int(order[i % len(packs)]) for i in range(steps)]
    # Every process must run the same number of steps (gradients are averaged each step),
    # so with n processes the last len % n packs of the schedule are left out.
    per_process = max(1, len(schedule) // accelerator.num_processes) if schedule else 0
    mine = schedule[accelerator.process_index::accelerator.num_processes][:per_process]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    warmup = max(1, int(settings.warmup_ratio * len(mine)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        (s + 1) / warmup, max(0.0, (len(mine) - s) / max(1, len(mine) - warmup))))
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    model.train()
    stats = LoopStats(main_process=accelerator.is_main_process,
                      processes=accelerator.num_processes)
    started = time.perf_counter()
    for step, index in enumerate(mine, start=1):
        pack = packs[index]
        batch = {name: torch.tensor([values], device=accelerator.device) for name, values in
                 (("input_ids", pack.input_ids), ("labels", pack.labels),
                  ("position_ids", pack.position_ids))}
        # No cache: with one, transformers would skip the packed-sequence (block) mask.
        with autocast:
            loss = model(**batch, use_cache=False).loss
        accelerator.backward(loss)
        if settings.max_grad_norm:
            accelerator.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        stats.steps = step
        stats.tokens += pack.tokens
        stats.trained_tokens += pack.trained_tokens
        stats.seconds = time.perf_counter() - started
        stats.losses.append(float(loss.detach()))
        if on_step is not None and accelerator.is_main_process:
            on_step({"step": step, "steps": len(mine), "loss": stats.losses[-1],
                     "lr": scheduler.get_last_lr()[0], "tokens": stats.tokens,
                     "trained_tokens": stats.trained_tokens,
                     "seconds": round(stats.seconds, 3)})
        if settings.max_seconds is not None and stats.seconds >= settings.max_seconds:
            break
    if accelerator.num_processes > 1:  # the card reports the whole run, not one process
        totals = accelerator.reduce(torch.tensor([stats.tokens, stats.trained_tokens],
                                                 device=accelerator.device), reduction="sum")
        stats.tokens, stats.trained_tokens = (int(v) for v in totals.tolist())
    model.eval()
    return stats


def is_main_process() -> bool:
    """Whether this is the process that reports and writes (always, without a launcher)."""
    import torch
    from accelerate import PartialState

    # The same `cpu` flag as the loop's Accelerator: the first state made is the one kept.
    return PartialState(cpu=not torch.cuda.is_available()).is_main_process


def mean_loss(model: Any, packs: Sequence[Pack]) -> float:
    """Mean loss per target token over `packs`, without training (for before/after checks)."""
    import torch

    device = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for pack in packs:
            batch = {name: torch.tensor([values], device=device) for name, values in
                     (("input_ids", pack.input_ids), ("labels", pack.labels),
                      ("position_ids", pack.position_ids))}
            n = pack.trained_tokens
            total += float(model(**batch, use_cache=False).loss) * n
            count += n
    return total / count if count else float("nan")
