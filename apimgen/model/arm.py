"""Desired Azure resources as ARM sees them: type, API version, name, parent, body.

Bicep, the azapi half of Terraform and (later) plan/apply all read this one list, so the three
cannot describe different gateways. Values inside a body are plain JSON, or one of the small
value types below for what is only known at deployment time (another resource's id, a
parameter, a policy file's text).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ArmResource",
    "ArmValue",
    "Concat",
    "Param",
    "PolicyFile",
    "Ref",
    "RefAttribute",
    "RoleDefinition",
    "arm_values",
    "iso_duration",
    "parameters_used",
    "references",
]

RefAttribute = Literal[
    "id",
    "name",
    "principal_id",
    "instrumentation_key",
    "redis_host",
    "redis_primary_key",
]


@dataclass(frozen=True)
class Ref:
    """An attribute of another resource in the list, known after it is deployed."""

    symbol: str
    attribute: RefAttribute = "id"


@dataclass(frozen=True)
class Param:
    """A deployment parameter (per environment): Bicep ``param``, Terraform ``var``."""

    name: str


@dataclass(frozen=True)
class PolicyFile:
    """The text of a rendered policy file, relative to the output's ``policies/`` folder."""

    path: str


@dataclass(frozen=True)
class Concat:
    """String interpolation of literals and references."""

    parts: tuple[str | Ref | Param, ...]


@dataclass(frozen=True)
class RoleDefinition:
    """A built-in role, by its GUID, at subscription scope."""

    role_id: str
    role_name: str


ArmValue = (
    str
    | int
    | float
    | bool
    | None
    | Ref
    | Param
    | PolicyFile
    | Concat
    | RoleDefinition
    | list["ArmValue"]
    | dict[str, "ArmValue"]
)


@dataclass(frozen=True)
class ArmResource:
    """One resource. ``concern`` groups resources into Bicep modules and Terraform files."""

    symbol: str
    type: str
    api_version: str
    name: str | Param
    concern: str
    parent: str | None = None
    body: dict[str, ArmValue] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    existing: bool = False
    existing_resource_group: str | None = None
    scope: str | None = None  # symbol of the resource an extension resource applies to
    serial_group: str | None = None  # deploy one at a time within the group
    # Static-analysis findings (checkov ids) accepted on purpose, each with its reason.
    accepted_findings: tuple[tuple[str, str], ...] = ()

    @property
    def short_type(self) -> str:
        """``service/backends`` for ``Microsoft.ApiManagement/service/backends``."""
        return self.type.split("/", 1)[1]


def arm_values(value: ArmValue) -> Iterator[ArmValue]:
    """``value`` and everything nested in it, depth first."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from arm_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from arm_values(item)
    elif isinstance(value, Concat):
        yield from value.parts


def references(resource: ArmResource) -> set[str]:
    """Symbols a resource needs declared next to it: its parent, scope and every Ref."""
    found = {v.symbol for v in arm_values(resource.body) if isinstance(v, Ref)}
    found.update(s for s in (resource.parent, resource.scope) if s)
    return found


def parameters_used(resource: ArmResource) -> set[str]:
    found = {v.name for v in arm_values(resource.body) if isinstance(v, Param)}
    if isinstance(resource.name, Param) and resource.name.name != "guid":
        found.add(resource.name.name)
    return found


def iso_duration(seconds: int) -> str:
    """ISO-8601 as ARM writes it: 60 → PT1M, 90 → PT1M30S, 3600 → PT1H."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or text == "PT":
        text += f"{secs}S"
    return text
