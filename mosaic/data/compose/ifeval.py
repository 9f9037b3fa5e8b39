"""IFEval starter data: prompts with 1-4 verifiable constraints and gold responses that pass.

A composed item (family A, slice complexity_3):

    prompt  "Give me an overview of tea. Do not use any commas in your response.
             Your response should contain at least 5 sentences."
    ids     ["punctuation:no_comma", "length_constraints:number_sentences"]
    kwargs  [{}, {"relation": "at least", "num_sentences": 5}]
    gold    "Tea comes from the leaves of the Camellia sinensis plant. ..."

Gold responses are built the other way round from how a model answers: first a response
with the structure the chosen instructions need (title, bullets, sections, postscript,
case, ...), then the counting instructions take parameters the response satisfies
(words, sentences, letters, keywords), then Google's checkers verify every instruction
strictly. An item whose gold does not pass is redrawn, never shipped.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mosaic.data.compose import ifeval_text as text
from mosaic.data.ifeval_instructions import instruction_group
from mosaic.objectives.ifeval import instruction_complexity
from mosaic.tools.evaluation.judges.ifeval_checker import check_ifeval

USED_IDS = tuple(text.PHRASES_A)
"""The 24 instruction ids the composer uses (all but language:response_language, whose gold
would need another language)."""

_LAYOUTS = {"length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word",
            "detectable_format:multiple_sections", "combination:two_responses",
            "detectable_format:json_format"}
"""Instructions that each fix how the whole response is laid out: at most one per item."""

_CONFLICTS = {frozenset(pair) for pair in [
    ("change_case:english_lowercase", "change_case:english_capital"),
    ("change_case:english_lowercase", "detectable_format:constrained_response"),
    ("change_case:english_capital", "detectable_format:constrained_response"),
    ("change_case:english_lowercase", "detectable_format:multiple_sections"),
    ("change_case:english_capital", "detectable_format:multiple_sections"),
    ("startend:quotation", "combination:repeat_prompt"),
    ("detectable_format:constrained_response", "combination:repeat_prompt"),
    ("detectable_format:title", "length_constraints:nth_paragraph_first_word"),
    ("detectable_format:json_format", "punctuation:no_comma"),
    ("detectable_format:json_format", "startend:quotation"),
]}
_JSON_COMPANIONS = {"keywords:existence", "keywords:frequency", "keywords:forbidden_words",
                    "keywords:letter_frequency", "length_constraints:number_words",
                    "change_case:english_lowercase", "change_case:capital_word_frequency"}
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class IFItem:
    """One composed prompt with its checkable instructions and a verified gold response."""

    seed: str
    """The topic (the seed request: never shared between pool, eval and held-out sets)."""
    prompt: str
    instruction_ids: list[str]
    kwargs: list[dict[str, Any]]
    gold: str
    family: str


def compatible(ids: Sequence[str]) -> bool:
    """Whether a set of instructions can be satisfied by one response."""
    if len(set(ids)) != len(ids) or sum(i in _LAYOUTS for i in ids) > 1:
        return False
    if "detectable_format:json_format" in ids and not set(ids) - {
            "detectable_format:json_format"} <= _JSON_COMPANIONS:
        return False
    return not any(frozenset((a, b)) in _CONFLICTS for a in ids for b in ids if a < b)


def draw_instructions(rng: random.Random, complexity: int) -> list[str]:
    """A compatible instruction set whose complexity (docs/reference.md §1.4) is `complexity`."""
    by_group: dict[str, list[str]] = {}
    for instruction_id in USED_IDS:
        by_group.setdefault(instruction_group(instruction_id), []).append(instruction_id)
    shapes = [(m, k) for m in range(1, 5) for k in range(1, m + 1)
              if instruction_complexity([f"g{g}:x{i}" for i, g in
                                         enumerate([*range(k), *[0] * (m - k)])]) == complexity]
    for _ in range(200):
        m, k = rng.choice(shapes)
        groups = rng.sample(sorted(by_group), k)
        ids = [rng.choice(by_group[g]) for g in groups]
        ids += [rng.choice(by_group[rng.choice(groups)]) for _ in range(m - k)]
        if compatible(ids) and instruction_complexity(ids) == complexity:
            return ids
    raise RuntimeError(f"no compatible instruction set found for complexity {complexity}")


# ---------------------------------------------------------------------------------------
# Building a response with the structure the instructions need


def _highlight(sentence: str, rng: random.Random) -> str:
    """The sentence with one word (never the first) wrapped in *...*."""
    words = sentence.split(" ")
    spots = [i for i, w in enumerate(words) if i > 0 and w.isalpha() and len(w) >= 5]
    if not spots:
        return sentence
    i = rng.choice(spots)
    words[i] = f"*{words[i]}*"
    return " ".join(words)


def _body(rng: random.Random, facts: Sequence[str], ids: set[str], n_paragraphs: int,
          layout: str, splitter: str) -> tuple[str, int]:
    """Paragraphs (or sections) of facts, bullets and highlights; returns the text and the
    number of highlights made."""
    chosen = rng.sample(list(facts), k=min(len(facts), rng.randint(max(3, n_paragraphs), 6)))
    paragraphs: list[list[str]] = [[] for _ in range(n_paragraphs)]
    for i, fact in enumerate(chosen):
        paragraphs[i % n_paragraphs].append(fact)
    highlights = 0
    if "detectable_format:number_highlighted_sections" in ids:
        want = rng.randint(1, 3)
        for paragraph in paragraphs:
            for j, sentence in enumerate(paragraph):
                if highlights < want:
                    marked = _highlight(sentence, rng)
                    highlights += marked != sentence
                    paragraph[j] = marked
    blocks = [" ".join(p) for p in paragraphs if p]
    if "detectable_format:number_bullet_lists" in ids:
        bullets = rng.sample(list(facts), k=min(len(facts), rng.randint(2, 4)))
        at = rng.randrange(len(blocks))
        blocks[at] = blocks[at] + "\n" + "\n".join(f"* {b}" for b in bullets)
    if "detectable_content:number_placeholders" in ids:
        holes = rng.sample(text.PLACEHOLDERS, k=rng.randint(1, 3))
        blocks[-1] += f" Before sharing this add {' and '.join(holes)}."
    if "change_case:capital_word_frequency" in ids and rng.random() < 0.6:
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(blocks))
            blocks[at] = f"{rng.choice(text.CAPITAL_WORDS)}: {blocks[at]}"
    if layout == "stars":
        return "\n***\n".join(blocks), highlights
    if layout == "sections":
        return "\n\n".join(f"{splitter} {i}\n{b}" for i, b in enumerate(blocks, 1)), highlights
    return "\n\n".join(blocks), highlights


def build_gold(rng: random.Random, topic: str, ids: Sequence[str], task: str
               ) -> tuple[str, dict[str, Any]]:
    """A response with the structure `ids` need, and the structural facts chosen for it."""
    facts = text.TOPICS[topic]
    ids_set = set(ids)
    chosen: dict[str, Any] = {}
    layout = ("stars" if "length_constraints:number_paragraphs" in ids_set else
              "sections" if "detectable_format:multiple_sections" in ids_set else "blank")
    splitter = rng.choice(text.SECTION_SPLITTERS)
    n_paragraphs = rng.randint(2, 4) if layout != "blank" or rng.random() < 0.7 else 1
    if "length_constraints:nth_paragraph_first_word" in ids_set:
        n_paragraphs = rng.randint(2, 4)
    if "detectable_format:json_format" in ids_set:
        body = json.dumps({"topic": topic, "facts": rng.sample(list(facts), k=rng.randint(2, 4))},
                          indent=2)
        highlights = 0
    elif "combination:two_responses" in ids_set:
        first, highlights = _body(rng, facts[:3], ids_set, 1, "blank", splitter)
        second, more = _body(rng, facts[3:], ids_set, 1, "blank", splitter)
        body, highlights = f"{first}\n******\n{second}", highlights + more
    else:
        body, highlights = _body(rng, facts, ids_set, n_paragraphs, layout, splitter)
    chosen.update(n_paragraphs=n_paragraphs, splitter=splitter, highlights=highlights)
    parts = [body]
    if "detectable_format:constrained_response" in ids_set:
        parts.insert(0, rng.choice(text.CONSTRAINED_OPTIONS))
    if "detectable_format:title" in ids_set:
        parts.insert(0, f"<<{topic[0].upper() + topic[1:]}>>")
    if "combination:repeat_prompt" in ids_set:
        parts.insert(0, task)
    ending = ""
    if "detectable_content:postscript" in ids_set:
        chosen["postscript_marker"] = rng.choice(text.POSTSCRIPT_MARKERS)
        marker = chosen["postscript_marker"] + ("" if chosen["postscript_marker"].endswith(".")
                                                else ".")
        ending = f"{marker} {rng.choice(text.POSTSCRIPTS).format(topic=topic)}"
    if "startend:end_checker" in ids_set:
        chosen["end_phrase"] = rng.choice(text.END_PHRASES)
        ending = f"{ending} {chosen['end_phrase']}".strip()
    if ending:
        parts.append(ending)
    gold = "\n\n".join(parts)
    if "change_case:english_lowercase" in ids_set:
        gold = gold.lower()
    if "change_case:english_capital" in ids_set:
        gold = gold.upper()
    if "punctuation:no_comma" in ids_set:
        gold = gold.replace(",", "")
    if "startend:quotation" in ids_set:
        gold = f'"{gold}"'
    return gold, chosen


# ---------------------------------------------------------------------------------------
# Parameters the gold satisfies


def _content_words(gold: str) -> list[str]:
    words = {w.lower() for w in _WORD.findall(gold) if len(w) >= text.KEYWORD_CANDIDATES_MIN_LEN}
    return sorted(words)


def _count_relation(rng: random.Random, count: int, *, exact_ok: bool, step: int = 1
                    ) -> tuple[str, int]:
    """A relation and threshold that `count` satisfies."""
    options = ["less than"] + (["at least"] if count >= 1 else []) + (
        ["exactly"] if exact_ok else [])
    relation = rng.choice(options)
    if relation == "exactly":
        return relation, count
    if relation == "at least":
        threshold = max(1, count - rng.randint(0, 2) * step)
        return relation, threshold - threshold % step if threshold > step else threshold
    threshold = count + rng.randint(1, 3) * step
    return relation, threshold + (-threshold % step)


def derive_kwargs(rng: random.Random, ids: Sequence[str], gold: str, chosen: dict[str, Any],
                  prompt_head: str) -> list[dict[str, Any]]:
    """Each instruction's kwargs, chosen so that `gold` satisfies them."""
    from if_verifiable.ifeval import instructions_util

    words = _content_words(gold)
    out: list[dict[str, Any]] = []
    for instruction_id in ids:
        kwargs: dict[str, Any]
        match instruction_id:
            case "keywords:existence":
                kwargs = {"keywords": rng.sample(words, k=min(len(words), rng.randint(1, 3)))}
            case "keywords:frequency":
                word = rng.choice(words)
                count = len(re.findall(word, gold, flags=re.IGNORECASE))
                relation, frequency = _count_relation(rng, count, exact_ok=2 <= count <= 4)
                kwargs = {"keyword": word, "frequency": frequency, "relation": relation}
            case "keywords:forbidden_words":
                absent = [w for w in text.FORBIDDEN_CANDIDATES
                          if not re.search(rf"\b{w}\b", gold, flags=re.IGNORECASE)]
                kwargs = {"forbidden_words": rng.sample(absent, k=rng.randint(1, 3))}
            case "keywords:letter_frequency":
                letter = rng.choice("abcdefghilmnoprstuwy")
                relation, frequency = _count_relation(rng, gold.lower().count(letter),
                                                      exact_ok=False, step=5)
                kwargs = {"letter": letter, "let_frequency": frequency, "let_relation": relation}
            case "length_constraints:number_sentences":
                count = instructions_util.count_sentences(gold)
                relation, n = _count_relation(rng, count, exact_ok=2 <= count <= 8)
                kwargs = {"num_sentences": n, "relation": relation}
            case "length_constraints:number_words":
                relation, n = _count_relation(rng, instructions_util.count_words(gold),
                                              exact_ok=False, step=10)
                kwargs = {"num_words": n, "relation": relation}
            case "length_constraints:number_paragraphs":
                kwargs = {"num_paragraphs": chosen["n_paragraphs"]}
            case "length_constraints:nth_paragraph_first_word":
                paragraphs = [p.strip() for p in gold.split("\n\n") if p.strip()]
                nth = rng.randint(1, len(paragraphs))
                first = re.match(r"[\"']*([A-Za-z]+)", paragraphs[nth - 1])
                if first is None:
                    raise _Redraw("no word starts the chosen paragraph")
                kwargs = {"num_paragraphs": len(paragraphs), "nth_paragraph": nth,
                          "first_word": first.group(1).lower()}
            case "detectable_content:number_placeholders":
                kwargs = {"num_placeholders": len(re.findall(r"\[.*?\]", gold))}
            case "detectable_content:postscript":
                kwargs = {"postscript_marker": chosen["postscript_marker"]}
            case "detectable_format:number_bullet_lists":
                kwargs = {"num_bullets": len(re.findall(r"^\s*\*[^\*].*$", gold, re.M))
                          + len(re.findall(r"^\s*-.*$", gold, re.M))}
            case "detectable_format:number_highlighted_sections":
                if chosen["highlights"] < 1:
                    raise _Redraw("no word could be highlighted")
                kwargs = {"num_highlights": chosen["highlights"]}
            case "detectable_format:multiple_sections":
                kwargs = {"section_spliter": chosen["splitter"],
                          "num_sections": chosen["n_paragraphs"]}
            case "combination:repeat_prompt":
                kwargs = {"prompt_to_repeat": prompt_head}
            case "startend:end_checker":
                kwargs = {"end_phrase": chosen["end_phrase"]}
            case "change_case:capital_word_frequency":
                capitals = sum(w.isupper() for w in instructions_util.nltk.word_tokenize(gold))
                relation, n = _count_relation(rng, capitals, exact_ok=False)
                kwargs = {"capital_frequency": n, "capital_relation": relation}
            case _:
                kwargs = {}
        out.append(kwargs)
    return out


