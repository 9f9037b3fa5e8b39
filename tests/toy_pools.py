"""Toy pools in memory with known token counts, for validation, repair and mixture tests."""

from __future__ import annotations

import random

from mosaic.data.pool_table import PoolTable, pool_table
from mosaic.objectives import get_objective
from mosaic.schema import Message, PoolRow

TOKEN_COUNT = "templated:toy"


def toy_row(objective: str, i: int, slice_: str | None, tokens: int, **attributes) -> PoolRow:
    quality = attributes.pop("quality", 5.0)
    return PoolRow(id=f"{objective}-{i:05d}", objective=objective,
                   messages=[Message(role="user", content=f"prompt {i}"),
                             Message(role="assistant", content=f"reply {i}")],
                   slice=slice_, attributes=attributes, quality=quality, tokens=tokens,
                   assistant_tokens=tokens // 2, source="toy")


def toy_pool(objective: str, rows_per_slice: int = 40, *, seed: int = 0,
             lengths: tuple[int, int] = (50, 400), slices: dict[str, int] | None = None
             ) -> PoolTable:
    """`rows_per_slice` rows in every slice (or `slices[name]` rows), lengths drawn uniformly,
    and objective-specific attributes so every focus key has something to match."""
    rng = random.Random(f"{objective}:{seed}")
    spec = get_objective(objective)
    rows, i = [], 0
    for slice_ in spec.slices:
        for _ in range((slices or {}).get(slice_, rows_per_slice)):
            rows.append(toy_row(objective, i, slice_, rng.randint(*lengths),
                                **_attributes(objective, slice_, rng)))
            i += 1
    return pool_table(rows, objective=objective, token_count=TOKEN_COUNT)


def _attributes(objective: str, slice_: str, rng: random.Random) -> dict:
    level = int(slice_.rsplit("_", 1)[1])
    if objective == "xguard":
        pressure = rng.randint(max(1, 2 * level - 5), min(5, 2 * level))
        concealment = max(1, min(5, 2 * level - pressure))
        return {"pressure": pressure, "concealment": concealment,
                "pc_pattern": f"P{pressure}_C{concealment}", "turns": rng.randint(1, 5),
                "category": rng.choice(["cyber", "weapons", "fraud"]),
                "quality": rng.choice([3.0, 5.0, 5.0, 5.0])}
    if objective == "orbench":
        return {"boundary_level": level, "hard": int(level == 4),
                "category": rng.choice(["medical", "technology"])}
    ids = rng.sample(["keywords:existence", "detectable_format:title",
                      "length_constraints:number_words", "punctuation:no_comma"], k=2)
    return {"inst_complexity": level, "instruction_ids": ids,
            "instruction_groups": sorted({i.split(":")[0] for i in ids})}


def toy_pools(rows_per_slice: int = 40, **kwargs) -> dict[str, PoolTable]:
    return {name: toy_pool(name, rows_per_slice, **kwargs)
            for name in ("xguard", "orbench", "ifeval")}
