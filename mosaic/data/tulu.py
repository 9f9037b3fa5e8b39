"""Map Tulu-3 persona constraint strings to IFEval instruction ids, with kwargs from the prompt.

Rows of `allenai/tulu-3-sft-personas-instruction-following` look like:

    {"id": "personas_IF_...", "prompt": "Write a short essay about river cleanups. Include the
     keywords 'volunteer' and 'plastic'. Your response should contain exactly 3 paragraphs
     separated by ***", "messages": [...], "constraints": ["include keywords",
     "length constraints:number of paragraphs"]}

The strings name IFEval instruction types, but the parameters (which keywords, how many
paragraphs) live only in the free-text prompt. `map_constraints` finds them with patterns
of our own. When it cannot find a parameter it says so: the constraint is returned as
*unverifiable* with a reason, never checked with guessed or random parameters (reference
§10.13). `format:choose one from options` is always unverifiable: Tulu lets the prompt
define the options, while IFEval's checker only knows its own fixed yes/no/maybe phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mosaic.data.ifeval_instructions import normalise_kwargs

TULU_CONSTRAINTS: dict[str, str] = {
    "keywords:exclude words": "keywords:forbidden_words",
    "format:title": "detectable_format:title",
    "keywords:letter frequency": "keywords:letter_frequency",
    "format:number of bullet lists": "detectable_format:number_bullet_lists",
    "length constraints:number of paragraphs": "length_constraints:number_paragraphs",
    "case:in english and lowercase": "change_case:english_lowercase",
    "in english and capital": "change_case:english_capital",
    "length constraints:number of sentences": "length_constraints:number_sentences",
    "keywords:frequency": "keywords:frequency",
    "content:include a postscript": "detectable_content:postscript",
    "content:number of placeholders": "detectable_content:number_placeholders",
    "format:choose one from options": "detectable_format:constrained_response",
    "format:number of highlighted sections": "detectable_format:number_highlighted_sections",
    "format:number of sections": "detectable_format:multiple_sections",
    "format:use json format": "detectable_format:json_format",
    "case:frequency of capital words": "change_case:capital_word_frequency",
    "include keywords": "keywords:existence",
    "length constraints:first word of the nth paragraph":
        "length_constraints:nth_paragraph_first_word",
    "length constraints:number of words": "length_constraints:number_words",
    "punctuation:use no comma": "punctuation:no_comma",
    "repeat the prompt": "combination:repeat_prompt",
    "response language": "language:response_language",
    "specific ending": "startend:end_checker",
    "use quotation": "startend:quotation",
    "give two responses": "combination:two_responses",
}
"""Tulu constraint string (normalised: lower case, single spaces, no space after ':') -> id."""

NEVER_VERIFIABLE = {
    "format:choose one from options": "Tulu prompts define their own options; IFEval's "
    "constrained_response checker only accepts its fixed yes/no/maybe phrases",
}


def normalise_constraint(text: str) -> str:
    """Canonical spelling: lower case, collapsed spaces, none around ':' (the dataset has
    both `case:frequency...` spellings and a leading space on `give two responses`)."""
    text = re.sub(r"\s+", " ", text.strip().lower())
    return re.sub(r"\s*:\s*", ":", text)


@dataclass
class MappedConstraints:
    """The result of mapping one row's constraints."""

    instruction_ids: list[str] = field(default_factory=list)
    """Every constraint that names an IFEval type, checkable or not (the prompt's difficulty)."""
    checks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(instruction id, complete kwargs) for the constraints that can be checked."""
    unverifiable: list[dict[str, str]] = field(default_factory=list)
    """{"constraint", "reason"} for each one that cannot be checked deterministically."""


_NUMBER_WORDS = {
    "zero": 0, "one": 1, "a single": 1, "single": 1, "two": 2, "twice": 2, "three": 3,
    "thrice": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100,
}
_NUM = r"(\d+|" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + r")"
_REL = (
    r"(at least|no less than|not less than|a minimum of|minimum of|more than|over|"
    r"at most|no more than|not more than|a maximum of|maximum of|up to|not exceed(?:ing)?|"
    r"fewer than|less than|under|exactly|precisely|only)?\s*"
)
_QUOTED = r"[\"'“‘]([^\"'“”‘’]+)[\"'”’]"

_RELATION_OF = {
    "at least": ("at least", 0), "no less than": ("at least", 0),
    "not less than": ("at least", 0), "a minimum of": ("at least", 0),
    "minimum of": ("at least", 0), "more than": ("at least", 1), "over": ("at least", 1),
    "at most": ("less than", 1), "no more than": ("less than", 1),
    "not more than": ("less than", 1), "a maximum of": ("less than", 1),
    "maximum of": ("less than", 1), "up to": ("less than", 1), "not exceed": ("less than", 1),
    "not exceeding": ("less than", 1), "fewer than": ("less than", 0),
    "less than": ("less than", 0), "under": ("less than", 0),
}

LANGUAGES = {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it",
    "portuguese": "pt", "russian": "ru", "chinese": "zh", "japanese": "ja", "korean": "ko",
    "arabic": "ar", "hindi": "hi", "bengali": "bn", "urdu": "ur", "turkish": "tr",
    "dutch": "nl", "swedish": "sv", "finnish": "fi", "polish": "pl", "greek": "el",
    "hebrew": "he", "thai": "th", "vietnamese": "vi", "indonesian": "id", "persian": "fa",
    "farsi": "fa", "swahili": "sw", "tamil": "ta", "telugu": "te", "marathi": "mr",
    "gujarati": "gu", "kannada": "kn", "malayalam": "ml", "punjabi": "pa", "nepali": "ne",
    "ukrainian": "uk", "bulgarian": "bg",
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2,
             "3rd": 3, "4th": 4, "5th": 5}


def _number(text: str) -> int:
    text = text.lower().strip()
    return int(text) if text.isdigit() else _NUMBER_WORDS[text]


def _relation(phrase: str | None, n: int) -> tuple[int, str]:
    """(count, checker relation) for a relation phrase; no phrase means "exactly"."""
    phrase = (phrase or "").lower()
    if phrase in _RELATION_OF:
        relation, shift = _RELATION_OF[phrase]
        return n + shift, relation
    return n, "exactly"


def _count_with_relation(prompt: str, noun: str) -> tuple[int, str, bool] | None:
    """(count, relation, relation stated?) for 'at least 3 sentences', 'in 4 sentences'."""
    pattern = _REL + _NUM + r"[\s-]+(?:\w+[\s-]+)?(?:" + noun + ")"
    match = re.search(pattern, prompt, flags=re.IGNORECASE)
    if not match:
        return None
    count, relation = _relation(match.group(1), _number(match.group(2)))
    return count, relation, bool(match.group(1))


def _count(prompt: str, noun: str) -> int | None:
    pattern = _REL + _NUM + r"[\s-]+(?:\w+[\s-]+)?(?:" + noun + ")"
    match = re.search(pattern, prompt, flags=re.IGNORECASE)
    return _number(match.group(2)) if match else None


def _sentence_with(prompt: str, pattern: str) -> str | None:
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", prompt):
        if re.search(pattern, sentence, flags=re.IGNORECASE):
            return sentence
    return None


def _kwargs_for(instruction_id: str, prompt: str) -> dict[str, Any] | str:
    """kwargs found in the prompt, or a string saying what could not be found."""
    match instruction_id:
        case ("detectable_format:title" | "change_case:english_lowercase" | "punctuation:no_comma"
              | "change_case:english_capital" | "detectable_format:json_format"
              | "startend:quotation" | "combination:two_responses"):
            return {}
        case "keywords:existence":
            sentence = _sentence_with(prompt, r"keyword|include the words?|use the words?")
            words = re.findall(_QUOTED, sentence or "")
            return {"keywords": words} if words else "no quoted keywords found"
        case "keywords:forbidden_words":
            sentence = _sentence_with(
                prompt, r"do not (use|mention|include|say)|don't (use|mention)|exclud|avoid|"
                r"without (using )?the words?|must not (use|contain|include)")
            words = re.findall(_QUOTED, sentence or "")
            return {"forbidden_words": words} if words else "no quoted forbidden words found"
        case "keywords:frequency":
            match = re.search(r"(?:word|keyword|term)s?\s+" + _QUOTED + r"\s*(?:\w+\s+){0,3}?"
                              + _REL + _NUM + r"\s*times?", prompt, flags=re.IGNORECASE)
            if not match:
                match = re.search(_QUOTED + r"\s*(?:\w+\s+){0,3}?" + _REL + _NUM + r"\s*times?",
                                  prompt, flags=re.IGNORECASE)
            if not match:
                return "no quoted keyword with a count found"
            frequency, relation = _relation(match.group(2), _number(match.group(3)))
            return {"keyword": match.group(1), "frequency": frequency, "relation": relation}
        case "keywords:letter_frequency":
            match = re.search(r"letter\s+[\"'“‘]?([a-z])[\"'”’]?\s*(?:\w+\s+){0,3}?" + _REL + _NUM
                              + r"\s*times?", prompt, flags=re.IGNORECASE)
            if not match:
                return "no letter with a count found"
            frequency, relation = _relation(match.group(2), _number(match.group(3)))
            return {"letter": match.group(1).lower(), "let_frequency": frequency,
                    "let_relation": relation}
        case "length_constraints:number_sentences":
            found = _count_with_relation(prompt, r"sentences?")
            return ({"num_sentences": found[0], "relation": found[1]} if found
                    else "no sentence count found")
        case "length_constraints:number_words":
            found = _count_with_relation(prompt, r"words?")
            if found and not found[2]:
                # "a 500-word essay" is approximate in plain English; checking it as exact
                # would fail nearly every good answer.
                return "word count given without at least / at most / exactly"
            return ({"num_words": found[0], "relation": found[1]} if found
                    else "no word count found")
        case "length_constraints:number_paragraphs":
            n = _count(prompt, r"paragraphs?")
            return {"num_paragraphs": n} if n else "no paragraph count found"
        case "length_constraints:nth_paragraph_first_word":
            n = _count(prompt, r"paragraphs?")
            match = re.search(r"(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
                              r"\d(?:st|nd|rd|th))\s+paragraph\s+(?:should |must )?"
                              r"(?:start|begin)s?"
                              r"\s+with\s+(?:the\s+)?(?:word\s+)?" + _QUOTED, prompt,
                              flags=re.IGNORECASE)
            if not (n and match):
                return "no paragraph count with an nth-paragraph first word found"
            return {"num_paragraphs": n, "nth_paragraph": _ORDINALS[match.group(1).lower()],
                    "first_word": match.group(2).strip().split()[0]}
        case "detectable_content:number_placeholders":
            n = _count(prompt, r"placeholders?")
            return {"num_placeholders": n} if n else "no placeholder count found"
        case "detectable_content:postscript":
            match = re.search(r"\b(P\.P\.S|P\.S\.?)", prompt)
            if not match:
                return "no postscript marker (P.S. / P.P.S) named"
            marker = match.group(1)
            return {"postscript_marker": "P.S." if marker.startswith("P.S") else "P.P.S"}
        case "detectable_format:number_bullet_lists":
            n = _count(prompt, r"bullet(?:ed)?\s*(?:points?|lists?|items?)?")
            return {"num_bullets": n} if n else "no bullet count found"
        case "detectable_format:number_highlighted_sections":
            n = _count(prompt, r"highlighted\s+sections?|highlights?|sections?\s+highlighted")
            return {"num_highlights": n} if n else "no highlight count found"
        case "detectable_format:multiple_sections":
            n = _count(prompt, r"sections?")
            marker = re.search(r"\b(SECTION|Section|PART|Part|Chapter|CHAPTER|Step|STEP)\s+"
                               r"(?:X|N|\d+|\{)", prompt)
            if not (n and marker):
                return "no section count with a section marker (e.g. 'Section X') found"
            return {"section_spliter": marker.group(1), "num_sections": n}
        case "change_case:capital_word_frequency":
            sentence = _sentence_with(prompt, r"capital")
            if not sentence:
                return "no capital-word count found"
            found = _count_with_relation(sentence, r"(?:\w+\s+){0,4}?(?:words?|capital)")
            if not found and (m := re.search(r"not exceed\s+" + _NUM, sentence, re.IGNORECASE)):
                found = (_number(m.group(1)) + 1, "less than", True)
            if not found:
                return "no capital-word count found"
            relation = "at least" if found[1] == "exactly" else found[1]
            return {"capital_frequency": found[0], "capital_relation": relation}
        case "language:response_language":
            names = "|".join(LANGUAGES)
            match = re.search(r"\b(?:in|using)\s+(?:the\s+)?(" + names + r")\b", prompt,
                              flags=re.IGNORECASE)
            return ({"language": LANGUAGES[match.group(1).lower()]} if match
                    else "no response language named")
        case "startend:end_checker":
            match = re.search(r"(?:end|conclude|finish)\w*\s+(?:\w+\s+){0,4}?with\s+(?:the\s+)?"
                              r"(?:exact\s+|following\s+|specific\s+)?(?:phrase|sentence|words?|"
                              r"line|statement)?[:\s]*" + r"[\"“]([^\"”]+)[\"”]", prompt,
                              flags=re.IGNORECASE)
            return {"end_phrase": match.group(1)} if match else "no quoted ending phrase found"
        case "combination:repeat_prompt":
            match = re.search(r"[^.!?\n]*\brepeat\b[^.!?\n]*(?:request|prompt|question|"
                              r"instruction)[^.!?\n]*[.!?]?", prompt, flags=re.IGNORECASE)
            if not match:
                return "no 'repeat the request' sentence found"
            before = prompt[: match.start()].strip()
            return ({"prompt_to_repeat": before} if before
                    else "the text to repeat cannot be told apart from the instruction")
    return f"no parameter extraction for {instruction_id}"


def map_constraints(constraints: list[str], prompt: str) -> MappedConstraints:
    """Map one row's Tulu constraint strings to IFEval ids and checkable (id, kwargs) pairs."""
    result = MappedConstraints()
    for raw in constraints:
        key = normalise_constraint(raw)
        instruction_id = TULU_CONSTRAINTS.get(key)
        if instruction_id is None:
            result.unverifiable.append({"constraint": raw, "reason": "unknown constraint string"})
            continue
        result.instruction_ids.append(instruction_id)
        if key in NEVER_VERIFIABLE:
            result.unverifiable.append({"constraint": raw, "reason": NEVER_VERIFIABLE[key]})
            continue
        kwargs = _kwargs_for(instruction_id, prompt)
        if isinstance(kwargs, str):
            result.unverifiable.append({"constraint": raw, "reason": kwargs})
            continue
        kwargs, problems = normalise_kwargs(instruction_id, kwargs)
        if problems:
            result.unverifiable.append({"constraint": raw, "reason": "; ".join(problems)})
            continue
        result.checks.append((instruction_id, kwargs))
    return result
