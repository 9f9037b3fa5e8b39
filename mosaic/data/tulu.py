"""Map Tulu-3 persona constraint strings to IFEval instruction ids, with kwargs from the prompt.

Rows of `allenai/tulu-3-sft-personas-instruction-following` look like:

    {"id": "personas_IF_...", "prompt": "Write a short essay about river cleanups. Include the
     keywords 'volunteer' and 'plastic'. Your response should contain exactly 3 paragraphs
     separated by ***", "messages": [...], "constraints": ["include keywords",
     "length constraints:number of paragraphs"]}

The strings name IFEval instruction types, but the parameters (which keywords, how many
paragraphs) live only in the free-text prompt. `map_constraints` finds them with patterns
of our own. When it cannot find a parameter it says so: the constraint is returned as
*unverifiable* with a reason, never checked with guessed or random parameters (docs/reference.md
§3.6). `format:choose one from options` is always unverifiable: Tulu lets the prompt
define the options, while IFEval's checker only knows its own fixed yes/no/maybe phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mosaic.data.ifeval_instructions import normalise_kwargs
from mosaic.data.prompt_text import (
    NUMBER,
    QUOTED,
    RELATION,
    counts,
    one_count,
    parse_number,
    plain_quotes,
    quote_of,
    quoted,
    relation_of,
    sentence_with,
    sentences,
)

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


LANGUAGES = {
    # The languages IFEval's response_language checker knows (its ISO codes).
    "english": "en", "spanish": "es", "portuguese": "pt", "arabic": "ar", "hindi": "hi",
    "french": "fr", "russian": "ru", "german": "de", "japanese": "ja", "italian": "it",
    "bengali": "bn", "ukrainian": "uk", "thai": "th", "urdu": "ur", "tamil": "ta",
    "telugu": "te", "bulgarian": "bg", "korean": "ko", "polish": "pl", "hebrew": "he",
    "persian": "fa", "farsi": "fa", "vietnamese": "vi", "nepali": "ne", "swahili": "sw",
    "kannada": "kn", "marathi": "mr", "gujarati": "gu", "punjabi": "pa", "malayalam": "ml",
    "finnish": "fi",
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}



# --- one extractor per instruction id ----------------------------------------------------

Kwargs = dict[str, Any] | str
"""Extracted kwargs, or a sentence saying what could not be found."""


def _keywords(prompt: str) -> Kwargs:
    sentence = sentence_with(prompt, r"keyword|include the words?|use the words?")
    words = quoted(sentence or "")
    return {"keywords": words} if words else "no quoted keywords found"


def _forbidden_words(prompt: str) -> Kwargs:
    sentence = sentence_with(
        prompt, r"do not (use|mention|include|say)|don't (use|mention)|exclud|avoid|"
        r"without (using )?the words?|must not (use|contain|include)")
    words = quoted(sentence or "")
    return {"forbidden_words": words} if words else "no quoted forbidden words found"


def _keyword_frequency(prompt: str) -> Kwargs:
    pattern = QUOTED + r"\s*(?:\w+\s+){0,4}?" + RELATION + NUMBER + r"\s*times?\b"
    match = re.search(pattern, prompt, flags=re.IGNORECASE)
    if not match:
        return "no quoted keyword with a count found"
    frequency, relation = relation_of(match.group(3), parse_number(match.group(4)))
    return {"keyword": quote_of(match, 1), "frequency": frequency, "relation": relation}


def _letter_frequency(prompt: str) -> Kwargs:
    pattern = (r"\bletter\s+[\"']?([a-z])[\"']?\s*(?:\w+\s+){0,4}?" + RELATION + NUMBER
               + r"\s*times?\b")
    match = re.search(pattern, prompt, flags=re.IGNORECASE)
    if not match:
        return "no letter with a count found"
    frequency, relation = relation_of(match.group(2), parse_number(match.group(3)))
    return {"letter": match.group(1).lower(), "let_frequency": frequency,
            "let_relation": relation}


def _sentence_count(prompt: str) -> Kwargs:
    found = counts(prompt, r"sentences?")
    if len({(c, r) for c, r, _ in found}) != 1:
        return "no sentence count found" if not found else "several sentence counts"
    return {"num_sentences": found[0][0], "relation": found[0][1]}


def _word_count(prompt: str) -> Kwargs:
    found = counts(prompt, r"words?")
    if len({(c, r) for c, r, _ in found}) != 1:
        return "no word count found" if not found else "several word counts"
    count, relation, stated = found[0]
    if not stated:
        # "a 500-word essay" is approximate in plain English; checking it as exact would
        # fail nearly every good answer.
        return "word count given without at least / at most / exactly"
    return {"num_words": count, "relation": relation}


def _paragraph_count(prompt: str) -> Kwargs:
    n = one_count(prompt, r"paragraphs?")
    return {"num_paragraphs": n} if isinstance(n, int) else n


def _nth_paragraph_first_word(prompt: str) -> Kwargs:
    n = one_count(prompt, r"paragraphs?")
    pattern = (r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
               r"\d+(?:st|nd|rd|th))\s+paragraph\s+(?:should\s+|must\s+)?(?:start|begin)s?\s+"
               r"with\s+(?:the\s+)?(?:word\s+)?" + QUOTED)
    match = re.search(pattern, prompt, flags=re.IGNORECASE)
    if not (isinstance(n, int) and match):
        return "no paragraph count with an nth-paragraph first word found"
    ordinal = match.group(1).lower()
    nth = _ORDINALS.get(ordinal) or int(re.sub(r"\D", "", ordinal))
    return {"num_paragraphs": n, "nth_paragraph": nth,
            "first_word": quote_of(match, 2).strip().split()[0]}


def _placeholders(prompt: str) -> Kwargs:
    n = one_count(prompt, r"placeholders?")
    return {"num_placeholders": n} if isinstance(n, int) else n


def _postscript(prompt: str) -> Kwargs:
    match = re.search(r"\b(P\.P\.S|P\.S\.?)", prompt)
    if not match:
        return "no postscript marker (P.S. / P.P.S) named"
    return {"postscript_marker": "P.P.S" if match.group(1).startswith("P.P") else "P.S."}


def _bullets(prompt: str) -> Kwargs:
    n = one_count(prompt, r"bullet(?:ed)?(?:\s+(?:points?|lists?|items?))?")
    return {"num_bullets": n} if isinstance(n, int) else n


def _highlights(prompt: str) -> Kwargs:
    n = one_count(prompt, r"highlighted\s+sections?|highlights?|sections?\s+highlighted")
    return {"num_highlights": n} if isinstance(n, int) else n


def _sections(prompt: str) -> Kwargs:
    marker = re.search(r"\b(SECTION|Section|PART|Part|CHAPTER|Chapter|STEP|Step)\s+"
                       r"(?:X|N|\d+|\{)", prompt)
    if not marker:
        return "no section marker (e.g. 'Section X') named"
    n = one_count(prompt, r"sections?|parts?|chapters?|steps?", exclude="highlighted")
    if not isinstance(n, int):
        return n
    return {"section_spliter": marker.group(1), "num_sections": n}


def _capital_words(prompt: str) -> Kwargs:
    sentence = sentence_with(prompt, r"capital")
    if not sentence:
        return "no capital-word count found"
    found = counts(sentence, r"(?:\w+\s+){0,4}?(?:words?|capital\w*)")
    if not found and (m := re.search(r"not exceed\s+" + NUMBER, sentence, re.IGNORECASE)):
        found = [(parse_number(m.group(1)) + 1, "less than", True)]
    if not found:
        return "no capital-word count found"
    count, relation, _ = found[0]
    # IFEval has no "exactly" for capital words; a bare count reads as a minimum there.
    return {"capital_frequency": count,
            "capital_relation": "at least" if relation == "exactly" else relation}


def _language(prompt: str) -> Kwargs:
    names = "|".join(LANGUAGES)
    pattern = r"\b(?:in|using)\s+(?:the\s+)?(" + names + r")\b"
    # Prefer a sentence about the response: "a teacher of English ... respond in French".
    parts = sentences(prompt)
    about_response = [s for s in parts if re.search(r"respon|answer|reply|output", s, re.I)]
    about_writing = [s for s in parts if re.search(r"\bwrit", s, re.I)]
    for text in [*about_response, *about_writing, prompt]:
        found = {LANGUAGES[m.lower()] for m in re.findall(pattern, text, re.IGNORECASE)}
        if len(found) == 1:
            return {"language": found.pop()}
        if len(found) > 1:
            return f"several languages named ({', '.join(sorted(found))})"
    return "no response language IFEval can check named"


def _end_phrase(prompt: str) -> Kwargs:
    pattern = (r"\b(?:end|conclude|finish)\w*\s+(?:\w+\s+){0,4}?with\s+(?:the\s+)?"
               r"(?:exact\s+|following\s+|specific\s+)?(?:phrase|sentence|words?|line|"
               r"statement)?[:\s]*\"([^\"]+)\"")
    match = re.search(pattern, prompt, flags=re.IGNORECASE)
    return {"end_phrase": match.group(1)} if match else "no quoted ending phrase found"


def _repeat_prompt(prompt: str) -> Kwargs:
    match = re.search(r"[^.!?\n]*\brepeat\b[^.!?\n]*(?:request|prompt|question|"
                      r"instruction)[^.!?\n]*[.!?]?", prompt, flags=re.IGNORECASE)
    if not match:
        return "no 'repeat the request' sentence found"
    before = prompt[: match.start()].strip()
    return ({"prompt_to_repeat": before} if before
            else "the text to repeat cannot be told apart from the instruction")


def _no_kwargs(prompt: str) -> Kwargs:
    return {}


_EXTRACTORS = {
    "keywords:existence": _keywords,
    "keywords:forbidden_words": _forbidden_words,
    "keywords:frequency": _keyword_frequency,
    "keywords:letter_frequency": _letter_frequency,
    "language:response_language": _language,
    "length_constraints:number_sentences": _sentence_count,
    "length_constraints:number_paragraphs": _paragraph_count,
    "length_constraints:number_words": _word_count,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph_first_word,
    "detectable_content:number_placeholders": _placeholders,
    "detectable_content:postscript": _postscript,
    "detectable_format:number_bullet_lists": _bullets,
    "detectable_format:constrained_response": _no_kwargs,
    "detectable_format:number_highlighted_sections": _highlights,
    "detectable_format:multiple_sections": _sections,
    "detectable_format:json_format": _no_kwargs,
    "detectable_format:title": _no_kwargs,
    "combination:two_responses": _no_kwargs,
    "combination:repeat_prompt": _repeat_prompt,
    "startend:end_checker": _end_phrase,
    "change_case:capital_word_frequency": _capital_words,
    "change_case:english_capital": _no_kwargs,
    "change_case:english_lowercase": _no_kwargs,
    "punctuation:no_comma": _no_kwargs,
    "startend:quotation": _no_kwargs,
}


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
        kwargs = _EXTRACTORS[instruction_id](plain_quotes(prompt))
        if isinstance(kwargs, str):
            result.unverifiable.append({"constraint": raw, "reason": kwargs})
            continue
        kwargs, problems = normalise_kwargs(instruction_id, kwargs)
        if problems:
            result.unverifiable.append({"constraint": raw, "reason": "; ".join(problems)})
            continue
        result.checks.append((instruction_id, kwargs))
    return result
