"""Simulated policies; importing this package defines every handler."""

from apimgen.simulate.policy.handlers import (
    authentication,
    caching,
    control,
    http,
    limits,
    response_cache,
    routing,
    security,
    semantic_cache,
    send_request,
    tokens,
    validation,
)

__all__ = [
    "authentication",
    "caching",
    "control",
    "http",
    "limits",
    "response_cache",
    "routing",
    "security",
    "semantic_cache",
    "send_request",
    "tokens",
    "validation",
]
