"""Runs in its own process (vLLM changes thread settings and LD_PRELOAD of the process that
builds an engine): base and adapter generation through `VLLMGenerator` on the demo model.
Prints one JSON line with the replies for the test to check."""

from __future__ import annotations

import json
import sys

PROMPTS = ["What is the capital of France?", "Name three fruits.", "Say hello politely.",
           "What is two plus two?"]


def main(model_dir: str, adapter_dir: str) -> None:
    from mosaic.schema import Message
    from mosaic.tools.evaluation.generation import Decoding
    from mosaic.tools.evaluation.vllm_backend import VLLMGenerator

    generator = VLLMGenerator(model_dir, max_model_len=1024, max_lora_rank=16, max_adapters=1,
                              enforce_eager=True, dtype="bfloat16")
    chats = [[Message(role="user", content=p)] for p in PROMPTS]
    decoding = Decoding(max_new_tokens=24)
    base = generator.generate(chats, decoding)
    adapted = generator.generate(chats, decoding, adapter=adapter_dir)
    base_again = generator.generate(chats, decoding)
    print("RESULT " + json.dumps({"base": base, "adapted": adapted, "base_again": base_again}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
