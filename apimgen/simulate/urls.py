"""Which configured URL a called URL falls under: base-url routing to mock backends, and
send-request calls to the scenario's endpoints."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["longest_prefix"]


def longest_prefix(url: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``url`` starts with (the longest, when several do), compared without
    case in scheme and host, without a final /, and only at a path boundary."""
    wanted = _normalised(url)
    reached = [
        (len(prefix), candidate)
        for candidate, prefix in ((c, _normalised(c)) for c in candidates)
        if _extends(wanted, prefix)
    ]
    return max(reached)[1] if reached else None


def _extends(url: str, prefix: str) -> bool:
    """``url`` is ``prefix`` or goes on from it at a boundary: a path segment, the query or
    fragment, or, when the prefix has a query, another query parameter."""
    if not url.startswith(prefix):
        return False
    rest = url[len(prefix) : len(prefix) + 1]
    return rest in ("", "/", "?", "#") or (rest == "&" and "?" in prefix)


def _normalised(url: str) -> str:
    """Scheme and host lower-cased, repeated slashes in the path made one: a published
    load-balancing sample joins a backend URL ending in / with "/openai", and the Azure
    OpenAI endpoints it calls serve the doubled path as the single one."""
    scheme, _, rest = url.strip().partition("://")
    host, slash, path = rest.partition("/")
    path, mark, query = (slash + path).partition("?")
    path = re.sub("/{2,}", "/", path)
    return f"{scheme.lower()}://{host.lower()}{path}{mark}{query}".rstrip("/")
