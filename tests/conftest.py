"""Shared test setup: offline, a persistent test cache, and the small real models."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

# Never touch the network, even if the suite is run without the Makefile.
for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_name] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Built models are cached across runs (the SmolLM2 conversion takes ~30 s once).
os.environ.setdefault("MOSAIC_CACHE_DIR", str(REPO / ".cache" / "mosaic-tests"))


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from mosaic.train.models import load_model

    _, tokenizer = load_model("tiny")
    return tokenizer


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    from mosaic.train.models import load_model

    _, tokenizer = load_model("smollm2-135m-instruct")
    return tokenizer


# Two more chat templates, built on the tiny tokenizer: a Llama-3-style one (its own header
# and end-of-turn tokens, content trimmed) and a ChatML one that adds a default system
# prompt. With the tiny and SmolLM2 templates they are the four every masking test covers.
LLAMA3_TEMPLATE = (
    "{{ '<|begin_of_text|>' }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
DEFAULT_SYSTEM_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a careful assistant.<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="session")
def llama3_tokenizer(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": [
        "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]})
    tokenizer.eos_token = "<|eot_id|>"
    tokenizer.chat_template = LLAMA3_TEMPLATE
    return tokenizer


@pytest.fixture(scope="session")
def default_system_tokenizer(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = DEFAULT_SYSTEM_TEMPLATE
    return tokenizer
