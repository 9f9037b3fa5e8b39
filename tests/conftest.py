"""Shared test setup: offline, a persistent test cache, and the small real models."""

from __future__ import annotations

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
