"""Desired state: the service's child resources, as plain ARM JSON bodies for one target.

They come from the same ARM resource list that Bicep and Terraform are rendered from, so the
three cannot disagree. What Bicep leaves to deployment time is resolved here: references
become ARM ids under the target, policy files their text, and secrets (the Application
Insights instrumentation key, the Redis connection string) a :class:`SecretRef` naming the
environment variable that supplies it when the resource is written — never a value in a plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apimgen.deploy.kinds import MANAGED_MARK, NAMED_VALUE_TAG, ORDER, Kind, kind_for_path
from apimgen.deploy.target import Target
from apimgen.model.arm import (
    ArmResource,
    ArmValue,
    Concat,
    Param,
    PolicyFile,
    Ref,
    RoleDefinition,
    arm_values,
)
from apimgen.model.gateway import Gateway

__all__ = [
    "DesiredResource",
    "DesiredState",
    "SecretRef",
    "desired_state",
    "map_secrets",
]

INSTRUMENTATION_KEY_ENV = "APIMGEN_APP_INSIGHTS_INSTRUMENTATION_KEY"
REDIS_CONNECTION_ENV = "APIMGEN_REDIS_CONNECTION_STRING"
SECRET_KEY = "$secretFromEnvironment"


@dataclass(frozen=True)
class SecretRef:
    """A value read from an environment variable at apply time."""

    env: str

    def to_json(self) -> dict[str, str]:
        return {SECRET_KEY: self.env}


@dataclass(frozen=True)
class DesiredResource:
    path: str  # under the service: "apis/chat/policies/policy"
    kind: Kind
    properties: dict[str, Any]  # JSON, with SecretRef where a secret goes


@dataclass(frozen=True)
class DesiredState:
    resources: tuple[DesiredResource, ...]  # dependency order
    outside: tuple[str, ...]  # resources Bicep/Terraform deploy and plan/apply does not


def map_secrets(value: Any, replace: Callable[[SecretRef], Any]) -> Any:
    """A JSON body with every SecretRef in it replaced by ``replace(ref)``."""
    if isinstance(value, SecretRef):
        return replace(value)
    if isinstance(value, dict):
        return {key: map_secrets(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [map_secrets(item, replace) for item in value]
    return value


def _secret_for(value: ArmValue) -> SecretRef | None:
    attributes = {v.attribute for v in arm_values(value) if isinstance(v, Ref)}
    if "instrumentation_key" in attributes:
        return SecretRef(INSTRUMENTATION_KEY_ENV)
    if "redis_primary_key" in attributes:
        return SecretRef(REDIS_CONNECTION_ENV)
    return None


class _Resolver:
    def __init__(
        self,
        gateway: Gateway,
        resources: tuple[ArmResource, ...],
        target: Target,
        parameters: Mapping[str, str | int],
        policy_texts: Mapping[str, str],
    ) -> None:
        self.gateway = gateway
        self.by_symbol = {r.symbol: r for r in resources}
        self.target = target
        self.parameters = parameters
        self.policy_texts = policy_texts

    def path(self, resource: ArmResource) -> str | None:
        """The path under the service, or None for what is not a child of the service."""
        if resource.symbol == "apim" or resource.parent is None:
            return None
        if resource.parent == "apim":
            prefix = ""
        else:
            parent_path = self.path(self.by_symbol[resource.parent])
            if parent_path is None:
                return None
            prefix = parent_path + "/"
        return f"{prefix}{resource.type.rsplit('/', 1)[1]}/{self.name(resource)}"

    def name(self, resource: ArmResource) -> str:
        if isinstance(resource.name, Param):
            # Role assignment names are GUIDs Bicep derives at deploy time ("guid").
            return str(self.parameters.get(resource.name.name, f"<{resource.name.name}>"))
        return resource.name

    def arm_id(self, resource: ArmResource) -> str:
        if resource.symbol == "apim":
            return self.target.service_id
        child = self.path(resource)
        if child is not None:
            return f"{self.target.service_id}/{child}"
        insights = self.gateway.app_insights
        if resource.type == "Microsoft.Insights/components" and insights and insights.existing_id:
            return insights.existing_id
        segments: list[str] = []
        current: ArmResource | None = resource
        while current is not None:
            segments[:0] = [current.type.rsplit("/", 1)[1], self.name(current)]
            parent = current.parent
            current = self.by_symbol[parent] if parent else None
        root = resource.type.split("/", 1)[0]
        group = resource.existing_resource_group or self.target.resource_group
        return (
            f"/subscriptions/{self.target.subscription_id}/resourceGroups/{group}"
            f"/providers/{root}/{'/'.join(segments)}"
        )

    def display(self, resource: ArmResource) -> str:
        """``Microsoft.CognitiveServices/accounts/x/deployments/y``; extension resources by
        their scope."""
        if resource.scope is not None:
            return f"{resource.type} on {self.display(self.by_symbol[resource.scope])}"
        return self.arm_id(resource).split("/providers/", 1)[1]

    def value(self, value: ArmValue) -> Any:
        secret = _secret_for(value) if isinstance(value, Ref | Concat) else None
        if secret is not None:
            return secret
        if isinstance(value, Ref):
            resource = self.by_symbol[value.symbol]
            if value.attribute == "id":
                return self.arm_id(resource)
            if value.attribute == "name":
                return self.name(resource)
            raise AssertionError(f"{value.attribute} of {value.symbol} is not known before deploy")
        if isinstance(value, Param):
            return self.parameters[value.name]
        if isinstance(value, PolicyFile):
            return self.policy_texts[f"policies/{value.path}"]
        if isinstance(value, Concat):
            return "".join(str(self.value(part)) for part in value.parts)
        if isinstance(value, RoleDefinition):
            raise AssertionError("role assignments are not children of the service")
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value


def _mark(kind: Kind, properties: dict[str, Any]) -> dict[str, Any]:
    """Record that apimgen owns the resource, where the kind has a place for it."""
    marked = dict(properties)
    if kind.marker == "description":
        text = marked.get("description")
        marked["description"] = f"{text}\n\n{MANAGED_MARK}" if text else MANAGED_MARK
    elif kind.marker == "tags":
        marked["tags"] = [NAMED_VALUE_TAG]
    elif kind.marker == "note":
        marked["note"] = MANAGED_MARK
    return marked


def desired_state(
    gateway: Gateway,
    resources: tuple[ArmResource, ...],
    target: Target,
    policy_texts: Mapping[str, str],
    environment: str | None,
) -> DesiredState:
    """The children of the target service the spec describes, in dependency order."""
    environments = gateway.parameters.environments()
    resolver = _Resolver(gateway, resources, target, environments[environment], policy_texts)
    desired: list[DesiredResource] = []
    outside: list[str] = []
    for resource in resources:
        path = resolver.path(resource)
        if path is None:
            if resource.symbol != "apim" and not resource.existing:
                outside.append(resolver.display(resource))
            continue
        kind = kind_for_path(path)
        if kind is None:
            raise AssertionError(f"no kind for {path}")
        properties = resolver.value(resource.body.get("properties", {}))
        desired.append(DesiredResource(path, kind, _mark(kind, properties)))
    desired.sort(key=lambda r: ORDER[r.kind.name])
    return DesiredState(tuple(desired), tuple(outside))
