"""Numbers, relations and quotes read out of free text, as the Tulu mapping needs them."""

from __future__ import annotations

import re

import pytest

from mosaic.data.prompt_text import NUMBER, counts, parse_number, quoted


@pytest.mark.parametrize(("text", "value"), [
    ("12", 12), ("1,000", 1000), ("twenty-five", 25), ("two hundred and fifty", 250),
    ("a hundred", 100), ("three thousand two hundred", 3200), ("twice", 2), ("single", 1),
])
def test_numbers_in_digits_and_words(text, value):
    assert re.fullmatch(NUMBER, text, flags=re.IGNORECASE)
    assert parse_number(text) == value


def test_numbers_are_never_read_inside_words():
    assert counts("Explain why often sentences run long.", r"sentences?") == []
    assert counts("Say something about the tone words use.", r"words?") == []


@pytest.mark.parametrize(("text", "found"), [
    ("Answer in no more than 40 words.", [(41, "less than", True)]),
    ("Use more than 3 words.", [(4, "at least", True)]),
    ("Write fewer than ten words.", [(10, "less than", True)]),
    ("A 500-word essay.", [(500, "exactly", False)]),
    ("Write exactly 2 short sentences, then at least 5 sentences.",
     [(2, "exactly", True), (5, "at least", True)]),
])
def test_counts_with_their_relation(text, found):
    noun = r"sentences?" if "sentence" in text else r"words?"
    assert counts(text, noun) == found


def test_quotes_skip_apostrophes():
    assert quoted("Don't use the words 'bad' or \"evil\" in children's stories.") == [
        "bad", "evil"]
