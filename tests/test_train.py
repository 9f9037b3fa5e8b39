"""The LoRA trainer: loss on exactly the assistant turns for any template, packing without
attention across examples, and rounds on the tiny model that really learn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mosaic.config import MixSettings, TrainSettings, load_preset
from mosaic.schema import DataAction, Message
from mosaic.train.loop import IGNORE, Example, mean_loss, pack_examples
from mosaic.train.sft import add_lora, encode_chat, read_mixture, train

CHAT = [
    Message(role="user", content="What is a firewall?"),
    Message(role="assistant", content="A firewall filters network traffic by rules."),
    Message(role="user", content="And a VPN?  "),
    Message(role="assistant", content="  A VPN encrypts your traffic to a server.\n"),
]
TEMPLATES = {"tiny_tokenizer": "<|im_end|>", "smollm2_tokenizer": "<|im_end|>",
             "llama3_tokenizer": "<|eot_id|>", "default_system_tokenizer": "<|im_end|>"}


def target_runs(example: Example) -> list[list[int]]:
    """The label tokens, as runs of consecutive targets."""
    runs, current = [], []
    for token, label in zip(example.input_ids, example.labels, strict=True):
        if label == IGNORE:
            if current:
                runs.append(current)
            current = []
        else:
            assert label == token
            current.append(token)
    return runs + ([current] if current else [])


@pytest.mark.parametrize("name", TEMPLATES)
def test_labels_are_exactly_each_assistant_turn_and_its_end_token(name, request):
    tokenizer = request.getfixturevalue(name)
    example = encode_chat(tokenizer, CHAT, max_tokens=4096)
    runs = target_runs(example)
    replies = [m.content for m in CHAT if m.role == "assistant"]
    assert len(runs) == len(replies)
    for run, reply in zip(runs, replies, strict=True):
        text = tokenizer.decode(run, skip_special_tokens=False,
                                clean_up_tokenization_spaces=False)
        assert text.endswith(TEMPLATES[name])
        assert text[: -len(TEMPLATES[name])].split() == reply.split()
    ignored = tokenizer.decode([t for t, lab in zip(example.input_ids, example.labels,
                                                    strict=True) if lab == IGNORE])
    assert "What is a firewall?" in ignored and "filters" not in ignored


def test_packs_keep_order_restart_positions_and_never_target_an_examples_first_token():
    examples = [Example(list(range(10 * i, 10 * i + n)), list(range(10 * i, 10 * i + n)))
                for i, n in enumerate([4, 3, 5, 9, 2])]
    packs = pack_examples(examples, pack_tokens=8)
    assert [p.input_ids for p in packs] == [
        [0, 1, 2, 3, 10, 11, 12], [20, 21, 22, 23, 24], [30, 31, 32, 33, 34, 35, 36, 37, 38],
        [40, 41]]
    assert packs[0].position_ids == [0, 1, 2, 3, 0, 1, 2]
    assert packs[0].labels == [IGNORE, 1, 2, 3, IGNORE, 11, 12]
    assert [p.examples for p in packs] == [2, 1, 1, 1]


def test_packed_examples_do_not_attend_to_each_other(tiny_tokenizer):
    import torch

    from mosaic.train.models import load_model

    model, tokenizer = load_model("tiny")
    chats = [CHAT[:2], CHAT, [Message(role="user", content="hi"),
                              Message(role="assistant", content="hello there")]]
    examples = [encode_chat(tokenizer, chat, 4096) for chat in chats]
    [pack] = pack_examples(examples, pack_tokens=4096)
    with torch.no_grad():
        # use_cache=False: with a cache, transformers skips packed-sequence masking
        packed = model(input_ids=torch.tensor([pack.input_ids]),
                       position_ids=torch.tensor([pack.position_ids]), use_cache=False).logits[0]
        alone = torch.cat([model(input_ids=torch.tensor([e.input_ids])).logits[0]
                           for e in examples])
    assert torch.allclose(packed, alone, atol=1e-4)
    # ...and without restarting positions the same row would see across examples
    with torch.no_grad():
        joined = model(input_ids=torch.tensor([pack.input_ids]), use_cache=False).logits[0]
    assert not torch.allclose(joined, alone, atol=1e-4)


@pytest.fixture(scope="module")
def tiny_mixture(tmp_path_factory) -> Path:
    """A 6,000-token mixture of the starter pools, counted for the tiny model."""
    from mosaic.data.mixture_files import write_mixture
    from mosaic.tools.mixing.builder import build_mixture
    from mosaic.tools.mixing.pools import load_pools

    config = load_preset("tiny")
    pools = load_pools(config)
    mixture = build_mixture(DataAction(ratios={"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3}),
                            pools, MixSettings(budget=6_000, seed=1))
    out = tmp_path_factory.mktemp("mixture")
    write_mixture(mixture, pools, out)
    return out


FAST = TrainSettings(lr=3e-3, epochs=3, pack_tokens=512, seed=0)


def test_a_round_lowers_the_loss_on_its_mixture_and_saves_a_card(tiny_mixture, tmp_path):
    from mosaic.train.models import load_model

    adapter = train(tiny_mixture, "tiny", FAST, tmp_path / "lora", progress=False)
    card = adapter.card
    assert (tmp_path / "lora" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "lora" / "mosaic_card.json").read_text()) == card
    manifest = json.loads((tiny_mixture / "manifest.json").read_text())
    assert card["mixture_hash"] == manifest["content_hash"]
    assert card["realised_tokens"] == 3 * manifest["realised_tokens"]  # 3 epochs
    assert card["settings"]["lora_r"] == 16 and card["seed"] == 0
    lines = [json.loads(x) for x in (tmp_path / "lora" / "metrics.jsonl").read_text()
             .splitlines()]
    assert len(lines) == card["steps"] and {"loss", "lr", "tokens", "seconds"} <= set(lines[0])

    # loss on the mixture itself, base vs base + adapter
    from peft import PeftModel

    chats, _ = read_mixture(tiny_mixture)
    base, tokenizer = load_model("tiny")
    packs = pack_examples([encode_chat(tokenizer, c, 2048) for c in chats], 1024)
    before = mean_loss(base, packs)
    tuned = PeftModel.from_pretrained(base, tmp_path / "lora")
    after = mean_loss(tuned, packs)
    print(f"loss on the mixture {before:.3f} -> {after:.3f}")
    assert after < before - 0.3, (before, after)


def test_the_same_seed_trains_the_same_adapter(tiny_mixture, tmp_path):
    from safetensors.torch import load_file

    quick = FAST.model_copy(update={"epochs": 1.0})
    one = train(tiny_mixture, "tiny", quick, tmp_path / "a", progress=False)
    two = train(tiny_mixture, "tiny", quick, tmp_path / "b", progress=False)
    assert one.card["final_loss"] == two.card["final_loss"]
    a = load_file(tmp_path / "a" / "adapter_model.safetensors")
    b = load_file(tmp_path / "b" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_training_on_refusals_raises_the_refusal_rate_on_held_out_harmful_prompts(tmp_path):
    """The tiny model starts as noise; a round on the starter xguard dialogues (every final
    reply a refusal) must make it refuse held-out attack prompts it never saw."""
    from mosaic.data.compose import STARTER_DIR
    from mosaic.data.formats import load_eval_items
    from mosaic.data.mixture_files import write_mixture
    from mosaic.tools.evaluation.generation import Decoding, TransformersGenerator
    from mosaic.tools.evaluation.judges.rules import is_refusal
    from mosaic.tools.mixing.builder import build_mixture
    from mosaic.tools.mixing.pools import load_pools
    from mosaic.train.models import load_model

    config = load_preset("tiny")
    pools = {"xguard": load_pools(config)["xguard"]}
    # single-turn attacks only: each dialogue is one attack and its refusal
    one_turn = DataAction.model_validate({"ratios": {"xguard": 1.0}, "objectives": {
        "xguard": {"focus": {"exclude": {"turns_range": [2, 64]}}}}})
    mixture = build_mixture(one_turn, pools, MixSettings(budget=8_000, seed=0))
    write_mixture(mixture, pools, tmp_path / "mix")
    train(tmp_path / "mix", "tiny", TrainSettings(lr=3e-3, epochs=6, pack_tokens=512),
          tmp_path / "lora", progress=False)

    held_out = load_eval_items(STARTER_DIR / "xguard_heldout.jsonl", objective="xguard").rows
    prompts = [[Message(role="user", content=item.messages[-1].content)] for item in held_out]
    decoding = Decoding(max_new_tokens=24, batch_size=25)
    base, tokenizer = load_model("tiny")
    generator = TransformersGenerator(base, tokenizer)
    before = generator.generate(prompts, decoding)
    after = generator.generate(prompts, decoding, adapter=str(tmp_path / "lora"))
    rate_before = sum(map(is_refusal, before)) / len(prompts)
    rate_after = sum(map(is_refusal, after)) / len(prompts)
    # (an empty reply counts as a refusal, so the untrained model scores a little)
    print(f"refusal rate {rate_before:.2f} -> {rate_after:.2f}")
    assert rate_after >= 0.6 and rate_after >= rate_before + 0.4, (rate_before, rate_after,
                                                                  after[:3])


def test_an_incomplete_mixture_folder_is_refused(tmp_path):
    from mosaic.errors import ConfigError

    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(ConfigError, match="not a complete mixture folder"):
        train(tmp_path, "tiny", TrainSettings(), tmp_path / "out", progress=False)
    manifest = {"action_hash": "a", "seed": 0, "budget": 0, "token_count": "t",
                "realised_tokens": 0}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="nothing to train on"):
        train(tmp_path, "tiny", TrainSettings(), tmp_path / "out", progress=False)


def test_lora_wraps_every_linear_projection_with_the_configured_shape():
    from mosaic.train.models import load_model

    model, _ = load_model("tiny")
    wrapped = add_lora(model, TrainSettings(lora_r=4, lora_alpha=8))
    adapted = {name.rsplit(".", 2)[0].rsplit(".", 1)[-1] for name, _ in wrapped.named_modules()
               if name.endswith("lora_A.default")}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                       "down_proj"}
    config = wrapped.peft_config["default"]
    assert config.r == 4 and config.lora_alpha == 8
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_the_gpu_throughput_script_runs_the_loop_without_mosaics_typed_layer():
    """scripts/gpu_train_throughput.py must run where only torch, transformers, peft and
    accelerate exist."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "gpu_train_throughput.py"
    out = subprocess.run([sys.executable, str(script), "--seconds", "2", "--hidden", "64",
                          "--layers", "2", "--vocab", "500", "--pack-tokens", "512"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    assert "tokens/s" in out and "pydantic imported: False" in out


def test_two_processes_share_the_steps_and_write_one_adapter(tiny_mixture, tmp_path):
    """The `accelerate launch` / torchrun path, on the CPU with two processes (gloo)."""
    import os
    import shutil
    import subprocess
    import sys

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run([torchrun, "--nproc_per_node", "2", "-m", "mosaic.cli", "train",
                          "--mixture", str(tiny_mixture), "--model", "tiny", "--out",
                          str(tmp_path / "lora"), "--pack-tokens", "512"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    card = json.loads((tmp_path / "lora" / "mosaic_card.json").read_text())
    single = len(pack_examples(
        [encode_chat(_tiny_tokenizer(), c, 2048) for c in read_mixture(tiny_mixture)[0]], 512))
    assert card["processes"] == 2 and card["steps"] == single // 2
    manifest = json.loads((tiny_mixture / "manifest.json").read_text())
    assert card["realised_tokens"] <= manifest["realised_tokens"]
    assert run.stdout.count("[mosaic] wrote") == 1
    rates = [json.loads(line)["lr"] for line in
             (tmp_path / "lora" / "metrics.jsonl").read_text().splitlines()]
    assert len(rates) == card["steps"] and min(rates) > 0  # the schedule spans every step


def test_the_training_step_launches_itself_in_two_processes_when_asked(tiny_mixture,
                                                                       tmp_path):
    """`train.processes: 2`, as the loop's train step calls it: torchrun is launched from
    here, the main process writes one adapter, and its card says how it was trained."""
    settings = TrainSettings(pack_tokens=512, processes=2)
    adapter = train(tiny_mixture, "tiny", settings, tmp_path / "lora", progress=False)
    card = json.loads((tmp_path / "lora" / "mosaic_card.json").read_text())
    assert adapter.card == card and card["processes"] == 2
    assert card["settings"]["processes"] == 2 and card["attention"] == "sdpa"
    assert card["base_dtype"] == "float32"  # on the CPU the base stays fp32
    assert (tmp_path / "lora" / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "lora" / "launch_settings.json").exists()


def test_a_failed_launch_names_its_exit_and_last_lines(tiny_mixture, tmp_path):
    from mosaic.train.launch import TrainingError

    with pytest.raises(TrainingError, match=r"failed \(exit 1\); its last lines:\n"
                                            r"(.|\n)*no-such-model"):
        train(tiny_mixture, "no-such-model", TrainSettings(processes=2), tmp_path / "lora",
              progress=False)


def _tiny_tokenizer():
    from mosaic.train.models import load_tokenizer

    return load_tokenizer("tiny")


def test_the_step_schedule_splits_evenly_and_reshuffles_each_epoch():
    from mosaic.train.loop import step_schedule

    one = step_schedule(10, 2.0, seed=3)
    assert sorted(one[:10]) == sorted(one[10:]) == list(range(10))
    assert one[:10] != one[10:]  # a new order each epoch
    assert step_schedule(10, 0.5, seed=3) == one[:5]
    ranks = [step_schedule(11, 1.0, seed=3, rank=r, world=3) for r in range(3)]
    assert [len(r) for r in ranks] == [3, 3, 3]  # 11 // 3 each: equal steps
    assert not set(ranks[0]) & set(ranks[1])
    with pytest.raises(ValueError, match="cannot be shared by 4 processes"):
        step_schedule(3, 1.0, seed=0, world=4)


def test_chats_cut_before_any_assistant_token_are_left_out_and_counted(tiny_tokenizer):
    from mosaic.train.sft import _encode_all

    long_question = [Message(role="user", content="why " * 400),
                     Message(role="assistant", content="Because.")]
    examples, cut, targetless = _encode_all(tiny_tokenizer, [CHAT, long_question], 64)
    # both are cut; CHAT keeps part of its first answer, the long question loses its answer
    assert (cut, targetless, len(examples)) == (2, 1, 1)
    assert len(examples[0].input_ids) <= 64


def test_the_attention_kernel_and_base_dtype_are_chosen_explicitly_on_this_cpu():
    """On the CPU: sdpa, an fp32 base (autocast does any bf16 work); flash attention, which
    takes only half-precision inputs, is refused over an fp32 base."""
    import torch

    from mosaic.errors import ConfigError
    from mosaic.train.sft import attention_for, base_dtype

    assert attention_for(TrainSettings()) == "sdpa"
    assert attention_for(TrainSettings(attention="eager")) == "eager"
    assert base_dtype(TrainSettings(precision="bf16")) == torch.float32
    with pytest.raises(ConfigError, match="needs the base weights in bf16"):
        attention_for(TrainSettings(attention="flash_attention_2"))


def test_a_card_with_a_diverged_loss_says_so_instead_of_a_number():
    from mosaic.train.sft import AdapterCard, _finite, loss_text

    assert _finite(float("nan")) is None and _finite(float("inf")) is None
    assert _finite(2.5) == 2.5
    diverged = AdapterCard.model_construct(steps=3, first_loss=2.0, final_loss=None)
    assert loss_text(diverged) == "loss not finite (training diverged)"
    fine = AdapterCard.model_construct(steps=3, first_loss=2.0, final_loss=1.25)
    assert loss_text(fine) == "loss 2.000 -> 1.250" and loss_text(fine, 4).endswith("1.2500")
