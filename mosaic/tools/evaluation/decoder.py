"""A KV-cached decoder for Llama-family chat models on the CPU: the transformers backend's
default engine.

    weights = DecoderWeights.from_model(model)         # packed copies: `model` is not touched
    decoder = Decoder(weights)
    replies = decoder.generate(prompt_ids, max_new_tokens=64, stop_ids={2})  # token ids

Why not `model.generate` (benchmarks/generation.py measures both on the same prompts): on a
CPU, a decode step at batch 8-32 multiplies a few rows by every weight matrix, and the
weights stream from memory each step. `nn.Linear` hands that shape to MKL's sgemm, which
reached about 25 GFLOPS on 2 cores here; oneDNN with the weights packed once into its
blocked layout reached about 55 (the lm_head alone: 39 ms -> 16 ms per step at batch 16).
So this engine:

- packs every projection once for oneDNN, with a LoRA adapter merged in first (into a copy;
  the base model's tensors are never written), q/k/v and gate/up fused into one matrix each;
- prefills a batch in one pass (left-padded), then decodes into a preallocated KV cache,
  and a row that has stopped leaves the batch instead of being computed to the end;
- keeps the previous call's conversations (their keys and values, by token ids), so a
  prompt that starts with one of their whole prompts (the next turn of a multi-turn
  replay) prefills only what follows the tokens they share: the reply, or as much of it
  as the new prompt repeats token for token, is not run again. Only the previous call
  counts, so what a
  call reuses depends on that call's own conversations, never on what else this process
  generated earlier: an evaluation repeats exactly.

The math is the model's own (its rotary embedding module, RMSNorm, SiLU MLP, grouped-query
attention), so greedy replies match `generate` except where floating-point rounding in a
different summation order flips a near-tie between two tokens.

Supported: `llama`, `mistral` (without a sliding window) and `qwen2` model types whose
generation config adds no logits processors (a repetition penalty, banned words...);
`unsupported_reason(config, generation_config)` says why another model is not, and the
caller then uses `model.generate`.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERSION = 1
"""Part of the generator's name (so of generation cache keys): a change that can alter
replies bumps it, and replies cached by an older decoder are not reused."""
SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
PREFIX_CACHE_BYTES = 1 << 30
"""Keys and values kept from the previous call for reuse, at most."""
# Generation-config fields that make `model.generate` change logits even when greedy (or
# search differently), with their neutral values; the decoder applies none of them, so a
# model whose generation config sets one runs on `generate`. None, empty and neutral values
# count as unset.
LOGITS_PROCESSOR_FIELDS: dict[str, Any] = {
    "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0, "min_length": 0, "min_new_tokens": 0,
    "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None,
    "forced_bos_token_id": None, "forced_eos_token_id": None, "sequence_bias": None,
    "exponential_decay_length_penalty": None, "typical_p": 1.0, "min_p": 0.0,
    "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "top_h": None, "renormalize_logits": False,
    "remove_invalid_values": False, "guidance_scale": 1.0, "watermarking_config": None,
    "num_beams": 1,
}
# RoPE variants whose frequencies depend on the sequence length: keys computed at one
# length would be wrong at another, so they cannot be reused across calls.
LENGTH_DEPENDENT_ROPE = ("dynamic", "longrope")


def unsupported_reason(config: Any, generation_config: Any = None) -> str | None:
    """Why this decoder cannot run a model with this (transformers) config and generation
    config; None if it can."""
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        return (f"model type '{model_type}' is not one of "
                f"{', '.join(SUPPORTED_MODEL_TYPES)}")
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation '{config.hidden_act}' (only silu)"
    if model_type == "mistral" and getattr(config, "sliding_window", None):
        return "a sliding attention window"
    if model_type == "qwen2" and getattr(config, "use_sliding_window", False):
        return "a sliding attention window"
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or []):
        return "layers that are not full attention"
    if getattr(config, "pretraining_tp", 1) not in (None, 1):
        return "pretraining_tp > 1"
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None)
    rope_type = (rope or {}).get("rope_type", (rope or {}).get("type", "default"))
    if rope_type in LENGTH_DEPENDENT_ROPE:
        return f"rope type '{rope_type}' (its frequencies depend on the sequence length)"
    if generation_config is not None:
        changed = [name for name, neutral in LOGITS_PROCESSOR_FIELDS.items()
                   if getattr(generation_config, name, None) not in (None, [], {}, (), neutral)]
        if changed:
            return ("its generation config sets " + ", ".join(changed)
                    + " (logits processors the decoder does not apply)")
    return None


class Projection:
    """y = x Wᵀ + b. The weight is packed once into oneDNN's blocked layout where this torch
    build and dtype allow it (fp32 everywhere; bf16 only on CPUs that compute it), else
    kept dense for `F.linear`."""

    def __init__(self, weight: Any, bias: Any = None, *, batch_hint: int = 16) -> None:
        import torch

        self.bias = bias
        self.out_features = weight.shape[0]
        self.packed: Any = None
        self.weight: Any = None
        if weight.device.type == "cpu" and torch.backends.mkldnn.is_available():
            try:
                self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(),
                                                                      batch_hint)
            except (RuntimeError, AttributeError):  # dtype or CPU without a oneDNN kernel
                self.packed = None
        if self.packed is None:
            self.weight = weight.contiguous()

    def __call__(self, x: Any) -> Any:
        import torch
        import torch.nn.functional as F

        if self.packed is not None:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        return F.linear(x, self.weight, self.bias)


@dataclass
class LayerWeights:
    input_norm: Any
    qkv: Projection
    out: Projection
    post_norm: Any
    gate_up: Projection
    down: Projection


@dataclass
class DecoderWeights:
    """One model's weights, in the decoder's shapes. Build with `from_model`."""

    n_heads: int
    n_kv_heads: int
    head_dim: int
    eps: float
    embed: Any
    """Token embedding matrix [vocab, hidden] (the model's own tensor, only read)."""
    rotary: Any
    """The model's rotary embedding module: (x, position_ids) -> (cos, sin)."""
    layers: list[LayerWeights]
    final_norm: Any
    lm_head: Projection
    dtype: Any

    @classmethod
    def from_model(cls, model: Any, *, batch_hint: int = 16) -> DecoderWeights:
        """Pack a transformers Llama-family model (a `...ForCausalLM`, no peft wrapper)."""
        import torch

        reason = unsupported_reason(model.config)
        if reason is None and not hasattr(getattr(model, "model", None), "layers"):
            reason = f"{type(model).__name__} is not a ...ForCausalLM model (a peft wrapper?)"
        if reason is not None:
            raise ValueError(f"the decoder cannot run this model: {reason}")
        config = model.config
        n_heads, n_kv = config.num_attention_heads, config.num_key_value_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
        inner = model.model

        def fused(*linears: Any) -> Projection:
            weight = torch.cat([lin.weight.detach() for lin in linears])
            biases = [lin.bias for lin in linears]
            bias = None
            if any(b is not None for b in biases):
                bias = torch.cat([b.detach() if b is not None else
                                  torch.zeros(lin.out_features, dtype=weight.dtype)
                                  for b, lin in zip(biases, linears, strict=True)])
            return Projection(weight, bias, batch_hint=batch_hint)

        layers = []
        with torch.no_grad():
            for layer in inner.layers:
                attn, mlp = layer.self_attn, layer.mlp
                layers.append(LayerWeights(
                    input_norm=layer.input_layernorm.weight.detach(),
                    qkv=fused(attn.q_proj, attn.k_proj, attn.v_proj),
                    out=fused(attn.o_proj),
                    post_norm=layer.post_attention_layernorm.weight.detach(),
                    gate_up=fused(mlp.gate_proj, mlp.up_proj),
                    down=fused(mlp.down_proj),
                ))
            lm_head = fused(model.lm_head)
        return cls(n_heads=n_heads, n_kv_heads=n_kv, head_dim=head_dim,
                   eps=config.rms_norm_eps, embed=inner.embed_tokens.weight.detach(),
                   rotary=inner.rotary_emb, layers=layers,
                   final_norm=inner.norm.weight.detach(), lm_head=lm_head,
                   dtype=inner.embed_tokens.weight.dtype)

    @classmethod
    def merged(cls, model: Any, adapter_folder: str, *, batch_hint: int = 16
               ) -> DecoderWeights:
        """The base model with a peft LoRA adapter merged into a private copy of its weights
        (peft's own merge, so every adapter peft can merge is merged the same way)."""
        from peft import PeftModel

        tied = _tied_embeddings_adapted(model.config, adapter_folder)
        if tied:
            # Merging writes into the one tensor the input embedding and the output head
            # share, changing both, where peft's unmerged layers change only one.
            raise ValueError(f"the adapter trains {tied}, whose weights this model ties "
                             "to its input embedding: merging would change both")
        work = copy.deepcopy(model)  # the base stays exactly as it was
        merged = PeftModel.from_pretrained(work, adapter_folder).merge_and_unload()
        return cls.from_model(merged.eval(), batch_hint=batch_hint)

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * len(self.layers) * self.n_kv_heads * self.head_dim * self.embed.element_size()


def _tied_embeddings_adapted(config: Any, adapter_folder: str) -> str | None:
    """The embedding module an adapter puts a LoRA on when the model ties its input
    embedding and output head, else None. (A full trained copy, `modules_to_save`, is fine:
    peft unties the weights when it merges one.)"""
    if not getattr(config, "tie_word_embeddings", False):
        return None
    adapter = json.loads((Path(adapter_folder) / "adapter_config.json").read_text("utf-8"))
    targets = adapter.get("target_modules") or []
    names = [targets] if isinstance(targets, str) else list(targets)
    touched = [n for n in names if "lm_head" in n or "embed_tokens" in n]
    return ", ".join(touched) or None


@dataclass
class Sampling:
    """Temperature / nucleus sampling; None in `Decoder.generate` means greedy. The seed is
    the torch.Generator passed with it."""

    temperature: float
    top_p: float


@dataclass
class DecoderStats:
    """Where a decoder's time went, summed over its calls (benchmarks print it)."""

    prefilled_tokens: int = 0
    """Prompt tokens run through the model (padding not counted)."""
    padded_tokens: int = 0
    """Prompt positions computed in prefill, padding included."""
    reused_tokens: int = 0
    """Prompt tokens whose keys and values came from the prefix cache instead."""
    generated_tokens: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    decode_steps: int = 0


@dataclass
class _Cached:
    ids: Any           # LongTensor [n]: the tokens whose keys and values are held
    prompt_length: int  # ids[:prompt_length] was the prompt, the rest the generated reply
    keys: list[Any]    # per layer [kv_heads, n, head_dim]
    values: list[Any]

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)


