"""The IFEval instruction catalogue: the 25 verifiable instruction ids and their kwargs.

Ids and kwarg names follow Google's IFEval (Zhou et al. 2023, arXiv 2311.07911), whose
checkers mosaic runs through `if-verifiable`. Those checkers draw *random* parameters when
a kwarg is missing, so every item here must carry complete kwargs: `normalise_kwargs`
reports what is missing instead of letting a checker guess (docs/reference.md §3.6).

Relations: the checkers understand "less than" (strict <) and "at least" (>=). Integer
rewrites that mean exactly the same are applied here ("at most N" -> "less than N+1",
"more than N" -> "at least N+1"). "exactly N" is kept as is: the checker adapter evaluates
it as "at least N" and "less than N+1" together, so one constraint stays one instruction
(the reference split it in two, which inflated instruction complexity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RELATIONS = ("less than", "at least", "exactly")
"""Relations an item may carry after normalisation."""

_RELATION_REWRITES = {"at most": ("less than", 1), "more than": ("at least", 1)}


@dataclass(frozen=True)
class InstructionSpec:
    """Which kwargs an instruction id takes, and their types."""

    id: str
    kwargs: Mapping[str, str]
    """kwarg name -> type: int, str, letter, str_list, relation."""

    @property
    def group(self) -> str:
        return instruction_group(self.id)


def instruction_group(instruction_id: str) -> str:
    """The group of an instruction id: the part before ':' (e.g. `keywords`)."""
    return instruction_id.split(":", 1)[0]


_SPECS = [
    InstructionSpec("keywords:existence", {"keywords": "str_list"}),
    InstructionSpec(
        "keywords:frequency", {"keyword": "str", "frequency": "int", "relation": "relation"}
    ),
    InstructionSpec("keywords:forbidden_words", {"forbidden_words": "str_list"}),
    InstructionSpec(
        "keywords:letter_frequency",
        {"letter": "letter", "let_frequency": "int", "let_relation": "relation"},
    ),
    InstructionSpec("language:response_language", {"language": "str"}),
    InstructionSpec(
        "length_constraints:number_sentences", {"num_sentences": "int", "relation": "relation"}
    ),
    InstructionSpec("length_constraints:number_paragraphs", {"num_paragraphs": "int"}),
    InstructionSpec(
        "length_constraints:number_words", {"num_words": "int", "relation": "relation"}
    ),
    InstructionSpec(
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": "int", "nth_paragraph": "int", "first_word": "str"},
    ),
    InstructionSpec("detectable_content:number_placeholders", {"num_placeholders": "int"}),
    InstructionSpec("detectable_content:postscript", {"postscript_marker": "str"}),
    InstructionSpec("detectable_format:number_bullet_lists", {"num_bullets": "int"}),
    InstructionSpec("detectable_format:constrained_response", {}),
    InstructionSpec("detectable_format:number_highlighted_sections", {"num_highlights": "int"}),
    InstructionSpec(
        "detectable_format:multiple_sections", {"section_spliter": "str", "num_sections": "int"}
    ),
    InstructionSpec("detectable_format:json_format", {}),
    InstructionSpec("detectable_format:title", {}),
    InstructionSpec("combination:two_responses", {}),
    InstructionSpec("combination:repeat_prompt", {"prompt_to_repeat": "str"}),
    InstructionSpec("startend:end_checker", {"end_phrase": "str"}),
    InstructionSpec(
        "change_case:capital_word_frequency",
        {"capital_frequency": "int", "capital_relation": "relation"},
    ),
    InstructionSpec("change_case:english_capital", {}),
    InstructionSpec("change_case:english_lowercase", {}),
    InstructionSpec("punctuation:no_comma", {}),
    InstructionSpec("startend:quotation", {}),
]

INSTRUCTIONS: dict[str, InstructionSpec] = {spec.id: spec for spec in _SPECS}
INSTRUCTION_IDS: tuple[str, ...] = tuple(INSTRUCTIONS)
INSTRUCTION_GROUPS: tuple[str, ...] = tuple(dict.fromkeys(s.group for s in _SPECS))

_RELATION_FIELD = {"frequency": "relation", "num_sentences": "relation", "num_words": "relation",
                   "let_frequency": "let_relation", "capital_frequency": "capital_relation"}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def normalise_kwargs(
    instruction_id: str, kwargs: Mapping[str, Any] | None
) -> tuple[dict[str, Any], list[str]]:
    """Check one instruction's kwargs; return them in canonical form and every problem found.

    Null-valued entries are dropped (Hugging Face's IFEval copy stores every kwarg of every
    instruction, most of them null). Problems name the kwarg and what is wrong with it; an
    empty list means the item can be checked deterministically.
    """
    spec = INSTRUCTIONS.get(instruction_id)
    if spec is None:
        return {}, [f"unknown instruction id '{instruction_id}'"]
    if kwargs is not None and not isinstance(kwargs, Mapping):
        return {}, [f"{instruction_id}: kwargs must be an object, got {type(kwargs).__name__}"]
    given = {k: v for k, v in (kwargs or {}).items() if v is not None}
    out: dict[str, Any] = {}
    problems = [
        f"{instruction_id}: unexpected kwarg '{name}'" for name in given if name not in spec.kwargs
    ]
    for name, kind in spec.kwargs.items():
        if name not in given:
            problems.append(f"{instruction_id}: missing kwarg '{name}'")
            continue
        value = given[name]
        bad = f"{instruction_id}: kwarg '{name}' must be"
        if kind == "int":
            number = _as_int(value)
            if number is None or number < 0:
                problems.append(f"{bad} a non-negative integer, got {value!r}")
            else:
                out[name] = number
        elif kind == "letter":
            if not (isinstance(value, str) and len(value.strip()) == 1 and value.strip().isalpha()):
                problems.append(f"{bad} a single letter, got {value!r}")
            else:
                out[name] = value.strip().lower()
        elif kind == "str":
            if not (isinstance(value, str) and value.strip()):
                problems.append(f"{bad} a non-empty string, got {value!r}")
            else:
                out[name] = value
        elif kind == "str_list":
            if isinstance(value, str):
                value = [value]
            if not (isinstance(value, list | tuple) and value
                    and all(isinstance(v, str) and v.strip() for v in value)):
                problems.append(f"{bad} a non-empty list of strings, got {value!r}")
            else:
                out[name] = list(value)
        elif kind == "relation":
            relation = str(value).strip().lower()
            if relation not in RELATIONS and relation not in _RELATION_REWRITES:
                problems.append(f"{bad} one of {RELATIONS}, got {value!r}")
            else:
                out[name] = relation
    # Integer rewrites that keep the meaning and land on a relation the checker knows.
    for count_name, relation_name in _RELATION_FIELD.items():
        current = out.get(relation_name)
        if current in _RELATION_REWRITES and count_name in out:
            new_relation, shift = _RELATION_REWRITES[current]
            out[relation_name] = new_relation
            out[count_name] = out[count_name] + shift
    return out, problems
