"""Templated token counts and assistant spans are exact for any chat template."""

from __future__ import annotations

import copy

import pytest

from mosaic.data.tokens import assistant_spans, count_tokens, render_chat, token_mask
from mosaic.errors import TemplateError
from mosaic.schema import Message

CHAT = [
    Message(role="user", content="What is a firewall?"),
    Message(role="assistant", content="A firewall filters network traffic by rules."),
    Message(role="user", content="And a VPN?  "),
    Message(role="assistant", content="  A VPN encrypts your traffic to a server.\n"),
]


TEMPLATES = ["tiny_tokenizer", "smollm2_tokenizer", "llama3_tokenizer",
             "default_system_tokenizer"]
END_TOKEN = {"tiny_tokenizer": "<|im_end|>", "smollm2_tokenizer": "<|im_end|>",
             "llama3_tokenizer": "<|eot_id|>", "default_system_tokenizer": "<|im_end|>"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_spans_cover_exactly_each_assistant_content_and_end_token(name, request):
    tokenizer = request.getfixturevalue(name)
    text, spans = assistant_spans(tokenizer, CHAT)
    assert text == render_chat(tokenizer, CHAT)
    end = END_TOKEN[name]
    contents = [m.content for m in CHAT if m.role == "assistant"]
    got = [text[a:b] for a, b in spans]
    assert len(got) == len(contents)
    for span, content in zip(got, contents, strict=True):
        # The span is what the template emits for the turn: the content (trimmed only if
        # the template trims it) followed by the end-of-turn token, nothing else.
        assert span.endswith(end) and span[: -len(end)].strip() == content.strip()
        assert span[: -len(end)] in (content, content.strip(), content.rstrip())
    # Nothing of the user turns or the headers is inside a span.
    gaps = zip([(0, 0), *spans], [*spans, (len(text), 0)], strict=True)
    outside = "".join(text[b:a] for (_, b), (a, _) in gaps)
    assert "What is a firewall?" in outside and "assistant" in outside


@pytest.mark.parametrize("name", TEMPLATES)
def test_counts_match_the_tokenizer_and_the_span_mask(name, request):
    tokenizer = request.getfixturevalue(name)
    text, spans = assistant_spans(tokenizer, CHAT)
    [count] = count_tokens(tokenizer, [CHAT])
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert count.total == len(encoded["input_ids"])
    mask = token_mask(encoded["offset_mapping"], spans)
    masked = [i for i, keep in zip(encoded["input_ids"], mask, strict=True) if keep]
    assert count.assistant == len(masked)
    # The masked tokens decode to the assistant contents and their end tokens. A BPE token
    # may straddle a span start (the template's newline merged with a leading content
    # space); it belongs to the side where it starts, so compare without whitespace.
    decoded = tokenizer.decode(masked, skip_special_tokens=False,
                               clean_up_tokenization_spaces=False)
    assert decoded.split() == "".join(text[a:b] for a, b in spans).split()


def test_default_system_prompt_is_counted_but_not_trained(default_system_tokenizer):
    text, spans = assistant_spans(default_system_tokenizer, CHAT[:2])
    assert text.startswith("<|im_start|>system\nYou are a careful assistant.")
    assert "careful" not in "".join(text[a:b] for a, b in spans)


def test_batched_counting_equals_one_by_one(tiny_tokenizer):
    chats = [[Message(role="user", content=f"question {i} " * (i % 7 + 1)),
              Message(role="assistant", content=f"answer {i} " * (i % 5 + 1))] for i in range(150)]
    batched = count_tokens(tiny_tokenizer, chats, batch_size=32)
    single = [count_tokens(tiny_tokenizer, [c])[0] for c in chats[:20]]
    assert batched[:20] == single
    assert all(0 < c.assistant < c.total for c in batched)


def test_a_template_that_rewrites_earlier_turns_is_refused(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    # Shows the assistant turn differently when it is the last message (as reasoning models do).
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'assistant' and not loop.last %}"
        "{{ '<|im_start|>assistant\n[earlier]<|im_end|>\n' }}{% else %}"
        "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    with pytest.raises(TemplateError, match="rewrites"):
        assistant_spans(tokenizer, CHAT)


def test_a_tokenizer_without_template_is_refused(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = None
    with pytest.raises(TemplateError, match="no chat template"):
        count_tokens(tokenizer, [CHAT])


def test_a_template_without_end_token_never_spans_into_the_next_turn(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '\n\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    text, spans = assistant_spans(tokenizer, CHAT)
    assert [text[a:b] for a, b in spans] == [m.content.rstrip() for m in CHAT
                                             if m.role == "assistant"]


def test_a_template_that_raises_becomes_a_template_error(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = (
        "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('roles must alternate user/assistant') }}{% endif %}"
        "{{ m['content'] }}{% endfor %}")
    bad = [Message(role="user", content="a"), Message(role="user", content="b")]
    with pytest.raises(TemplateError, match=r"roles \['user', 'user'\].*must alternate"):
        count_tokens(tokenizer, [bad])
