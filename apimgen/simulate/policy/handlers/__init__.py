"""Simulated policies; importing this package registers every handler."""

from apimgen.simulate.policy.handlers import control, routing, tokens

__all__ = ["control", "routing", "tokens"]
