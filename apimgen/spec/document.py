"""The root of a spec file, and the APIs, operations, products and consumers it exposes."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from apimgen.spec.policies import ScopePolicies
from apimgen.spec.resources import (
    Backend,
    ExternalCache,
    Fragment,
    Gateway,
    NamedValue,
    Observability,
    OpenAIAccount,
    Pool,
    Sku,
)
from apimgen.spec.types import ApimId, AzureRegion, HeaderName, LiteralText, SpecModel

__all__ = [
    "Api",
    "Consumer",
    "ConsumerUser",
    "Environment",
    "Operation",
    "Product",
    "Retry",
    "Spec",
]

_HTTP_METHOD = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Operation(ScopePolicies):
    """An API operation; policies here apply to this operation only."""

    name: ApimId = Field(description="Operation id, e.g. chat-completions.")
    display_name: LiteralText | None = Field(default=None, description="Shown in the portal.")
    method: _HTTP_METHOD = Field(default="POST", description="HTTP method.")
    url_template: Annotated[str, Field(pattern=r"^/[^\s\"'<>&]*$", max_length=1000)] = Field(
        description="Path template, e.g. /deployments/{deployment-id}/chat/completions."
    )


class Retry(SpecModel):
    """The documented 429/503 failover idiom: retry forward-request over the pool."""

    enabled: bool = Field(default=True, description="Emit the retry around forward-request.")
    count: int | Literal["auto"] = Field(
        default="auto",
        description="Retries; 'auto' is pool members - 1 so each member is tried once.",
    )
    on_status: list[Annotated[int, Field(ge=400, le=599)]] = Field(
        default_factory=lambda: [429, 503],
        min_length=1,
        description=(
            "Backend status codes that trigger a retry (503 never includes the pool's own "
            "'every member tripped' answer)."
        ),
    )
    interval: int = Field(default=0, ge=0, le=300, description="Seconds between retries.")


class Api(ScopePolicies):
    """An API exposed by the gateway, routed to one backend or pool."""

    name: ApimId = Field(description="API id.")
    display_name: LiteralText | None = Field(default=None, description="Shown in the portal.")
    description: LiteralText | None = Field(default=None, description="Free text.")
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9._~/-]{1,400}$")] = Field(
        description="URL suffix under the gateway, e.g. openai (SDKs call <gateway>/openai/...)."
    )
    backend: ApimId = Field(description="Backend or pool the API forwards to.")
    policy_family: Literal["llm", "azure-openai"] | None = Field(
        default=None, description="Policy family for this API (default: the gateway's)."
    )
    subscription_required: bool = Field(
        default=True, description="Require a subscription key (identifies the consumer)."
    )
    subscription_key_header: HeaderName = Field(
        default="api-key",
        description="Header carrying the subscription key; api-key keeps OpenAI SDKs unchanged.",
    )
    subscription_key_query: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")] = Field(
        default="api-key", description="Query parameter carrying the subscription key."
    )
    retry: Retry = Field(
        default_factory=Retry, description="Failover retries; only emitted for pools."
    )

    # A kept API document holds its own routing and retries too.
    GENERATED_FROM: ClassVar[tuple[str, ...]] = (*ScopePolicies.GENERATED_FROM, "retry")
    operations: list[Operation] | None = Field(
        default=None,
        description="Operations; omitted means the Azure OpenAI inference operations "
        "(chat-completions, completions, embeddings).",
    )


class Product(ScopePolicies):
    """A tier consumers subscribe to, with its own limits and quotas."""

    name: ApimId = Field(description="Product id.")
    display_name: LiteralText | None = Field(default=None, description="Shown in the portal.")
    description: LiteralText | None = Field(default=None, description="Free text.")
    apis: list[ApimId] = Field(default_factory=list, description="APIs included in the product.")
    subscription_required: bool = Field(default=True, description="Consumers need a key.")
    approval_required: bool = Field(default=False, description="Subscriptions need approval.")
    subscriptions_limit: int | None = Field(
        default=None, ge=1, description="Subscriptions per user."
    )
    published: bool = Field(default=True, description="Visible to developers.")


class ConsumerUser(SpecModel):
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] = Field(
        description="The user's email."
    )
    first_name: LiteralText = Field(min_length=1, description="First name.")
    last_name: LiteralText = Field(min_length=1, description="Last name.")


class Consumer(SpecModel):
    """A user or application: one subscription. Keys are generated by APIM, never written here."""

    name: ApimId = Field(description="Subscription id.")
    display_name: LiteralText | None = Field(default=None, description="Shown in the portal.")
    product: ApimId | None = Field(default=None, description="Product the subscription is for.")
    api: ApimId | None = Field(default=None, description="Or a single API (neither: all APIs).")
    user: ConsumerUser | None = Field(default=None, description="Owner, created as an APIM user.")
    state: Literal["active", "suspended"] = Field(default="active", description="State.")
    allow_tracing: bool = Field(default=False, description="Allow request tracing.")


class Environment(SpecModel):
    """Values that differ per deployment environment; the rest of the spec is shared."""

    name: ApimId = Field(description="Environment name, e.g. dev or prod.")
    gateway_name: (
        Annotated[str, Field(pattern=r"^[a-zA-Z](?:[a-zA-Z0-9-]{0,48}[a-zA-Z0-9])?$")] | None
    ) = Field(default=None, description="Service name in this environment.")
    resource_group: Annotated[str, Field(pattern=r"^[-\w._()]{1,90}$")] | None = Field(
        default=None, description="Resource group in this environment."
    )
    location: AzureRegion | None = Field(default=None, description="Region in this environment.")
    sku: Sku | None = Field(default=None, description="Pricing tier in this environment.")
    capacity: int | None = Field(
        default=None, ge=0, le=31, description="Scale units in this environment."
    )
    publisher_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = Field(
        default=None, description="Publisher email in this environment."
    )
    publisher_name: LiteralText | None = Field(
        default=None, description="Publisher name in this environment."
    )


class LintSettings(SpecModel):
    """Per-rule configuration for `apimgen lint` (rule ids as `apimgen lint` prints them)."""

    disable: list[str] = Field(default_factory=list, description="Rule ids to turn off.")
    severity: dict[str, Literal["error", "warning"]] = Field(
        default_factory=dict, description="Rule id → error or warning."
    )


class GlobalPolicies(ScopePolicies):
    """Policies at global (all APIs) scope."""


class Spec(SpecModel):
    """An apimgen spec: one governed AI gateway."""

    model_config = SpecModel.model_config | {"title": "apimgen spec"}

    apimgen: Literal[1] = Field(default=1, description="Spec format version.")
    gateway: Gateway = Field(description="The API Management service.")
    openai: list[OpenAIAccount] = Field(
        default_factory=list, description="Azure OpenAI accounts and model deployments."
    )
    backends: list[Backend] = Field(min_length=1, description="Single backends.")
    pools: list[Pool] = Field(default_factory=list, description="Load-balanced backend pools.")
    named_values: list[NamedValue] = Field(default_factory=list, description="Named values.")
    fragments: list[Fragment] = Field(
        default_factory=list, description="Policy fragments from files next to the spec."
    )
    global_: GlobalPolicies = Field(
        default_factory=GlobalPolicies,
        alias="global",
        description="Policies at global (all APIs) scope.",
    )
    apis: list[Api] = Field(min_length=1, description="APIs the gateway exposes.")
    products: list[Product] = Field(default_factory=list, description="Products (tiers).")
    consumers: list[Consumer] = Field(
        default_factory=list, description="Subscriptions for users and applications."
    )
    observability: Observability = Field(
        default_factory=Observability, description="Metrics and logs."
    )
    redis: ExternalCache | None = Field(
        default=None, description="External Redis cache for semantic caching."
    )
    lint: LintSettings = Field(
        default_factory=LintSettings, description="How `apimgen lint` treats this spec."
    )
    environments: list[Environment] = Field(
        default_factory=list,
        description="Deployment environments; each gets its own .bicepparam and .tfvars.",
    )
