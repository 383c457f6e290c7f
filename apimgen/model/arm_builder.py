"""What every step of building the ARM resource list shares: the symbols, the list so far and
lookups into it (``ArmBuilder``), the API version of API Management's resources, and the
deployment's concerns in order. The steps (``arm_azure``, ``arm_apim``) and the assembly
(``arm_resources``) sit above it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from apimgen.model.arm import ArmResource, ArmValue
from apimgen.model.gateway import Gateway

__all__ = ["APIM_API_VERSION", "CONCERNS", "ArmBuilder"]

APIM_API_VERSION = "2024-05-01"

# Module (Bicep) / file (Terraform) per concern, in deployment order.
CONCERNS: tuple[str, ...] = (
    "observability",
    "openai",
    "apim",
    "backends",
    "semantic_cache",
    "apis",
    "products",
)


class ArmBuilder:
    """Accumulates resources; finds them again by (kind, key); hands out unique symbols."""

    def __init__(self, gateway: Gateway, policy_texts: Mapping[str, str]) -> None:
        self.gateway = gateway
        self.policy_texts = policy_texts
        self.resources: list[ArmResource] = []
        self._by_kind: dict[tuple[str, str], str] = {}
        self._used: set[str] = set()

    def make_symbol(self, *parts: str) -> str:
        """A readable Bicep/Terraform identifier, unique in this deployment."""
        base = "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_") for p in parts if p)
        base = base.lower() or "resource"
        symbol, counter = base, 2
        while symbol in self._used:
            symbol, counter = f"{base}_{counter}", counter + 1
        self._used.add(symbol)
        return symbol

    def add(self, kind: str, key: str, resource: ArmResource) -> str:
        self._used.add(resource.symbol)
        self.resources.append(resource)
        self._by_kind[(kind, key)] = resource.symbol
        return resource.symbol

    def symbol(self, kind: str, key: str) -> str:
        return self._by_kind[(kind, key)]

    def has(self, kind: str, key: str) -> bool:
        return (kind, key) in self._by_kind

    def type_of(self, symbol: str) -> str:
        return next(r.type for r in self.resources if r.symbol == symbol)

    def apim_child(
        self,
        kind: str,
        key: str,
        short_type: str,
        name: str,
        concern: str,
        properties: dict[str, ArmValue] | None,
        *,
        parent: str = "apim",
        symbol_parts: tuple[str, ...] | None = None,
        depends_on: tuple[str, ...] = (),
    ) -> str:
        """Add a ``Microsoft.ApiManagement/<short_type>`` child at the shared API version."""
        return self.add(
            kind,
            key,
            ArmResource(
                symbol=self.make_symbol(*(symbol_parts or (kind, key))),
                type=f"Microsoft.ApiManagement/{short_type}",
                api_version=APIM_API_VERSION,
                name=name,
                concern=concern,
                parent=parent,
                body={} if properties is None else {"properties": properties},
                depends_on=depends_on,
            ),
        )
