"""The `tiny` model: a random-init Llama-architecture model with its own byte-level BPE
tokenizer and a ChatML template, built in seconds and deterministic for a seed.

It learns nothing useful on its own; it exists so that every code path (templating,
token counting, training, generation, the whole loop) runs for real in tests and CI.
Every number is spelled out here, nanoGPT style.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

TINY_VERSION = "1"
"""Bump when anything below changes, so cached builds are rebuilt."""

VOCAB_SIZE = 4096        # BPE merges over bytes; small enough to train in < 1 s
HIDDEN_SIZE = 128
INTERMEDIATE_SIZE = 352  # MLP width (~2.75x hidden, as in Llama)
NUM_LAYERS = 4
NUM_HEADS = 4
NUM_KV_HEADS = 2         # grouped-query attention, like the real models we target
MAX_POSITIONS = 2048

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Words the tokenizer corpus is composed from: everyday English plus the vocabulary of the
# three objectives (requests, refusals, boundary topics, formatting instructions).
_WORDS = """
the a an and or but if then so because while with without for to of in on at by from about
as into over under after before between through during up down out off again once more most
some any each every all both few many much other such only own same than too very can will
just should would could may might must shall do does did have has had be is are was were
been being it its this that these those there here what which who whom whose when where why
how i you he she we they me him her us them my your his our their mine yours please thanks
hello help answer question explain describe write list give show tell make find use need
want know think say see ask try keep start end first last next new old good bad great small
large long short high low right left early late important different possible simple clear
sorry cannot can't won't unable assist request instead safe safety harmful dangerous illegal
legal policy guidelines ethical risk protect privacy security secure information resources
professional support contact emergency services doctor lawyer counselor report alternative
reason because understand concern happy glad sure certainly here's steps step overview
chemistry chemical weapon virus malware hacking password account bank fraud scam drug drugs
medicine dose poison knife gun explosive fire kill process thread python script code program
computer network server data database file system linux windows terminal command error
history war battle novel story character fiction movie game plot villain hero detective
health symptoms treatment doctor nurse patient hospital diet exercise sleep stress anxiety
kitchen cooking recipe garden plants animals pets travel city country school student teacher
essay summary paragraph paragraphs sentence sentences word words letter letters title section
sections bullet bullets points highlight highlighted json format lowercase uppercase capital
comma quotation quotes postscript placeholder placeholders keyword keywords exactly least at
most fewer less than response responses repeat prompt language english spanish french german
one two three four five six seven eight nine ten twenty hundred first second third fourth
"""

_TEMPLATES = [
    "{w} {w} {w}.",
    "Can you {w} the {w} {w}?",
    "I cannot help with {w} {w}, but I can {w} {w} instead.",
    "Here is a {w} {w} about {w} and {w}:",
    "* {w} {w}\n* {w} {w}\n* {w}",
    "Write {n} {w} about {w}, in exactly {n} sentences.",
    "{W} {W} {w} {w}, {w} {w}!",
    '{{"{w}": "{w} {w}", "{w}": {n}}}',
    "P.S. {w} {w} {w}.",
]


def corpus(seed: int, n_lines: int = 20000) -> list[str]:
    """Deterministic training text for the tokenizer (composed, no external data)."""
    rng = random.Random(seed)
    words = _WORDS.split()

    def fill(template: str) -> str:
        out = template
        while "{w}" in out or "{W}" in out or "{n}" in out:
            out = out.replace("{w}", rng.choice(words), 1)
            out = out.replace("{W}", rng.choice(words).upper(), 1)
            out = out.replace("{n}", str(rng.randint(1, 500)), 1)
        return out

    return [fill(rng.choice(_TEMPLATES)) for _ in range(n_lines)]


def build_tokenizer(seed: int) -> Any:
    """A byte-level BPE tokenizer trained on `corpus(seed)`, with ChatML special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(seed), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=MAX_POSITIONS,
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny(seed: int, folder: Path) -> None:
    """Build the tiny model + tokenizer for `seed` and save them as a HF folder."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_KV_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # fork_rng keeps the caller's global torch RNG untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
