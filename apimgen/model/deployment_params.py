"""Deployment parameters: the few values that change between environments.

The spec's gateway section gives the defaults; each entry of ``environments`` overrides some of
them. Bicep gets a ``param`` per value and a ``.bicepparam`` per environment; Terraform a
``variable`` and a ``.tfvars`` per environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from apimgen.spec.document import Spec

__all__ = ["DeploymentParameters", "ParameterSpec", "deployment_parameters"]


@dataclass(frozen=True)
class ParameterSpec:
    name: str  # Bicep spelling (camelCase)
    tf_name: str  # Terraform spelling (snake_case)
    type: Literal["string", "int"]
    description: str


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("apimName", "apim_name", "string", "Name of the API Management service."),
    ParameterSpec("location", "location", "string", "Azure region of the gateway and monitoring."),
    ParameterSpec("apimSku", "apim_sku", "string", "API Management pricing tier."),
    ParameterSpec("apimCapacity", "apim_capacity", "int", "API Management scale units."),
    ParameterSpec("publisherEmail", "publisher_email", "string", "Publisher email."),
    ParameterSpec("publisherName", "publisher_name", "string", "Publisher name."),
)


@dataclass(frozen=True)
class DeploymentParameters:
    specs: tuple[ParameterSpec, ...]
    defaults: dict[str, str | int]
    overrides: dict[str, dict[str, str | int]]
    resource_group: str
    resource_groups: dict[str, str]

    def environments(self) -> dict[str | None, dict[str, str | int]]:
        """None → the spec's own values; then each named environment, fully resolved."""
        resolved: dict[str | None, dict[str, str | int]] = {None: dict(self.defaults)}
        for name, values in self.overrides.items():
            resolved[name] = {**self.defaults, **values}
        return resolved


def deployment_parameters(spec: Spec) -> DeploymentParameters:
    gateway = spec.gateway
    defaults: dict[str, str | int] = {
        "apimName": gateway.name,
        "location": gateway.location,
        "apimSku": gateway.sku.value,
        "apimCapacity": gateway.capacity,
        "publisherEmail": gateway.publisher_email,
        "publisherName": gateway.publisher_name,
    }
    overrides: dict[str, dict[str, str | int]] = {}
    resource_groups: dict[str, str] = {}
    for env in spec.environments:
        values: dict[str, str | int] = {}
        if env.gateway_name is not None:
            values["apimName"] = env.gateway_name
        if env.location is not None:
            values["location"] = env.location
        if env.sku is not None:
            values["apimSku"] = env.sku.value
        if env.capacity is not None:
            values["apimCapacity"] = env.capacity
        if env.publisher_email is not None:
            values["publisherEmail"] = env.publisher_email
        if env.publisher_name is not None:
            values["publisherName"] = env.publisher_name
        overrides[env.name] = values
        resource_groups[env.name] = env.resource_group or gateway.resource_group
    return DeploymentParameters(
        PARAMETERS, defaults, overrides, gateway.resource_group, resource_groups
    )
