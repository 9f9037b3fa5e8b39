"""Reading numbers, relations and quoted words out of free-text prompts.

    parse_number("two hundred and fifty") == 250
    counts("Answer in no more than 40 words.", r"words?") == [(41, "less than", True)]
    quoted("Don't use the words 'bad' or \"evil\".") == ["bad", "evil"]

Relations come back in the two forms IFEval's checkers understand ("less than", "at least")
or as "exactly"; integer rewrites keep the meaning ("no more than 40" -> "less than 41").
"""

from __future__ import annotations

import re

_UNITS = {"zero": 0, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5,
          "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
          "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
          "eighteen": 18, "nineteen": 19, "twice": 2, "thrice": 3}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
# A number: digits (1,000 allowed) or number words ("two hundred and fifty", "twenty-five",
# "a hundred"), never part of a longer word ("often" holds no "ten").
NUMBER = (r"(\d{1,3}(?:,\d{3})+|\d+|(?:\ba\s+(?=hundred|thousand))?\b(?:" + _WORD
          + r")(?:[\s-]+(?:and\s+)?(?:" + _WORD + r"))*\b)")
RELATION = (
    r"(at least|no less than|not less than|a minimum of|minimum of|more than|over|"
    r"at most|no more than|not more than|a maximum of|maximum of|up to|not exceed(?:ing)?|"
    r"fewer than|less than|under|exactly|precisely|only)?\s*"
)
# "double" or 'single' quotes; a single quote inside a word ("don't") is an apostrophe.
QUOTED = r"(?:\"([^\"]+)\"|(?<!\w)'([^']+?)'(?!\w))"

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

def parse_number(text: str) -> int:
    """'12', '1,000', 'twenty-five', 'two hundred and fifty', 'a hundred', 'twice'."""
    text = text.lower().replace(",", "").strip()
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for word in re.split(r"[\s-]+", text):
        if word in ("a", "and"):
            current = current or (1 if word == "a" else 0)
        elif word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total += (current or 1) * 1000
            current = 0
    return total + current


def quoted(text: str) -> list[str]:
    return [double or single for double, single in re.findall(QUOTED, text)]


def quote_of(match: re.Match[str], group: int) -> str:
    """The quoted text of a `QUOTED` occurrence whose first group is `group`."""
    return match.group(group) or match.group(group + 1)


def relation_of(phrase: str | None, n: int) -> tuple[int, str]:
    """(count, checker relation) for a relation phrase; no phrase means "exactly"."""
    phrase = (phrase or "").lower()
    if phrase in _RELATION_OF:
        relation, shift = _RELATION_OF[phrase]
        return n + shift, relation
    return n, "exactly"


def counts(text: str, noun: str, *, exclude: str = "") -> list[tuple[int, str, bool]]:
    """Every (count, relation, relation stated?) for '<relation> <number> [adj] <noun>'."""
    guard = rf"(?!(?:{exclude})\b)" if exclude else ""
    pattern = RELATION + NUMBER + r"[\s-]+" + guard + r"(?:\w+[\s-]+)?(?:" + noun + r")\b"
    found = []
    for match in re.finditer(pattern, text, flags=re.IGNORECASE):
        count, relation = relation_of(match.group(1), parse_number(match.group(2)))
        found.append((count, relation, bool(match.group(1))))
    return found


def one_count(text: str, noun: str, *, exclude: str = "") -> int | str:
    """The count of `noun` if the prompt states exactly one, else why not."""
    found = {c for c, _, _ in counts(text, noun, exclude=exclude)}
    if len(found) == 1:
        return found.pop()
    return f"no {noun} count found" if not found else f"several {noun} counts ({found})"


def sentences(prompt: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", prompt) if s.strip()]


def sentence_with(prompt: str, pattern: str) -> str | None:
    return next((s for s in sentences(prompt) if re.search(pattern, s, re.IGNORECASE)), None)



def plain_quotes(text: str) -> str:
    """Curly quotes as straight ones, so one pattern reads both."""
    quotes: dict[str, str | int | None] = {"“": '"', "”": '"', "‘": "'", "’": "'"}
    return text.translate(str.maketrans(quotes))
