"""The resolved gateway: typed APIM (and neighbouring Azure) resources with every name decided.

This is the single source every artifact is rendered from — policy XML today, Bicep, Terraform
and the desired state of plan/apply next. Values here are final: no defaults left to apply, no
names left to look up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from apimgen.model.deployment_params import DeploymentParameters
from apimgen.model.statements import SECTIONS, Statement

__all__ = [
    "ApiResource",
    "AppInsightsResource",
    "BackendResource",
    "CircuitBreakerRule",
    "ExternalCacheResource",
    "FragmentResource",
    "Gateway",
    "ModelDeploymentResource",
    "NamedValueResource",
    "OpenAIAccountResource",
    "OperationResource",
    "PolicyDocument",
    "PolicyScope",
    "PoolMemberRef",
    "PoolResource",
    "ProductResource",
    "ServiceResource",
    "SubscriptionResource",
    "UserResource",
]


@dataclass(frozen=True)
class ServiceResource:
    name: str
    resource_group: str
    location: str
    sku: str
    capacity: int
    publisher_name: str
    publisher_email: str
    identity: Literal["system_assigned", "user_assigned"]
    user_assigned_identity_id: str | None
    user_assigned_client_id: str | None
    additional_regions: tuple[tuple[str, int], ...]
    existing: bool


@dataclass(frozen=True)
class ModelDeploymentResource:
    name: str
    model: str
    version: str
    sku: str
    capacity: int


@dataclass(frozen=True)
class OpenAIAccountResource:
    name: str
    location: str
    subdomain: str
    existing: bool
    resource_group: str
    deployments: tuple[ModelDeploymentResource, ...]
    grant_gateway_access: bool

    @property
    def endpoint(self) -> str:
        return f"https://{self.subdomain}.openai.azure.com/"


@dataclass(frozen=True)
class CircuitBreakerRule:
    name: str
    failure_count: int | None
    failure_percentage: int | None
    interval_seconds: int
    status_code_ranges: tuple[tuple[int, int], ...]
    error_reasons: tuple[str, ...]
    trip_duration_seconds: int
    accept_retry_after: bool


@dataclass(frozen=True)
class BackendResource:
    name: str
    url: str
    description: str | None
    account: str | None
    auth: Literal["managed_identity", "api_key"]
    auth_resource: str
    credential_header: tuple[str, str] | None  # (header, named value) for api_key auth
    circuit_breaker: CircuitBreakerRule | None


@dataclass(frozen=True)
class PoolMemberRef:
    backend: str
    priority: int
    weight: int


@dataclass(frozen=True)
class PoolResource:
    name: str
    description: str | None
    members: tuple[PoolMemberRef, ...]


@dataclass(frozen=True)
class NamedValueResource:
    name: str
    value: str | None
    key_vault_secret: str | None

    @property
    def secret(self) -> bool:
        return self.key_vault_secret is not None


@dataclass(frozen=True)
class FragmentResource:
    name: str
    description: str | None
    xml: str


@dataclass(frozen=True)
class OperationResource:
    name: str
    display_name: str
    method: str
    url_template: str
    template_parameters: tuple[str, ...]


@dataclass(frozen=True)
class ApiResource:
    name: str
    display_name: str
    description: str | None
    path: str
    backend: str
    policy_family: Literal["llm", "azure-openai"]
    subscription_required: bool
    subscription_key_header: str
    subscription_key_query: str
    operations: tuple[OperationResource, ...]


@dataclass(frozen=True)
class ProductResource:
    name: str
    display_name: str
    description: str | None
    subscription_required: bool
    approval_required: bool
    subscriptions_limit: int | None
    published: bool
    apis: tuple[str, ...]


@dataclass(frozen=True)
class UserResource:
    name: str
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class SubscriptionResource:
    name: str
    display_name: str
    scope: Literal["all_apis", "api", "product"]
    scope_name: str | None
    owner: str | None
    state: Literal["active", "suspended"]
    allow_tracing: bool


@dataclass(frozen=True)
class AppInsightsResource:
    name: str
    existing_id: str | None
    log_analytics_name: str | None
    log_analytics_retention_days: int
    sampling_percentage: float
    log_client_ip: bool
    metrics: bool


@dataclass(frozen=True)
class ExternalCacheResource:
    name: str
    sku: str
    existing: bool
    connection_secret: str | None


@dataclass(frozen=True)
class PolicyScope:
    """Where a policy document is attached; ``path`` is its file under the policies folder."""

    kind: Literal["global", "product", "api", "operation"]
    product: str | None = None
    api: str | None = None
    operation: str | None = None

    @property
    def path(self) -> str:
        if self.kind == "global":
            return "global.xml"
        if self.kind == "product":
            return f"products/{self.product}.xml"
        if self.kind == "api":
            return f"apis/{self.api}.xml"
        return f"apis/{self.api}/operations/{self.operation}.xml"


@dataclass(frozen=True)
class PolicyDocument:
    """A scope's policy: generated from statements, or ``kept`` as written (a spec's
    ``policy_file``), in which case it has no statements and is deployed byte for byte."""

    scope: PolicyScope
    sections: dict[str, tuple[Statement, ...]] = field(default_factory=dict)
    kept: str | None = None

    def section(self, name: str) -> tuple[Statement, ...]:
        return self.sections.get(name, ())

    def __post_init__(self) -> None:
        unknown = set(self.sections) - set(SECTIONS)
        if unknown:  # a programming error, not a user one
            raise ValueError(f"unknown policy sections {sorted(unknown)}")


@dataclass(frozen=True)
class Gateway:
    service: ServiceResource
    openai_accounts: tuple[OpenAIAccountResource, ...]
    backends: tuple[BackendResource, ...]
    pools: tuple[PoolResource, ...]
    named_values: tuple[NamedValueResource, ...]
    fragments: tuple[FragmentResource, ...]
    apis: tuple[ApiResource, ...]
    products: tuple[ProductResource, ...]
    users: tuple[UserResource, ...]
    subscriptions: tuple[SubscriptionResource, ...]
    app_insights: AppInsightsResource | None
    external_cache: ExternalCacheResource | None
    policies: tuple[PolicyDocument, ...]
    parameters: DeploymentParameters
