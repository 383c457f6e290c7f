"""What APIM accepts for each policy: attributes, sections, whether it may repeat.

The simulator's handlers already declare this for every policy they model; the few documented
policies the simulator does not run yet are described here, so lint knows them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from apimgen.simulate.policy.handlers.base import Attribute, registry

__all__ = ["PolicySpec", "catalogue"]


@dataclass(frozen=True)
class PolicySpec:
    name: str
    attributes: tuple[Attribute, ...]
    sections: tuple[str, ...]
    once_per_section: bool = False

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


_SEMANTIC_LOOKUP = (
    Attribute("score-threshold", required=True),
    Attribute("embeddings-backend-id", required=True),
    Attribute(
        "embeddings-backend-auth", required=True, expressions=False, choices=("system-assigned",)
    ),
    Attribute("ignore-system-messages", choices=("true", "false")),
    Attribute("max-message-count"),
)
_SEMANTIC_STORE = (Attribute("duration", required=True),)

# Documented policies (apim-genai-policies.md §4) the simulator does not run yet.
_DOCUMENTED: tuple[PolicySpec, ...] = tuple(
    spec
    for family in ("azure-openai", "llm")
    for spec in (
        PolicySpec(f"{family}-semantic-cache-lookup", _SEMANTIC_LOOKUP, ("inbound",), True),
        PolicySpec(f"{family}-semantic-cache-store", _SEMANTIC_STORE, ("outbound",), True),
    )
)


@cache
def catalogue() -> dict[str, PolicySpec]:
    """Policy element name → what APIM accepts for it."""
    specs = {
        name: PolicySpec(name, handler.attributes, handler.sections)
        for name, handler in registry().items()
    }
    for spec in _DOCUMENTED:
        specs.setdefault(spec.name, spec)
    return specs
