"""Simulated policies; importing this package registers every handler."""

from apimgen.simulate.policy.handlers import (
    caching,
    control,
    limits,
    routing,
    security,
    tokens,
)

__all__ = ["caching", "control", "limits", "routing", "security", "tokens"]
