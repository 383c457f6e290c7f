"""The Azure resources a spec describes: the APIM service, OpenAI accounts, backends, pools,
named values, fragments, observability and the external cache."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, model_validator

from apimgen.spec.types import (
    ApimId,
    AzureRegion,
    Duration,
    HeaderName,
    LiteralText,
    ServiceName,
    SpecModel,
    StatusRange,
)

__all__ = [
    "AdditionalRegion",
    "AppInsights",
    "Backend",
    "BackendAuth",
    "CircuitBreaker",
    "ExternalCache",
    "Fragment",
    "Gateway",
    "LogAnalytics",
    "ModelDeployment",
    "NamedValue",
    "Observability",
    "OpenAIAccount",
    "Pool",
    "PoolMember",
    "Sku",
]


class Sku(StrEnum):
    DEVELOPER = "Developer"
    BASIC = "Basic"
    STANDARD = "Standard"
    PREMIUM = "Premium"
    BASIC_V2 = "BasicV2"
    STANDARD_V2 = "StandardV2"
    PREMIUM_V2 = "PremiumV2"
    CONSUMPTION = "Consumption"


_EMAIL = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
_RESOURCE_GROUP = Annotated[str, Field(pattern=r"^[-\w._()]{1,90}$")]
_ARM_ID = Annotated[str, Field(pattern=r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+")]


class AdditionalRegion(SpecModel):
    location: AzureRegion = Field(description="Azure region of the extra gateway, e.g. westeurope.")
    capacity: int = Field(default=1, ge=1, le=12, description="Scale units in that region.")


class Gateway(SpecModel):
    """The API Management service that fronts the models."""

    name: ServiceName = Field(description="Service name; also its DNS name <name>.azure-api.net.")
    resource_group: _RESOURCE_GROUP = Field(description="Resource group of the service.")
    location: AzureRegion = Field(description="Primary Azure region, e.g. swedencentral.")
    sku: Sku = Field(default=Sku.STANDARD_V2, description="Pricing tier.")
    capacity: int = Field(default=1, ge=0, le=31, description="Scale units (0 for Consumption).")
    publisher_name: LiteralText = Field(
        min_length=1, max_length=100, description="Organisation shown in the developer portal."
    )
    publisher_email: _EMAIL = Field(description="Address that receives APIM notifications.")
    identity: Literal["system_assigned", "user_assigned"] = Field(
        default="system_assigned",
        description="Managed identity the gateway uses to call Azure OpenAI without keys.",
    )
    user_assigned_identity_id: _ARM_ID | None = Field(
        default=None, description="Resource id of the user-assigned identity (user_assigned only)."
    )
    user_assigned_client_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")] | None = Field(
        default=None,
        description="Client id of the user-assigned identity, used by authentication policies.",
    )
    additional_regions: list[AdditionalRegion] = Field(
        default_factory=list, description="Extra gateway regions (Premium tier only)."
    )
    existing: bool = Field(
        default=False, description="Reference an existing service instead of creating one."
    )
    allow_preview_api: bool = Field(
        default=False,
        description="Allow a preview ARM API version where a feature needs one (PremiumV2).",
    )
    policy_family: Literal["llm", "azure-openai"] = Field(
        default="llm",
        description="Default policy family: llm-* (any OpenAI-compatible API) or azure-openai-*.",
    )

    @model_validator(mode="after")
    def _identity_consistent(self) -> Gateway:
        if self.sku is Sku.PREMIUM_V2 and not self.allow_preview_api:
            raise ValueError(
                "the PremiumV2 tier exists only in the preview ARM API 2025-03-01-preview; "
                "set allow_preview_api: true to deploy it with that version"
            )
        if self.identity == "user_assigned" and not (
            self.user_assigned_identity_id and self.user_assigned_client_id
        ):
            raise ValueError(
                "identity user_assigned needs user_assigned_identity_id and user_assigned_client_id"
            )
        if self.identity == "system_assigned" and self.user_assigned_identity_id:
            raise ValueError("user_assigned_identity_id is only used with identity: user_assigned")
        return self


class ModelDeployment(SpecModel):
    name: ApimId = Field(description="Deployment name, the {deployment-id} clients call.")
    model: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = Field(
        description="Model name, e.g. gpt-4o or text-embedding-3-small."
    )
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")] = Field(
        description="Model version, e.g. 2024-11-20."
    )
    sku: Literal[
        "Standard",
        "GlobalStandard",
        "DataZoneStandard",
        "ProvisionedManaged",
        "GlobalProvisionedManaged",
        "DataZoneProvisionedManaged",
    ] = Field(default="GlobalStandard", description="Deployment type.")
    capacity: int = Field(
        ge=1, description="Thousands of tokens per minute (Standard types) or PTUs (provisioned)."
    )


class OpenAIAccount(SpecModel):
    """An Azure OpenAI account that apimgen creates, or an existing one it references."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$")] = Field(
        description="Account name."
    )
    location: AzureRegion = Field(description="Region of the account.")
    custom_subdomain: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")] | None = Field(
        default=None,
        description="Subdomain of https://<subdomain>.openai.azure.com (default: the name, "
        "lower-cased). Required by Entra ID authentication.",
    )
    existing: bool = Field(default=False, description="Reference an existing account.")
    resource_group: _RESOURCE_GROUP | None = Field(
        default=None, description="Resource group of an existing account (default: the gateway's)."
    )
    deployments: list[ModelDeployment] = Field(
        default_factory=list, description="Model deployments in this account."
    )
    grant_gateway_access: bool = Field(
        default=True,
        description="Give the gateway's managed identity 'Cognitive Services OpenAI User' on "
        "this account.",
    )

    @property
    def subdomain(self) -> str:
        return self.custom_subdomain or self.name.lower().replace("_", "-").replace(".", "-")


