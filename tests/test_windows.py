"""Windowing keeps the system message, never cuts a turn, and uses every turn once."""

from __future__ import annotations

import copy

import pytest

from mosaic.data.tokens import count_tokens
from mosaic.data.windows import split_turns, window_conversation
from mosaic.schema import Message


def _conversation(n_turns: int, words: int = 12) -> list[Message]:
    messages = [Message(role="system", content="You are a careful assistant.")]
    for i in range(n_turns):
        messages.append(Message(role="user", content=f"turn {i} question " + "word " * words))
        messages.append(Message(role="assistant", content=f"turn {i} answer " + "text " * words))
    return messages


@pytest.fixture(scope="module")
def count(tiny_tokenizer):
    return lambda messages: count_tokens(tiny_tokenizer, [messages])[0].total


@pytest.fixture
def default_counter(tiny_tokenizer):
    """A token counter through a template that adds a default system prompt, and a call count."""
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = (
        "{% if messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are a careful, helpful assistant.<|im_end|>\n' }}{% endif %}"
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
        "'<|im_end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    calls = [0]

    def count(messages):
        calls[0] += 1
        return count_tokens(tokenizer, [messages])[0].total

    return count, calls


def test_split_turns_groups_each_user_message_with_its_replies():
    messages = [Message(role="system", content="s"), Message(role="assistant", content="hello"),
                Message(role="user", content="u1"), Message(role="assistant", content="a1"),
                Message(role="assistant", content="a1b"), Message(role="user", content="u2")]
    system, turns = split_turns(messages)
    assert [m.content for m in system] == ["s"]
    assert [[m.content for m in t] for t in turns] == [["hello", "u1", "a1", "a1b"], ["u2"]]


def test_a_conversation_that_fits_is_one_window(count):
    messages = _conversation(3)
    [window] = window_conversation(messages, max_tokens=10_000, count=count)
    assert window.messages == messages and window.n_turns == 3 and not window.over_length


@pytest.mark.parametrize("max_tokens", [90, 150, 260, 400])
def test_windows_fit_keep_system_and_use_every_turn_exactly_once(count, max_tokens):
    messages = _conversation(9)
    system, turns = split_turns(messages)
    windows = window_conversation(messages, max_tokens=max_tokens, count=count)
    assert len(windows) > 1
    used = []
    for window in windows:
        assert window.messages[: len(system)] == system
        assert window.tokens == count(window.messages)
        assert window.tokens <= max_tokens or (window.over_length and window.n_turns == 1)
        body = window.messages[len(system):]
        assert body[0].role == "user"  # starts at a turn boundary
        used.extend(turns[window.first_turn: window.first_turn + window.n_turns])
        assert sum(len(t) for t in turns[window.first_turn:window.first_turn + window.n_turns]
                   ) == len(body)
    assert used == turns  # no overlap, no gap, in order


def test_a_turn_longer_than_the_limit_is_its_own_flagged_window(count):
    messages = _conversation(3, words=5)
    messages[3] = Message(role="user", content="long " * 400)
    windows = window_conversation(messages, max_tokens=120, count=count)
    flagged = [w for w in windows if w.over_length]
    assert len(flagged) == 1 and flagged[0].n_turns == 1 and flagged[0].first_turn == 1
    assert sum(w.n_turns for w in windows) == 3


def test_a_trailing_user_turn_without_reply_is_dropped(count):
    messages = [*_conversation(6), Message(role="user", content="and one more question")]
    windows = window_conversation(messages, max_tokens=150, count=count)
    assert windows[-1].messages[-1].role == "assistant"
    assert sum(w.n_turns for w in windows) == 6
    assert window_conversation([Message(role="user", content="hi")], max_tokens=10,
                               count=count) == []


def test_counting_stays_linear_with_a_default_system_prompt(default_counter):
    """Template headers (a default system prompt) are in every window's estimate, so the
    exact re-measurement rarely has to shrink a window."""
    count, calls = default_counter
    messages = _conversation(50)[1:]  # no system message: the template adds its own
    windows = window_conversation(messages, max_tokens=200, count=count)
    assert all(w.tokens <= 200 for w in windows)
    assert calls[0] <= 50 + len(windows) + 2
