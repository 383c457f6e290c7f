"""What a kept policy document (a spec's ``policy_file``) names by literal id: the fragments
and backends it must be deployed after. Read with patterns, not parsed: a kept document may
hold expressions that are not well-formed XML, as APIM allows."""

from __future__ import annotations

import re

__all__ = ["kept_references", "uses_semantic_cache"]

_FRAGMENT_ID = re.compile(r"""<include-fragment\b[^>]*?\bfragment-id\s*=\s*["']([^"'@]+)["']""")
_BACKEND_ID = re.compile(r"""<set-backend-service\b[^>]*?\bbackend-id\s*=\s*["']([^"'@]+)["']""")


def kept_references(text: str) -> tuple[list[str], list[str]]:
    """The fragments and backends a kept document names by literal id, in order of first use
    (an id written as an expression is known only when a request runs)."""
    fragments = list(dict.fromkeys(m.strip() for m in _FRAGMENT_ID.findall(text)))
    backends = list(dict.fromkeys(m.strip() for m in _BACKEND_ID.findall(text)))
    return fragments, backends


def uses_semantic_cache(text: str) -> bool:
    """Whether the document looks prompts up in the semantic cache (it needs the cache)."""
    return re.search(r"<(?:azure-openai|llm)-semantic-cache-lookup\b", text) is not None