class Decoder:
    """Batched generation over one `DecoderWeights`, reusing the keys and values of the
    previous call's conversations where a prompt continues one of them.

        decoder.begin_call()                   # once per call; its batches follow
        new_ids = decoder.generate(batch, max_new_tokens=64, stop_ids={2})
    """

    def __init__(self, weights: DecoderWeights, *, prefix_cache_bytes: int = PREFIX_CACHE_BYTES
                 ) -> None:
        self.w = weights
        self.prefix_cache_bytes = prefix_cache_bytes
        self._previous: list[_Cached] = []    # the previous call's conversations: reusable
        self._current: list[_Cached] = []     # this call's, kept for the next call
        self._current_bytes = 0
        self.stats = DecoderStats()

    def begin_call(self) -> None:
        """Start a new call: the conversations of the call that just ended become the ones
        a prompt may continue; everything older is dropped."""
        self._previous, self._current, self._current_bytes = self._current, [], 0

    def generate(self, prompts: Sequence[Sequence[int]], *, max_new_tokens: int,
                 stop_ids: Collection[int], sampling: Sampling | None = None,
                 generator: Any = None) -> list[list[int]]:
        """New token ids for each prompt, one batch; a reply that stopped ends with its stop
        token (as `model.generate` returns it)."""
        import torch

        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        if not prompts:
            return []
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        with torch.inference_mode():
            return self._generate(prompts, max_new_tokens, stop_ids, sampling, generator)

    # -- the batch ----------------------------------------------------------------------

    def _generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                  stop_ids: Collection[int], sampling: Sampling | None, generator: Any
                  ) -> list[list[int]]:
        import torch

        w = self.w
        batch = len(prompts)
        ids = [torch.tensor(list(p), dtype=torch.long) for p in prompts]
        lengths = torch.tensor([len(p) for p in prompts])
        width = int(lengths.max())            # prompt columns; row b ends at column `width`
        columns = width + max_new_tokens - 1  # the last new token is never fed back
        reused = [self._longest_prefix(row) for row in ids]
        keys = [torch.zeros(batch, w.n_kv_heads, columns, w.head_dim, dtype=w.dtype)
                for _ in w.layers]
        values = [torch.zeros_like(k) for k in keys]
        starts = width - lengths               # first column of each row
        for b, (entry, n) in enumerate(reused):
            if n:
                assert entry is not None  # _longest_prefix shares tokens only with an entry
                start = int(starts[b])
                for layer, (k, v) in enumerate(zip(keys, values, strict=True)):
                    k[b, :, start:start + n] = entry.keys[layer][:, :n]
                    v[b, :, start:start + n] = entry.values[layer][:, :n]
        kept = torch.tensor([n for _, n in reused])
        stats, started = self.stats, time.perf_counter()
        stats.reused_tokens += int(kept.sum())
        stats.prefilled_tokens += int((lengths - kept).sum())
        stats.padded_tokens += batch * int((lengths - kept).max())
        token = self._prefill(ids, lengths, kept, width, keys, values, sampling, generator)
        stats.prefill_seconds += time.perf_counter() - started
        started = time.perf_counter()

        stop = torch.tensor(sorted(stop_ids), dtype=torch.long)
        out: list[list[int]] = [[] for _ in range(batch)]
        rows = torch.arange(batch)             # which prompt each batch row is
        fed = 0                                # generated tokens already in the cache
        valid = torch.arange(columns)[None, :] >= starts[:, None]   # [rows, columns]
        valid[:, width:] = False
        while True:
            done = torch.isin(token, stop)
            for row, tok in zip(rows.tolist(), token.tolist(), strict=True):
                out[row].append(tok)
            last = fed + 1 >= max_new_tokens
            if last or bool(done.any()):
                finished_rows = torch.ones_like(done) if last else done
                self._remember(rows, finished_rows, ids, out, fed, starts, keys, values)
                if last or bool(done.all()):
                    stats.decode_seconds += time.perf_counter() - started
                    stats.generated_tokens += sum(len(r) for r in out)  # stop tokens too
                    return out
                keep = (~done).nonzero().flatten()
                rows, token, starts = rows[keep], token[keep], starts[keep]
                keys = [k.index_select(0, keep) for k in keys]
                values = [v.index_select(0, keep) for v in values]
                valid = valid.index_select(0, keep)
            column = width + fed
            valid[:, column] = True
            positions = (column - starts)[:, None]
            logits = self._forward(token[:, None], positions, column, keys, values,
                                   valid[:, None, :column + 1])
            token = _pick(logits[:, -1], sampling, generator)
            fed += 1
            stats.decode_steps += 1

    def _prefill(self, ids: list[Any], lengths: Any, kept: Any, width: int, keys: list[Any],
                 values: list[Any], sampling: Sampling | None, generator: Any) -> Any:
        """Run every row's new prompt tokens (left-padded to the longest) in one pass; the
        first generated token of each row."""
        import torch

        new = lengths - kept
        span = int(new.max())
        query_ids = torch.zeros(len(ids), span, dtype=torch.long)
        for b, row in enumerate(ids):
            n = int(new[b])
            query_ids[b, span - n:] = row[int(kept[b]):]
        offset = torch.arange(span)[None, :] - span      # -span .. -1
        positions = (lengths[:, None] + offset).clamp(min=0)
        real = offset >= -new[:, None]                    # [rows, span]: not padding
        column = torch.arange(width)[None, None, :]       # key columns
        query_column = (width + offset)[:, :, None]       # [1, span, 1]
        starts = (width - lengths)[:, None, None]
        mask = (column >= starts) & (column <= query_column)
        mask = mask | ~real[:, :, None]   # padding queries see everything: finite, unused
        logits = self._forward(query_ids, positions, width - span, keys, values, mask,
                               write_mask=real, last_only=True)
        return _pick(logits[:, -1], sampling, generator)

    # -- the model ----------------------------------------------------------------------

    def _forward(self, tokens: Any, positions: Any, first_column: int, keys: list[Any],
                 values: list[Any], mask: Any, *, write_mask: Any = None,
                 last_only: bool = True) -> Any:
        """Logits for `tokens` [rows, span] at `positions`, writing their keys and values
        into columns first_column .. first_column + span of the cache, attending over the
        columns up to the last written one under `mask` [rows, span, columns]."""
        import torch
        import torch.nn.functional as F

        w = self.w
        rows, span = tokens.shape
        groups = w.n_heads // w.n_kv_heads
        end = first_column + span
        x = F.embedding(tokens, w.embed)
        cos, sin = w.rotary(x, positions)
        cos, sin = cos[:, None], sin[:, None]
        # Grouped-query attention as plain attention: the `groups` query heads that share a
        # key/value head become `groups * span` query rows of that head.
        grouped_mask = mask[:, None].expand(rows, groups, span, mask.shape[-1]).reshape(
            rows, 1, groups * span, mask.shape[-1])
        for layer, k_cache, v_cache in zip(w.layers, keys, values, strict=True):
            h = F.rms_norm(x, (x.shape[-1],), layer.input_norm, w.eps)
            qkv = layer.qkv(h).view(rows, span, w.n_heads + 2 * w.n_kv_heads, w.head_dim)
            qk, v = qkv.transpose(1, 2).split([w.n_heads + w.n_kv_heads, w.n_kv_heads], 1)
            qk = qk * cos + _rotate_half(qk) * sin  # queries and keys rotated at once
            q, k = qk.split([w.n_heads, w.n_kv_heads], 1)
            if write_mask is None:
                k_cache[:, :, first_column:end] = k
                v_cache[:, :, first_column:end] = v
            else:
                keep = write_mask[:, None, :, None]
                window_k = k_cache[:, :, first_column:end]
                window_v = v_cache[:, :, first_column:end]
                window_k.copy_(torch.where(keep, k, window_k))
                window_v.copy_(torch.where(keep, v, window_v))
            q = q.reshape(rows, w.n_kv_heads, groups * span, w.head_dim)
            attended = F.scaled_dot_product_attention(
                q, k_cache[:, :, :end], v_cache[:, :, :end], attn_mask=grouped_mask)
            attended = attended.view(rows, w.n_heads, span, w.head_dim).transpose(1, 2)
            x = x + layer.out(attended.reshape(rows, span, w.n_heads * w.head_dim))
            h = F.rms_norm(x, (x.shape[-1],), layer.post_norm, w.eps)
            gate, up = layer.gate_up(h).chunk(2, dim=-1)
            x = x + layer.down(F.silu(gate) * up)
        if last_only:
            x = x[:, -1:]
        return w.lm_head(F.rms_norm(x, (x.shape[-1],), w.final_norm, w.eps))

    # -- the prefix cache ---------------------------------------------------------------

    def _longest_prefix(self, ids: Any) -> tuple[_Cached | None, int]:
        """The previous call's conversation whose whole prompt `ids` continues, and how many
        leading tokens they share (its prompt, and as much of its reply as `ids` repeats
        token for token; at most len(ids) - 1: the last prompt token is always run, for its
        logits); (None, 0) if there is none. A prompt that merely shares a beginning with
        an earlier one (a system prompt) or repeats it is run anew."""
        import torch

        best, best_n = None, 0
        limit = len(ids) - 1
        for entry in self._previous:
            n = min(limit, len(entry.ids))
            if n < entry.prompt_length or n <= best_n:
                continue
            same = (entry.ids[:n] == ids[:n]).to(torch.int8)
            matched = int(same.cumprod(0).sum())
            if matched >= entry.prompt_length and matched > best_n:
                best, best_n = entry, matched
        return best, best_n

    def _remember(self, rows: Any, finished: Any, ids: list[Any], out: list[list[int]],
                  fed: int, starts: Any, keys: list[Any], values: list[Any]) -> None:
        """Keep the keys and values of the rows that just finished, for the next call: their
        prompt plus the generated tokens already fed back (every generated token but the
        last). Past the byte budget, conversations are not kept."""
        import torch

        for index in finished.nonzero().flatten().tolist():
            row = int(rows[index])
            tokens = torch.cat([ids[row], torch.tensor(out[row][:fed], dtype=torch.long)])
            size = len(tokens) * self.w.kv_bytes_per_token
            if self._current_bytes + size > self.prefix_cache_bytes:
                continue
            start = int(starts[index])
            end = start + len(tokens)
            self._current.append(_Cached(tokens, len(ids[row]),
                                         [k[index, :, start:end].clone() for k in keys],
                                         [v[index, :, start:end].clone() for v in values]))
            self._current_bytes += size


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _pick(logits: Any, sampling: Sampling | None, generator: Any) -> Any:
    """The next token of each row: argmax (greedy), or a draw from the temperature-scaled
    distribution cut to its top-p nucleus (the smallest set of most likely tokens whose
    probability reaches top_p, as transformers' TopPLogitsWarper keeps)."""
    import torch

    if sampling is None:
        return logits.argmax(-1)
    scores = logits.float() / sampling.temperature
    if sampling.top_p < 1.0:
        sorted_scores, order = scores.sort(-1, descending=True)
        probs = sorted_scores.softmax(-1)
        before = probs.cumsum(-1) - probs          # mass of the more likely tokens
        sorted_scores = sorted_scores.masked_fill(before >= sampling.top_p, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(-1, order, sorted_scores)
    return torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(-1)
