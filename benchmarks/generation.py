"""Generation speed with a LoRA adapter active: the engine the loop used before, the one it
uses now, and plain transformers, in one run, on the same prompts and the same adapter.

    .venv/bin/python benchmarks/generation.py                  # trains a demo adapter once
    .venv/bin/python benchmarks/generation.py --adapter DIR    # any peft LoRA folder
    .venv/bin/python benchmarks/generation.py --quick          # batch 16 x 64 tokens only

Paths (each measured in its own subprocess, one at a time, so peak RSS is per path and no
two torch processes share the cores):
  old  `TransformersGenerator(engine="generate")`: `model.generate` with peft's unmerged
       LoRA layers; what `mosaic eval` and the loop used before issue 15.
  new  `TransformersGenerator(engine="decoder")` (mosaic.tools.evaluation.decoder): the default now.
  ref  plain `model.generate` on a model whose weights already include the adapter
       (peft's merge_and_unload before timing); prompts tokenised and batched (sorted by
       length, left padding) before timing, so no mosaic code runs in the timed part.

Prompts: the first user turn of 32 items of the demo eval sets (xguard, orbench, ifeval),
SmolLM2-135M-Instruct, greedy. The table is fp32 for every path (the engines alone; the old
path ran in fp32 on the CPU); the new path's default dtype is `auto` (bf16 on a CPU with
native bf16), measured in the bf16 section and in the demo evaluation. New tokens/s =
tokens of that path's replies (re-tokenised; equal across paths where the replies are
equal) / seconds of the generate calls (the fastest of --repeat timings), at batch 8, 16
(the demo's) and 32 for 64 and 128 new tokens. Then: identical replies old vs new (and,
where they differ, roughly where they part, found by re-tokenising both replies, and the
base+adapter model's top-2 logit gap there); bf16 vs fp32 for each path at the demo's
settings; and the demo's whole evaluation (42 items, xguard replayed over its turns,
through mosaic.tools.evaluation.evaluate) with old and new.

The adapter (without --adapter): a LoRA trained once with the demo preset's settings on a
10,000-token demo mixture, cached in $MOSAIC_CACHE_DIR/benchmarks/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

MODEL = "smollm2-135m-instruct"
N_PROMPTS = 32
SETTINGS = [(8, 64), (16, 64), (32, 64), (8, 128), (16, 128), (32, 128)]
QUICK = [(16, 64)]


def prompts() -> list[list]:
    """The first user turn of the first items of each demo eval set, interleaved."""
    from mosaic.schema import Message
    from mosaic.tools.evaluation.eval_sets import DEFAULT_EVAL_SETS

    per_set = []
    for source in DEFAULT_EVAL_SETS.values():
        rows = [json.loads(line) for line in Path(source).read_text("utf-8").splitlines()]
        per_set.append([next(m["content"] for m in r["messages"] if m["role"] == "user")
                        for r in rows])
    texts = [text for group in zip(*per_set, strict=False) for text in group][:N_PROMPTS]
    return [[Message(role="user", content=t)] for t in texts]


def demo_adapter() -> Path:
    """A LoRA trained with the demo preset's settings on a 10k-token demo mixture (once)."""
    from mosaic.config import load_preset
    from mosaic.data.mixture_files import write_mixture
    from mosaic.schema import DataAction
    from mosaic.store import building, cache_root, is_complete
    from mosaic.tools.mixing.builder import build_mixture
    from mosaic.tools.mixing.pools import load_pools
    from mosaic.train.sft import train

    folder = cache_root() / "benchmarks" / "generation-demo-adapter-v1"
    if is_complete(folder):
        return folder / "adapter"
    print("[bench] training the demo adapter once (~2 min)", flush=True)
    config = load_preset("demo")
    pools = load_pools(config)
    mixture = build_mixture(DataAction(ratios={"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3}),
                            pools, config.mixture)
    with building(folder, {"what": "benchmark adapter"}) as tmp:
        write_mixture(mixture, pools, tmp / "mixture")
        train(tmp / "mixture", MODEL, config.train, tmp / "adapter")
    return folder / "adapter"


def peak_rss_gb() -> float:
    """This process's peak RSS. VmHWM, not getrusage: ru_maxrss carries over through exec
    from the parent (which may have trained the adapter), VmHWM starts afresh."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


# -- workers (one path per process) -----------------------------------------------------


def work_generator(engine: str, adapter: str, settings: list, dtype: str, repeat: int
                   ) -> dict:
    from mosaic.tools.evaluation.generation import Decoding, TransformersGenerator

    chats = prompts()
    generator = TransformersGenerator.from_spec(MODEL, engine=engine, dtype=dtype)
    generator.generate(chats[:2], Decoding(max_new_tokens=4), adapter=adapter)  # warm up
    results = {}
    for batch, new in settings:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            replies = generator.generate(chats, Decoding(max_new_tokens=new, batch_size=batch),
                                         adapter=adapter)
            timings.append(time.perf_counter() - started)
        results[f"{batch}x{new}"] = {"seconds": min(timings), "replies": replies}
    return {"results": results, "peak_rss_gb": peak_rss_gb()}


def work_reference(adapter: str, settings: list, dtype: str, repeat: int) -> dict:
    import torch
    from peft import PeftModel

    from mosaic.data.tokens import render_chat
    from mosaic.tools.evaluation.generation import end_token_ids
    from mosaic.train.models import load_model

    model, tokenizer = load_model(MODEL, dtype=getattr(torch, dtype))
    model = PeftModel.from_pretrained(model, adapter).merge_and_unload().eval()
    texts = [render_chat(tokenizer, c, add_generation_prompt=True) for c in prompts()]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    tokenizer.padding_side = "left"
    stop = end_token_ids(tokenizer)
    results = {}
    with torch.inference_mode():
        model.generate(**tokenizer(texts[:2], return_tensors="pt", padding=True,
                                   add_special_tokens=False), max_new_tokens=4)
        for batch, new in settings:
            batches = [order[i:i + batch] for i in range(0, len(order), batch)]
            encoded = [tokenizer([texts[i] for i in ids], return_tensors="pt", padding=True,
                                 add_special_tokens=False) for ids in batches]
            timings = []
            for _ in range(repeat):
                outputs, started = [], time.perf_counter()
                for inputs in encoded:
                    outputs.append(model.generate(**inputs, max_new_tokens=new,
                                                  do_sample=False, eos_token_id=stop,
                                                  pad_token_id=tokenizer.pad_token_id))
                timings.append(time.perf_counter() - started)
            seconds = min(timings)
            replies = [""] * len(texts)
            for ids, inputs, output in zip(batches, encoded, outputs, strict=True):
                decoded = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:],
                                                 skip_special_tokens=True)
                for i, text in zip(ids, decoded, strict=True):
                    replies[i] = text.strip()
            results[f"{batch}x{new}"] = {"seconds": seconds, "replies": replies}
    return {"results": results, "peak_rss_gb": peak_rss_gb()}


def work_demo_eval(engine: str, adapter: str, dtype: str, repeat: int) -> dict:
    """The demo's evaluation of one round, as the loop runs it (no cache); the fastest of
    `repeat` evaluations."""
    from mosaic.config import load_preset
    from mosaic.tools.evaluation.eval_sets import DEFAULT_EVAL_SETS, STARTER_FORMAT, load_eval_set
    from mosaic.tools.evaluation.evaluate import EvalConditions, evaluate
    from mosaic.tools.evaluation.generation import Decoding, TransformersGenerator
    from mosaic.tools.evaluation.judges import RuleJudge

    settings = load_preset("demo").eval
    judge = RuleJudge()
    sets = {name: load_eval_set(name, source, judge=judge, fmt=STARTER_FORMAT,
                                per_slice=settings.per_slice)
            for name, source in DEFAULT_EVAL_SETS.items()}
    generator = TransformersGenerator.from_spec(MODEL, engine=engine, dtype=dtype)
    decoding = Decoding(max_new_tokens=settings.max_new_tokens,
                        batch_size=settings.batch_size)
    generator.generate(prompts()[:2], Decoding(max_new_tokens=4), adapter=adapter)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = evaluate(sets, generator, judge, EvalConditions(decoding=decoding),
                          model=MODEL, adapter=adapter)
        timings.append(time.perf_counter() - started)
    seconds = min(timings)
    replies = {name: [s.replies for s in samples] for name, samples in result.samples.items()}
    means = {name: o.mean for name, o in result.report.objectives.items()}
    return {"seconds": seconds, "replies": replies, "means": means,
            "items": sum(len(s) for s in sets.values()), "peak_rss_gb": peak_rss_gb()}


def run_worker(args: argparse.Namespace) -> None:
    settings = QUICK if args.quick or args.dtype != "float32" else SETTINGS
    if args.worker == "ref":
        result = work_reference(args.adapter, settings, args.dtype, args.repeat)
    elif args.worker.startswith("eval-"):
        result = work_demo_eval(args.worker.removeprefix("eval-"), args.adapter, args.dtype,
                                args.repeat)
    else:
        engine = {"old": "generate", "new": "decoder"}[args.worker]
        result = work_generator(engine, args.adapter, settings, args.dtype, args.repeat)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")


def spawn(worker: str, adapter: Path, out: Path, *, quick: bool, dtype: str = "float32",
          repeat: int = 1) -> dict:
    command = [sys.executable, __file__, "--worker", worker, "--adapter", str(adapter),
               "--out", str(out), "--dtype", dtype, "--repeat", str(repeat)]
    command += ["--quick"] if quick else []
    started = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"[bench] {worker} ({dtype}) done in {time.perf_counter() - started:.0f}s",
          flush=True)
    return json.loads(out.read_text("utf-8"))


# -- the report -------------------------------------------------------------------------


def count_tokens(tokenizer, replies: list[str]) -> int:
    return sum(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in replies)


def divergence(tokenizer, model, chat, old: str, new: str) -> str:
    """Where two greedy replies part, and the model's top-2 logit gap at that token."""
    import torch

    from mosaic.data.tokens import render_chat

    a = tokenizer(old, add_special_tokens=False)["input_ids"]
    b = tokenizer(new, add_special_tokens=False)["input_ids"]
    same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))
    prompt = render_chat(tokenizer, chat, add_generation_prompt=True)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] + a[:same]
    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0, -1].float()
    top = logits.topk(2)
    gap = float(top.values[0] - top.values[1])
    return (f"first {same} tokens equal, then {tokenizer.decode(a[same:same + 1])!r} (old) "
            f"vs {tokenizer.decode(b[same:same + 1])!r} (new); top-2 logit gap there "
            f"{gap:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", help="a peft LoRA folder (default: train a demo one)")
    parser.add_argument("--quick", action="store_true", help="batch 16 x 64 tokens only")
    parser.add_argument("--skip-eval", action="store_true", help="leave out the demo eval")
    parser.add_argument("--skip-bf16", action="store_true", help="leave out bf16")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each setting N times and keep the fastest (a noisy VM)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return

    import tempfile

    import torch

    from mosaic.hardware import cpu_has_native_bf16
    from mosaic.tools.evaluation.generation import resolve_dtype
    from mosaic.train.models import load_model

    adapter = Path(args.adapter) if args.adapter else demo_adapter()
    capability = torch.backends.cpu.get_cpu_capability()
    native_bf16 = cpu_has_native_bf16()
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, threads "
          f"{torch.get_num_threads()}, CPU capability {capability}, native bf16 "
          f"{native_bf16}; model {MODEL}; adapter {adapter}", flush=True)
    settings = QUICK if args.quick else SETTINGS
    default_dtype = resolve_dtype("auto")
    print(f"the default dtype here (eval.dtype auto): {default_dtype}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        runs = {path: spawn(path, adapter, Path(folder) / f"{path}.json", quick=args.quick,
                            repeat=args.repeat) for path in ("old", "new", "ref")}
        bf16 = {} if args.skip_bf16 else {
            path: spawn(path, adapter, Path(folder) / f"{path}-bf16.json", quick=True,
                        dtype="bfloat16", repeat=args.repeat)
            for path in ("old", "new", "ref")}
        # The demo's evaluation: old, new in fp32 (same replies?), new as it runs by default.
        evals = {} if args.skip_eval else {
            f"{engine}-{dtype}": spawn(f"eval-{engine}", adapter,
                                       Path(folder) / f"eval-{engine}-{dtype}.json",
                                       quick=True, dtype=dtype, repeat=args.repeat)
            for engine, dtype in dict.fromkeys([("generate", "float32"),
                                                ("decoder", "float32"),
                                                ("decoder", default_dtype)])}

    model, tokenizer = load_model(MODEL, dtype=torch.float32)
    print("\nnew tokens/s (fp32, adapter active; 32 prompts)")
    print(f"{'batch x new':>12} {'old':>8} {'new':>8} {'ref':>8} {'new/old':>8} "
          f"{'new/ref':>8} {'same replies old/new':>22}")
    for batch, new in settings:
        key = f"{batch}x{new}"
        rate = {}
        for path, run in runs.items():
            result = run["results"][key]
            rate[path] = count_tokens(tokenizer, result["replies"]) / result["seconds"]
        old_replies = runs["old"]["results"][key]["replies"]
        new_replies = runs["new"]["results"][key]["replies"]
        same = sum(a == b for a, b in zip(old_replies, new_replies, strict=True))
        print(f"{key:>12} {rate['old']:8.1f} {rate['new']:8.1f} {rate['ref']:8.1f} "
              f"{rate['new'] / rate['old']:7.2f}x {rate['new'] / rate['ref']:7.2f}x "
              f"{same:>16} of {len(old_replies)}", flush=True)
    print("peak RSS (GB): " + ", ".join(f"{path} {run['peak_rss_gb']:.2f}"
                                        for path, run in runs.items()))

    from peft import PeftModel

    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload().eval()
    key = f"{settings[0][0]}x{settings[0][1]}"
    chats = prompts()
    pairs = zip(runs["old"]["results"][key]["replies"], runs["new"]["results"][key]["replies"],
                strict=True)
    for i, (old, new) in enumerate(pairs):
        if old != new:
            print(f"  differs at {key}, prompt {i}: "
                  f"{divergence(tokenizer, merged, chats[i], old, new)}")

    if bf16:
        print("\nbf16 vs fp32 at batch 16 x 64 (same prompts)")
    for path in bf16:
        fp32 = runs[path]["results"].get("16x64")
        low = bf16[path]["results"]["16x64"]
        rate16 = count_tokens(tokenizer, low["replies"]) / low["seconds"]
        if fp32 is not None:
            rate32 = count_tokens(tokenizer, fp32["replies"]) / fp32["seconds"]
            same = sum(a == b for a, b in zip(fp32["replies"], low["replies"], strict=True))
            print(f"  {path}: fp32 {rate32:.1f}, bf16 {rate16:.1f} tokens/s (bf16/fp32 "
                  f"{rate16 / rate32:.2f}x); replies the same as fp32's: {same} of "
                  f"{len(low['replies'])}; peak RSS {bf16[path]['peak_rss_gb']:.2f} GB")
    old16 = runs["old"]["results"].get("16x64")
    if bf16 and old16 is not None and default_dtype == "bfloat16":
        old_rate = count_tokens(tokenizer, old16["replies"]) / old16["seconds"]
        low = bf16["new"]["results"]["16x64"]
        ref = bf16["ref"]["results"]["16x64"]
        new_rate = count_tokens(tokenizer, low["replies"]) / low["seconds"]
        ref_rate = count_tokens(tokenizer, ref["replies"]) / ref["seconds"]
        print(f"  the default path here (decoder, bf16) vs the old path (generate, fp32): "
              f"{new_rate / old_rate:.2f}x; vs the reference in bf16: "
              f"{new_rate / ref_rate:.2f}x")

    if evals:
        old = evals["generate-float32"]
        print(f"\ndemo evaluation of one round ({old['items']} items, adapter active; fastest "
              f"of {args.repeat})")
        for key, run in evals.items():
            same = sum(a == b for name in old["replies"]
                       for a, b in zip(old["replies"][name], run["replies"][name], strict=True))
            means = ", ".join(f"{k} {v:.3f}" for k, v in run["means"].items())
            print(f"  {key:>18}: {run['seconds']:6.1f}s ({old['seconds'] / run['seconds']:.2f}x "
                  f"old); replies the same as old's: {same} of {old['items']}; means {means}; "
                  f"peak RSS {run['peak_rss_gb']:.2f} GB")


if __name__ == "__main__":
    main()
