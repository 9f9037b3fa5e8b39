"""The run's training pools, as tables counted for the run's base model."""

from __future__ import annotations

from typing import Any

from mosaic.config import RunConfig
from mosaic.data.pool_table import PoolTable, cut_to, load_pool_table
from mosaic.train.models import load_tokenizer, resolve_model


def token_count_id(model: str) -> str:
    """How the budget is counted for a base model: `templated:<model id>`."""
    return f"templated:{resolve_model(model).model_id}"


def load_pools(config: RunConfig, *, tokenizer: Any = None) -> dict[str, PoolTable]:
    """Every pool of the run, in the config's objective order, rows longer than
    `train.max_example_tokens` planned at that length. Token counts made for another
    model are redone with the base model's tokenizer (loaded here, once, and only after a
    pool file was read, so a missing file is reported before any model is looked for)."""
    token_count = token_count_id(config.model)
    loaded = [tokenizer]

    def get_tokenizer() -> Any:
        if loaded[0] is None:
            loaded[0] = load_tokenizer(config.model)
        return loaded[0]

    # Rows longer than the trainer's cut are planned at the cut (cut_rows counts them).
    return {objective: cut_to(load_pool_table(source.resolved(), objective=objective,
                                              token_count=token_count, fmt=source.format,
                                              split=source.split, config=source.config,
                                              get_tokenizer=get_tokenizer),
                              config.train.max_example_tokens)
            for objective, source in config.pools.items()}
