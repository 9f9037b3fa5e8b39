"""Train a LoRA with mosaic's loop on a ~100M-parameter Llama built from config, for about a
minute, and print tokens/s and peak memory.

    python scripts/gpu_train_throughput.py    # on a machine with a CUDA GPU
    python scripts/gpu_train_throughput.py --seconds 5 --hidden 64 --layers 2   # on the CPU

Needs only torch, transformers, peft and accelerate (no install of mosaic, no network):
it imports `mosaic.train.loop`, which uses nothing else. Synthetic chats: random token ids,
the second half of each example is the "assistant" target.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mosaic.train.loop import Example, TrainLoopSettings, pack_examples, train_lora


def main() -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=32_000)
    parser.add_argument("--pack-tokens", type=int, default=4096)
    parser.add_argument("--bf16", choices=["auto", "yes", "no"], default="auto")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    bf16 = args.bf16 == "yes" or (args.bf16 == "auto" and cuda and torch.cuda.is_bf16_supported())
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden,
                         intermediate_size=args.hidden * 8 // 3, num_hidden_layers=args.layers,
                         num_attention_heads=max(1, args.hidden // 64),
                         num_key_value_heads=max(1, args.hidden // 64),
                         max_position_embeddings=8192)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(device)
    params = sum(p.numel() for p in model.parameters())
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05,
                                             target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    rng = random.Random(0)
    examples = []
    for _ in range(4000):
        n = rng.randint(128, 1024)
        ids = [rng.randrange(3, args.vocab) for _ in range(n)]
        examples.append(Example(ids, [-100] * (n // 2) + ids[n // 2:]))
    packs = pack_examples(examples, args.pack_tokens)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    print(f"device {torch.cuda.get_device_name() if cuda else 'cpu'}, model {params / 1e6:.1f}M "
          f"parameters, LoRA r 16 on all linear layers, {'bf16' if bf16 else 'fp32'}, "
          f"packed rows of {args.pack_tokens} tokens, ~{args.seconds:.0f} s", flush=True)
    started = time.perf_counter()
    stats = train_lora(model, packs, TrainLoopSettings(
        mixed_precision="bf16" if bf16 else "no", max_seconds=args.seconds, epochs=1.0))
    wall = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    print(f"steps {stats.steps}, tokens {stats.tokens:,}, {stats.tokens_per_second:,.0f} "
          f"tokens/s (loop {stats.seconds:.1f} s, wall {wall:.1f} s), peak GPU memory "
          f"{peak:.2f} GiB; loss {stats.losses[0]:.3f} -> {stats.losses[-1]:.3f}")
    print(f"pydantic imported: {'pydantic' in sys.modules}")


if __name__ == "__main__":
    main()
