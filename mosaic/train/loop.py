"""The LoRA training loop over packed examples: torch, peft and accelerate only.

    packs = pack_examples(examples, pack_tokens=2048)
    stats = train_lora(model, packs, TrainLoopSettings(lr=2e-4, epochs=1, seed=0))

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

    def tensors(self, device: Any) -> dict[str, Any]:
        """The model's inputs: one row each of ids, labels and position ids."""
        import torch

        return {name: torch.tensor([values], device=device) for name, values in
                (("input_ids", self.input_ids), ("labels", self.labels),
                 ("position_ids", self.position_ids))}


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
class TrainLoopSettings:
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


def step_schedule(packs: int, epochs: float, seed: int, rank: int = 0, world: int = 1
                  ) -> list[int]:
    """The packs this process trains on, in order: a seeded reshuffle per epoch, the last
    epoch cut at `epochs`; with `world` processes, every world-th step from `rank`, and the
    same number of steps in every process (gradients are averaged each step), so the last
    `len % world` steps are left out."""
    import torch

    steps = math.ceil(packs * epochs) if packs else 0
    order: list[int] = []
    for epoch in range(math.ceil(epochs)):
        generator = torch.Generator().manual_seed(seed + epoch)
        order += torch.randperm(packs, generator=generator).tolist()
    if steps and steps < world:
        raise ValueError(f"{steps} step(s) cannot be shared by {world} processes: use fewer "
                         "processes, smaller packs (pack_tokens) or more data")
    return order[:steps][rank::world][:steps // world]


def train_lora(model: Any, packs: Sequence[Pack], settings: TrainLoopSettings, *,
               on_step: StepHook | None = None) -> LoopStats:
    """Train the model's trainable (LoRA) parameters on `packs`; returns what it did.

    `on_step` gets one record per optimiser step (main process only): step, steps, loss, the
    lr that step used, tokens and seconds (this process's, under `accelerate launch`, where
    each of n processes trains on every n-th step of the schedule).
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
    mine = step_schedule(len(packs), settings.epochs, settings.seed,
                         accelerator.process_index, accelerator.num_processes)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    warmup = max(1, int(settings.warmup_ratio * len(mine)))
    # Not given to accelerate.prepare: its wrapper steps a scheduler once per process.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        (s + 1) / warmup, max(0.0, (len(mine) - s) / max(1, len(mine) - warmup))))
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    stats = LoopStats(main_process=accelerator.is_main_process,
                      processes=accelerator.num_processes)
    started = time.perf_counter()
    for step, index in enumerate(mine, start=1):
        pack = packs[index]
        batch = pack.tensors(accelerator.device)
        # No cache: with one, transformers would skip the packed-sequence (block) mask.
        with autocast:
            loss = model(**batch, use_cache=False).loss
        accelerator.backward(loss)
        if settings.max_grad_norm:
            accelerator.clip_grad_norm_(params, settings.max_grad_norm)
        lr = scheduler.get_last_lr()[0]  # the rate this step uses
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        stats.steps = step
        stats.tokens += pack.tokens
        stats.trained_tokens += pack.trained_tokens
        stats.seconds = time.perf_counter() - started
        stats.losses.append(float(loss.detach()))
        if on_step is not None and accelerator.is_main_process:
            on_step({"step": step, "steps": len(mine), "loss": stats.losses[-1], "lr": lr,
                     "tokens": stats.tokens, "trained_tokens": stats.trained_tokens,
                     "seconds": round(stats.seconds, 3)})
        if _time_is_up(settings, stats, accelerator):
            break
    if accelerator.num_processes > 1:  # the card reports the whole run, not one process
        totals = accelerator.reduce(torch.tensor([stats.tokens, stats.trained_tokens],
                                                 device=accelerator.device), reduction="sum")
        stats.tokens, stats.trained_tokens = (int(v) for v in totals.tolist())
    model.eval()
    return stats


def _time_is_up(settings: TrainLoopSettings, stats: LoopStats, accelerator: Any) -> bool:
    """Whether `max_seconds` has passed, agreed by all processes (one stopping alone would
    leave the others waiting for it at the next gradient exchange)."""
    if settings.max_seconds is None:
        return False
    up = stats.seconds >= settings.max_seconds
    if accelerator.num_processes == 1:
        return up
    import torch

    flag = torch.tensor([float(up)], device=accelerator.device)
    return bool(accelerator.reduce(flag, reduction="max").item())


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
            batch = pack.tensors(device)
            n = pack.trained_tokens
            if n == 0:  # no targets: the model's mean loss would be 0/0
                continue
            total += float(model(**batch, use_cache=False).loss) * n
            count += n
    return total / count if count else float("nan")
