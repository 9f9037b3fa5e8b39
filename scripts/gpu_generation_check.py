"""GPU check of the transformers generation backend (for a machine with a CUDA GPU and
torch/transformers/peft installed; mosaic needs only pydantic beside them).

    PYTHONPATH=. python3 scripts/gpu_generation_check.py

1. On the tiny model, on the GPU: batched replies equal one-by-one replies, a LoRA adapter
   changes them, and the base returns once the adapter is disabled.
2. New tokens per second of a ~100M-parameter Llama built from config (random weights),
   fp32 vs bf16, at batch sizes 1, 8 and 32, 64 new tokens, with peak GPU memory.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MOSAIC_CACHE_DIR", tempfile.mkdtemp(prefix="mosaic-gpu-"))


def main() -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from mosaic.schema import Message
    from mosaic.tools.evaluation.generation import (
        Decoding,
        TransformersGenerator,
        measure_tokens_per_second,
    )
    from mosaic.train.models import load_model

    assert torch.cuda.is_available(), "no CUDA device"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)

    generator = TransformersGenerator.from_spec("tiny", device="cuda")
    chats = [[Message(role="user", content=t)] for t in
             ("hello", "a much longer question about safety and words", "hi there")]
    decoding = Decoding(max_new_tokens=12, batch_size=3)
    batched = generator.generate(chats, decoding)
    single = [generator.generate([c], decoding)[0] for c in chats]
    print(f"1. device {generator.model.device}; batched == single: {batched == single}")
    model, _ = load_model("tiny")
    adapter = tempfile.mkdtemp(prefix="adapter-")
    get_peft_model(model, LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                     init_lora_weights=False)).save_pretrained(adapter)
    adapted = generator.generate(chats, decoding, adapter=adapter)
    base_again = generator.generate(chats, decoding)
    print(f"   adapter changes replies: {adapted != batched}; base restored: "
          f"{base_again == batched}", flush=True)

    tokenizer = generator.tokenizer
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=768, intermediate_size=2048,
                         num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=4,
                         max_position_embeddings=2048, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    prompts = ["Explain vaccines.", "Write a poem.", "Three interview tips?", "Why is the sky "
               "blue?", "Kill a stuck process?", "Lentil recipe?", "Causes of WW1?", "Phishing?"]
    for dtype in (torch.float32, torch.bfloat16):
        torch.manual_seed(0)
        big = LlamaForCausalLM(config).to(device="cuda", dtype=dtype).eval()
        n_params = sum(p.numel() for p in big.parameters()) / 1e6
        bench = TransformersGenerator(big, tokenizer, name="llama-100m")
        bench.generate(chats[:1], Decoding(max_new_tokens=4))
        for batch in (1, 8, 32):
            torch.cuda.reset_peak_memory_stats()
            batch_chats = [[Message(role="user", content=prompts[i % len(prompts)])]
                           for i in range(max(batch, 4))]
            rate, seconds = measure_tokens_per_second(
                bench, batch_chats, Decoding(max_new_tokens=64, batch_size=batch))
            peak = torch.cuda.max_memory_allocated() / 2**30
            print(f"2. {n_params:.0f}M {str(dtype).split('.')[-1]:>8} batch {batch:>2}: "
                  f"{rate:8.1f} new tokens/s, {seconds:.2f}s, peak {peak:.2f} GiB", flush=True)
        del big, bench
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