class BackendAuth(SpecModel):
    """How the gateway authenticates to a backend. Managed identity hands out no key at all."""

    type: Literal["managed_identity", "api_key"] = Field(
        default="managed_identity",
        description="managed_identity (recommended) or api_key from Key Vault.",
    )
    resource: Annotated[str, Field(pattern=r"^https://[^\s\"'<>&]+$")] = Field(
        default="https://cognitiveservices.azure.com",
        description="Audience of the token requested for the backend (managed_identity).",
    )
    key_vault_secret: (
        Annotated[
            str,
            Field(
                pattern=r"^https://[a-zA-Z0-9-]+\.vault\.[a-z.]+/secrets/[a-zA-Z0-9-]+(/[0-9a-f]{32})?/?$"
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="Key Vault secret URI holding the API key (api_key). Versionless URIs rotate.",
    )
    header: HeaderName = Field(
        default="api-key", description="Header that carries the key to the backend (api_key)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> BackendAuth:
        if self.type == "api_key" and not self.key_vault_secret:
            raise ValueError(
                "api_key auth needs key_vault_secret; keys are never written into the spec"
            )
        if self.type == "managed_identity" and self.key_vault_secret:
            raise ValueError("key_vault_secret is only used with type: api_key")
        return self


class CircuitBreaker(SpecModel):
    """The one circuit-breaker rule a backend may carry; trips make pools fail over."""

    failure_count: int | None = Field(
        default=None, ge=1, description="Trip after this many failures within the interval."
    )
    failure_percentage: int | None = Field(
        default=None, ge=1, le=100, description="Trip when this share of calls fails."
    )
    interval: Duration = Field(default=60, description="Window in which failures are counted.")
    status_codes: list[StatusRange] = Field(
        default_factory=lambda: [(429, 429), (500, 599)],
        min_length=1,
        max_length=10,
        description="Status codes (429) or ranges ('500-599') that count as failures.",
    )
    error_reasons: list[LiteralText] = Field(
        default_factory=list, max_length=10, description="Gateway error reasons that count too."
    )
    trip_duration: Duration = Field(default=60, description="How long a tripped backend rests.")
    accept_retry_after: bool = Field(
        default=True,
        description="Let the backend's Retry-After decide the rest instead (recommended for "
        "Azure OpenAI).",
    )
    rule_name: ApimId | None = Field(
        default=None,
        description="The rule's name in the backend (default <backend>-breaker); kept by "
        "`apimgen import` so an adopted backend's rule is not renamed.",
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> CircuitBreaker:
        if (self.failure_count is None) == (self.failure_percentage is None):
            raise ValueError("set exactly one of failure_count or failure_percentage")
        if self.interval <= 0 or self.trip_duration <= 0:
            raise ValueError("interval and trip_duration must be longer than zero")
        return self


class Backend(SpecModel):
    """A single endpoint: an Azure OpenAI account (by name) or any URL."""

    name: ApimId = Field(description="Backend id, used by pools and set-backend-service.")
    url: HttpUrl | None = Field(
        default=None, description="Runtime URL, e.g. https://my-aoai.openai.azure.com/openai."
    )
    account: str | None = Field(
        default=None, description="Name of an entry in `openai` to take the URL from."
    )
    description: LiteralText | None = Field(default=None, description="Free text.")
    auth: BackendAuth = Field(
        default_factory=BackendAuth, description="How the gateway authenticates to it."
    )
    circuit_breaker: CircuitBreaker | None = Field(
        default=None, description="Needed for failover: pools only skip tripped members."
    )

    @model_validator(mode="after")
    def _one_target(self) -> Backend:
        if (self.url is None) == (self.account is None):
            raise ValueError("set exactly one of url or account")
        if self.url is not None and self.url.scheme != "https":
            raise ValueError("backend url must use https")
        return self


class PoolMember(SpecModel):
    backend: ApimId = Field(description="Name of a single backend.")
    priority: int = Field(
        default=1, ge=0, le=100, description="Group; 1 is tried first, higher numbers spill over."
    )
    weight: int = Field(default=1, ge=0, le=100, description="Share of traffic within a group.")


class Pool(SpecModel):
    """A load-balanced backend pool: priority groups, weights within a group."""

    name: ApimId = Field(description="Pool id; APIs route to it like to a backend.")
    description: LiteralText | None = Field(default=None, description="Free text.")
    members: list[PoolMember] = Field(min_length=1, description="At most 30 single backends.")


class NamedValue(SpecModel):
    """A `{{name}}` usable in policies; secrets only through Key Vault."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,256}$")] = Field(
        description="Name, referenced as {{name}}."
    )
    value: LiteralText | None = Field(default=None, description="A plain, non-secret value.")
    key_vault_secret: (
        Annotated[str, Field(pattern=r"^https://[a-zA-Z0-9-]+\.vault\.[a-z.]+/secrets/.+$")] | None
    ) = Field(default=None, description="Key Vault secret URI for a secret value.")

    @model_validator(mode="after")
    def _one_source(self) -> NamedValue:
        if (self.value is None) == (self.key_vault_secret is None):
            raise ValueError("set exactly one of value or key_vault_secret")
        return self


class Fragment(SpecModel):
    """A policy fragment from a file next to the spec."""

    name: ApimId = Field(description="Fragment id, used by include_fragments.")
    file: str = Field(description="Path to the fragment XML, relative to the spec file.")
    description: LiteralText | None = Field(default=None, description="Free text.")


class LogAnalytics(SpecModel):
    name: ApimId = Field(description="Log Analytics workspace name.")
    retention_days: int = Field(default=30, ge=30, le=730, description="Data retention.")


class AppInsights(SpecModel):
    name: ApimId = Field(description="Application Insights component name.")
    existing_id: _ARM_ID | None = Field(
        default=None, description="Resource id of an existing component to use instead."
    )


class Observability(SpecModel):
    """Where token metrics and logs go; emit-token-metric needs an App Insights diagnostic."""

    app_insights: AppInsights | None = Field(default=None, description="Metrics destination.")
    log_analytics: LogAnalytics | None = Field(
        default=None, description="Workspace behind App Insights."
    )
    sampling_percentage: float = Field(
        default=100.0, ge=0, le=100, description="Share of requests logged."
    )
    log_client_ip: bool = Field(default=False, description="Log caller IP addresses.")


class ExternalCache(SpecModel):
    """Azure Managed Redis with RediSearch, required by semantic caching."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$", max_length=60)] = Field(
        description="Azure Managed Redis name."
    )
    sku: LiteralText = Field(default="Balanced_B0", description="Azure Managed Redis SKU.")
    existing: bool = Field(default=False, description="Reference an existing cache.")
    connection_secret: (
        Annotated[str, Field(pattern=r"^https://[a-zA-Z0-9-]+\.vault\.[a-z.]+/secrets/.+$")] | None
    ) = Field(
        default=None,
        description="Key Vault secret with the connection string (for an existing cache).",
    )

    @model_validator(mode="after")
    def _existing_needs_secret(self) -> ExternalCache:
        if self.existing and not self.connection_secret:
            raise ValueError(
                "an existing cache needs connection_secret (a Key Vault secret URI), since "
                "apimgen cannot read its keys"
            )
        if self.connection_secret and not self.existing:
            raise ValueError("connection_secret is only used with existing: true")
        return self
