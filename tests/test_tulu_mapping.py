"""Tulu constraint strings -> IFEval ids, with kwargs read from the prompt or refused."""

from __future__ import annotations

import pytest

from mosaic.data.ifeval_instructions import INSTRUCTION_IDS, normalise_kwargs
from mosaic.data.tulu import TULU_CONSTRAINTS, map_constraints, normalise_constraint


def test_all_25_tulu_strings_map_to_distinct_real_ifeval_ids():
    assert len(TULU_CONSTRAINTS) == 25
    assert set(TULU_CONSTRAINTS.values()) == set(INSTRUCTION_IDS)


@pytest.mark.parametrize(("raw", "key"), [
    (" give two responses", "give two responses"),
    ("case: frequency of capital words", "case:frequency of capital words"),
    ("Length Constraints:Number of  Words", "length constraints:number of words"),
])
def test_constraint_spellings_are_normalised(raw, key):
    assert normalise_constraint(raw) == key


@pytest.mark.parametrize(("constraint", "prompt", "kwargs"), [
    ("keywords:exclude words", 'Do not mention the words "detective" or "investigation".',
     {"forbidden_words": ["detective", "investigation"]}),
    ("keywords:frequency", 'Make sure the word "safety" appears at least four times.',
     {"keyword": "safety", "frequency": 4, "relation": "at least"}),
    ("keywords:letter frequency", "Each sentence must contain the letter 'r' at least 5 times.",
     {"letter": "r", "let_frequency": 5, "let_relation": "at least"}),
    ("length constraints:number of sentences", "Answer using exactly 4 sentences.",
     {"num_sentences": 4, "relation": "exactly"}),
    ("length constraints:number of sentences", "Answer in no more than 4 sentences.",
     {"num_sentences": 5, "relation": "less than"}),
    ("length constraints:number of words", "Write at least 150 words.",
     {"num_words": 150, "relation": "at least"}),
    ("content:number of placeholders", "Include at least 4 placeholders such as [name].",
     {"num_placeholders": 4}),
    ("format:number of highlighted sections", "Highlight at least two highlighted sections.",
     {"num_highlights": 2}),
    ("format:number of sections", "Write 5 sections, each marked with Section X.",
     {"section_spliter": "Section", "num_sections": 5}),
    ("case:frequency of capital words",
     "The number of words in all capital letters must not exceed 5.",
     {"capital_frequency": 6, "capital_relation": "less than"}),
    ("response language", "Your response should be entirely in Russian.", {"language": "ru"}),
    ("specific ending", 'Conclude with the exact sentence: "Until next time."',
     {"end_phrase": "Until next time."}),
    ("repeat the prompt", "Name three rivers in Europe. Repeat the request above verbatim.",
     {"prompt_to_repeat": "Name three rivers in Europe."}),
    ("length constraints:first word of the nth paragraph",
     'Write 4 paragraphs; the third paragraph should start with the word "Furthermore".',
     {"num_paragraphs": 4, "nth_paragraph": 3, "first_word": "Furthermore"}),
    # Edge cases: apostrophes, curly quotes, compound numbers, words containing "end"/"ten".
    ("keywords:exclude words", "Don't use the words 'bad' or 'evil' in your story.",
     {"forbidden_words": ["bad", "evil"]}),
    ("include keywords", "Write about children's health. Include the keywords 'sleep' and "
     "'play'.", {"keywords": ["sleep", "play"]}),
    ("include keywords", "Include the keywords “harvest” and ‘market stall’.",
     {"keywords": ["harvest", "market stall"]}),
    ("length constraints:number of words", "Write at least two hundred words.",
     {"num_words": 200, "relation": "at least"}),
    ("length constraints:number of words", "Use at least 1,000 words.",
     {"num_words": 1000, "relation": "at least"}),
    ("length constraints:number of words", "Use no more than twenty-five words.",
     {"num_words": 26, "relation": "less than"}),
    ("length constraints:number of sentences", "Answer in exactly one hundred and five "
     "sentences.", {"num_sentences": 105, "relation": "exactly"}),
    ("specific ending", 'I recommend books with "magic" themes. End your response with the '
     'phrase "Any other questions?"', {"end_phrase": "Any other questions?"}),
    ("format:number of sections", "Highlight at least 2 highlighted sections. The answer must "
     "have 4 sections, each starting with Section X.",
     {"section_spliter": "Section", "num_sections": 4}),
    ("response language", "As a teacher in English literature, write a note. Your response "
     "should be in French.", {"language": "fr"}),
    ("length constraints:first word of the nth paragraph",
     "Write 12 paragraphs. The 10th paragraph should start with the word 'Hello'.",
     {"num_paragraphs": 12, "nth_paragraph": 10, "first_word": "Hello"}),
])
def test_kwargs_are_read_from_the_prompt(constraint, prompt, kwargs):
    mapped = map_constraints([constraint], prompt)
    assert mapped.unverifiable == []
    assert mapped.checks == [(TULU_CONSTRAINTS[normalise_constraint(constraint)], kwargs)]


@pytest.mark.parametrize(("constraint", "prompt", "reason"), [
    ("content:include a postscript", "Add a postscript with extra resources.", "postscript"),
    ("specific ending", "End your story on a hopeful note.", "ending phrase"),
    ("length constraints:number of words", "Write a 500-word essay.", "without at least"),
    ("format:number of sections", "Use a total of 5 sections.", "section marker"),
    ("format:choose one from options", "Choose from ('a', 'b').", "fixed yes/no/maybe"),
    ("made up:constraint", "Anything.", "unknown constraint string"),
])
def test_what_cannot_be_read_is_unverifiable_with_a_reason(constraint, prompt, reason):
    mapped = map_constraints([constraint], prompt)
    assert mapped.checks == []
    assert len(mapped.unverifiable) == 1 and reason in mapped.unverifiable[0]["reason"]


@pytest.mark.parametrize(("iid", "kwargs", "clean", "problem"), [
    ("keywords:frequency", {"keyword": "x", "frequency": 3.0, "relation": "at most"},
     {"keyword": "x", "frequency": 4, "relation": "less than"}, None),
    ("keywords:frequency", {"keyword": "x", "frequency": 3, "relation": "more than"},
     {"keyword": "x", "frequency": 4, "relation": "at least"}, None),
    ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 2, "let_relation": "at least"},
     None, "single letter"),
    ("keywords:existence", {"keywords": []}, None, "non-empty list"),
    ("punctuation:no_comma", {"num_words": 3}, None, "unexpected kwarg"),
    ("startend:end_checker", {"end_phrase": None}, None, "missing kwarg 'end_phrase'"),
    ("length_constraints:number_words", {"num_words": 10, "relation": "about"}, None,
     "one of"),
    ("nonsense:id", {}, None, "unknown instruction id"),
])
def test_normalise_kwargs(iid, kwargs, clean, problem):
    got, problems = normalise_kwargs(iid, kwargs)
    if problem is None:
        assert problems == [] and got == clean
    else:
        assert any(problem in p for p in problems)


@pytest.mark.parametrize(("constraint", "prompt"), [
    ("length constraints:number of sentences", "Explain often sentences are too long."),
    ("response language", "Answer in Chinese."),  # IFEval's checker has no Chinese code
    ("format:number of sections", "Use 3 sections or 4 sections, each marked Section X."),
])
def test_ambiguous_or_absent_parameters_are_unverifiable(constraint, prompt):
    mapped = map_constraints([constraint], prompt)
    assert mapped.checks == [] and mapped.unverifiable
