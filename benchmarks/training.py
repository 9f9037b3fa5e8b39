"""Training throughput: mosaic's packed LoRA loop vs TRL's SFTTrainer with its defaults.

    .venv/bin/python benchmarks/training.py [--model smollm2-135m-instruct] [--budget 8000]

Both train the same LoRA (r 16, alpha 32, dropout 0.05, all linear projections, lr 2e-4,
one epoch) from the same base model on the same mixture (the demo preset's pools, an even
action, `--budget` templated tokens), in the same run, each at its default precision:
- mosaic: whole examples packed into rows of `--pack-tokens` (no padding, no attention
  across examples), loss on assistant tokens, `precision=auto` (bf16 autocast on a CPU
  with AVX-512 BF16/AMX, fp32 otherwise);
- TRL SFTTrainer with its default settings (batch 8, no packing, padded batches, loss on
  every token, bf16); only `use_cpu` (required on a CPU) and the learning rate are set.
`--fp32` runs both in fp32 instead.
Tokens/s = the mixture's templated tokens (no padding counted) / wall time of the training
call (model loading and tokenisation excluded for both). Goal (issue 6): at least 1.3x.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def build_demo_mixture(budget: int, out: Path) -> tuple[list, int]:
    from mosaic.config import MixSettings, load_preset
    from mosaic.data.mixture_files import write_mixture
    from mosaic.schema import DataAction
    from mosaic.tools.mixing.builder import build_mixture
    from mosaic.tools.mixing.pools import load_pools
    from mosaic.train.sft import read_mixture

    pools = load_pools(load_preset("demo"))
    mixture = build_mixture(DataAction(ratios={"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3}),
                            pools, MixSettings(budget=budget, seed=0))
    write_mixture(mixture, pools, out)
    chats, manifest = read_mixture(out)
    return chats, manifest.realised_tokens


def run_mosaic(model_spec: str, chats: list, pack_tokens: int, fp32: bool) -> float:
    import torch

    from mosaic.config import TrainSettings
    from mosaic.train.loop import TrainLoopSettings, pack_examples, train_lora
    from mosaic.train.models import load_model
    from mosaic.train.sft import add_lora, encode_chat, precision_for

    settings = TrainSettings(precision="fp32" if fp32 else "auto", pack_tokens=pack_tokens)
    model, tokenizer = load_model(model_spec, dtype=torch.float32)
    packs = pack_examples([encode_chat(tokenizer, c, 2048) for c in chats], pack_tokens)
    model = add_lora(model, settings)
    stats = train_lora(model, packs, TrainLoopSettings(
        lr=settings.lr, seed=0, mixed_precision=precision_for(settings)))
    print(f"  mosaic precision: {precision_for(settings)}")
    return stats.seconds


def run_trl(model_spec: str, chats: list, fp32: bool) -> float:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from mosaic.train.models import load_model

    model, tokenizer = load_model(model_spec, dtype=torch.float32)
    data = Dataset.from_list([{"messages": [m.model_dump() for m in chat]} for chat in chats])
    with tempfile.TemporaryDirectory() as folder:
        extra = {"bf16": False} if fp32 else {}
        if not torch.cuda.is_available():
            extra["use_cpu"] = True  # TRL refuses its bf16 default on a CPU without it
        config = SFTConfig(output_dir=folder, learning_rate=2e-4, **extra,
                           num_train_epochs=1, report_to="none", save_strategy="no",
                           logging_strategy="no", disable_tqdm=True, seed=0)
        lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                          task_type="CAUSAL_LM")
        trainer = SFTTrainer(model=model, args=config, train_dataset=data,
                             processing_class=tokenizer, peft_config=lora)
        print(f"  TRL precision: {'bf16' if config.bf16 else 'fp32'}")
        started = time.perf_counter()
        trainer.train()
        return time.perf_counter() - started


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--budget", type=int, default=8_000)
    parser.add_argument("--pack-tokens", type=int, default=1024)
    parser.add_argument("--fp32", action="store_true", help="both in fp32")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, model {args.model}")

    with tempfile.TemporaryDirectory() as folder:
        chats, tokens = build_demo_mixture(args.budget, Path(folder))
    print(f"mixture: {len(chats)} chats, {tokens:,} templated tokens")
    ours = run_mosaic(args.model, chats, args.pack_tokens, args.fp32)
    print(f"mosaic (packed rows of {args.pack_tokens}): {ours:6.1f} s, "
          f"{tokens / ours:7.1f} tokens/s")
    theirs = run_trl(args.model, chats, args.fp32)
    print(f"TRL SFTTrainer (defaults)   : {theirs:6.1f} s, {tokens / theirs:7.1f} tokens/s")
    ratio = theirs / ours
    print(f"speed-up: {ratio:.2f}x (goal >= 1.3x: {'met' if ratio >= 1.3 else 'NOT met'})")


if __name__ == "__main__":
    main()
