"""Generation throughput of the transformers backend on the demo model, and eval time.

    .venv/bin/python benchmarks/generation.py [--model smollm2-135m-instruct] [--new-tokens 64]

Prints new tokens per second at batch sizes 1, 8 and 32 in fp32 and bf16 (same prompts,
same run), the bf16/fp32 ratio, and the wall time to evaluate 30 items per objective with
the rule judges (the example eval sets, cycled to 30 items).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROMPTS = [
    "Explain how vaccines train the immune system.",
    "Write a short poem about autumn leaves.",
    "What are three tips for a job interview?",
    "How do I kill a Python process that ignores SIGTERM?",
    "Summarise the causes of the First World War.",
    "Give me a recipe idea with lentils.",
    "Why is the sky blue?",
    "How can I protect my accounts from phishing?",
]


def main() -> None:
    import torch

    from mosaic.schema import Message
    from mosaic.tools.generation import Decoding, TransformersGenerator, measure_tokens_per_second
    from mosaic.train.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, model {args.model}")

    rates: dict[tuple[str, int], float] = {}
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        model, tokenizer = load_model(args.model, dtype=dtype)
        generator = TransformersGenerator(model, tokenizer)
        generator.generate([[Message(role="user", content="warm up")]],
                           Decoding(max_new_tokens=4))
        for batch in (1, 8, 32):
            chats = [[Message(role="user", content=PROMPTS[i % len(PROMPTS)])]
                     for i in range(max(batch, 4))]
            rate, seconds = measure_tokens_per_second(
                generator, chats, Decoding(max_new_tokens=args.new_tokens, batch_size=batch))
            rates[dtype_name, batch] = rate
            print(f"{dtype_name} batch {batch:>2}: {rate:7.1f} new tokens/s "
                  f"({len(chats)} chats in {seconds:.1f}s)", flush=True)
    for batch in (1, 8, 32):
        print(f"bf16/fp32 at batch {batch:>2}: {rates['bf16', batch] / rates['fp32', batch]:.2f}x")

    from mosaic.tools.eval_sets import DEFAULT_EVAL_SETS, load_eval_set
    from mosaic.tools.evaluate import EvalSettings, evaluate
    from mosaic.tools.judges import RuleJudge

    judge = RuleJudge()
    sets = {}
    for name, source in DEFAULT_EVAL_SETS.items():
        items = load_eval_set(name, source, judge=judge)
        sets[name] = [items[i % len(items)].model_copy(update={"id": f"{name}-{i}"})
                      for i in range(30)]
    generator = TransformersGenerator.from_spec(args.model)  # the default dtype for evals
    print(f"eval generator dtype: {generator.model.dtype}")
    for name, items in sets.items():
        started = time.perf_counter()
        result = evaluate({name: items}, generator, judge,
                          EvalSettings(decoding=Decoding(max_new_tokens=args.new_tokens,
                                                         batch_size=32)), model=args.model)
        report = result.report.objectives[name]
        print(f"eval {name}: 30 items in {time.perf_counter() - started:.1f}s "
              f"(mean {report.mean}, {report.n_unscored} unscored)", flush=True)


if __name__ == "__main__":
    main()
