"""What APIM accepts for each policy: attributes, sections, whether it may repeat.

The simulator's handlers declare this for every policy they model, so lint and the simulator
can never disagree about what a policy accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from apimgen.simulate.policy.handlers.base import COMMON_ATTRIBUTES, Attribute, registry

__all__ = ["PolicySpec", "catalogue"]


@dataclass(frozen=True)
class PolicySpec:
    name: str
    attributes: tuple[Attribute, ...]
    sections: tuple[str, ...]
    once_per_section: bool = False
    children: tuple[str, ...] | None = None  # the elements it may hold, where they are known
    required_children: tuple[str, ...] = ()

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@cache
def catalogue() -> dict[str, PolicySpec]:
    """Policy element name → what APIM accepts for it."""
    return {
        name: PolicySpec(
            name,
            (*handler.attributes, *COMMON_ATTRIBUTES),
            handler.sections,
            handler.once_per_section,
            handler.child_elements,
            handler.required_children,
        )
        for name, handler in registry().items()
    }
