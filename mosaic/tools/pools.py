"""The run's training pools, as tables counted for the run's base model."""

from __future__ import annotations

from typing import Any

from mosaic.config import RunConfig
from mosaic.data.pool_table import PoolTable, counted_as, load_pool_table


def token_count_id(model: str) -> str:
    """How the budget is counted for a base model: `templated:<model id>`."""
    from mosaic.train.models import resolve_model

    return f"templated:{resolve_model(model).model_id}"


def load_pools(config: RunConfig, *, tokenizer: Any = None) -> dict[str, PoolTable]:
    """Every pool of the run, in the config's objective order. Token counts made for another
    model are redone with the base model's tokenizer (loaded here, once, when needed)."""
    token_count = token_count_id(config.model)
    tables = {}
    for objective, source in config.pools.items():
        path = source.resolved()
        if tokenizer is None and not counted_as(path, token_count):
            from mosaic.train.models import load_tokenizer

            tokenizer = load_tokenizer(config.model)
        tables[objective] = load_pool_table(path, objective=objective, token_count=token_count,
                                            tokenizer=tokenizer, fmt=source.format)
    return tables