class _Redraw(Exception):
    """The drawn structure cannot carry one of the instructions: draw again."""


def _quoted_list(words: Sequence[str]) -> str:
    quoted = [f'"{w}"' for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def phrase(instruction_id: str, kwargs: dict[str, Any], rng: random.Random, family: str) -> str:
    """The instruction as the prompt states it."""
    phrases = (text.PHRASES_A if family == "A" else text.PHRASES_B)[instruction_id]
    fields = dict(kwargs)
    if "keywords" in kwargs:
        fields["keywords_list"] = _quoted_list(kwargs["keywords"])
    if "forbidden_words" in kwargs:
        fields["forbidden_list"] = _quoted_list(kwargs["forbidden_words"])
    if "nth_paragraph" in kwargs:
        fields["nth_ordinal"] = _ORDINALS[kwargs["nth_paragraph"] - 1]
    return rng.choice(phrases).format(**fields)


def compose_item(rng: random.Random, topic: str, complexity: int, family: str) -> IFItem:
    """One prompt of the given complexity on `topic`, with a gold that passes strictly."""
    for _ in range(50):
        ids = draw_instructions(rng, complexity)
        if "detectable_format:constrained_response" in ids:
            task = rng.choice(text.YES_NO_A if family == "A" else text.YES_NO_B)
        else:
            task = rng.choice(text.TASKS_A if family == "A" else text.TASKS_B)
        task = task.format(topic=topic)
        gold, chosen = build_gold(rng, topic, ids, task)
        try:
            kwargs = derive_kwargs(rng, ids, gold, chosen, task)
        except _Redraw:
            continue
        order = list(range(len(ids)))
        rng.shuffle(order)
        prompt = " ".join([task] + [phrase(ids[i], kwargs[i], rng, family) for i in order])
        result = check_ifeval(prompt, ids, kwargs, gold)
        if "error" not in result and all(result["strict"]):
            return IFItem(topic, prompt, list(ids), kwargs, gold, family)
    raise RuntimeError(f"could not compose a passing item on {topic!r} at complexity "
                       f"{complexity}")
