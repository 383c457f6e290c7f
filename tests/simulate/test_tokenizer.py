"""Prompt tokens are counted offline with tiktoken's o200k_base, from the shipped file."""

from __future__ import annotations

import pytest

from apimgen.simulate import tokenizer


def test_known_counts() -> None:
    assert tokenizer.count_tokens("hello world") == 2
    assert tokenizer.count_tokens("") == 0
    text = "Where is your nearest store? Ünïcödé and 12345 digits."
    tokens = tokenizer.encoding().encode_ordinary(text)
    assert tokenizer.encoding().decode(tokens) == text


def test_chat_overhead() -> None:
    messages = [{"role": "user", "content": "hello world"}]
    assert tokenizer.count_chat_tokens(messages) == 3 + 3 + 1 + 2


def test_altered_encoding_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenizer, "ENCODING_SHA256", "0" * 64)
    with pytest.raises(tokenizer.TokenizerDataError, match="expected 0000"):
        tokenizer._ranks()
