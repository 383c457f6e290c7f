"""What a user can ask of the gateway at a policy scope: token limits, metrics, caching, fragments.

The same :class:`ScopePolicies` fields exist at global, product, API and operation scope, because
APIM allows the GenAI policies at all four (apim-genai-policies.md §2.2, §3.2, §4.3).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from apimgen.spec.types import (
    ApimId,
    Duration,
    Expression,
    HeaderName,
    LiteralText,
    SpecModel,
    VariableName,
)

__all__ = [
    "BUILTIN_DIMENSIONS",
    "BuiltinKey",
    "CounterKey",
    "FragmentIncludes",
    "MetricDimension",
    "QuotaPeriod",
    "ScopePolicies",
    "SemanticCache",
    "TokenLimit",
    "TokenMetrics",
    "TokenQuota",
]


class BuiltinKey(StrEnum):
    """Who a counter or cache partition belongs to, in the words platform teams use."""

    SUBSCRIPTION = "subscription"
    PRODUCT = "product"
    USER = "user"
    IP = "ip"
    API = "api"


def _key_from_shorthand(value: Any) -> Any:
    # `key: user` is the common case; the mapping form carries the other variants.
    if isinstance(value, str):
        return {"builtin": value}
    return value


_COUNTER_KEY_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": [k.value for k in BuiltinKey]},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "header": {"type": "string"},
                "default": {"type": "string"},
                "jwt_claim": {"type": "string"},
                "expression": {"type": "string"},
            },
        },
    ],
    "description": "subscription | product | user | ip | api, or {header: NAME}, "
    "{jwt_claim: CLAIM} or {expression: '@(...)'}",
}


class _CounterKeyModel(SpecModel):
    builtin: BuiltinKey | None = Field(
        default=None, description="A built-in identity: subscription, product, user, ip or api."
    )
    header: HeaderName | None = Field(
        default=None, description="Count per value of this request header (e.g. X-App-Id)."
    )
    jwt_claim: Annotated[str, Field(pattern=r"^[A-Za-z0-9_:./-]{1,100}$")] | None = Field(
        default=None,
        description="Count per value of this claim of the bearer token (e.g. oid, appid).",
    )
    expression: Expression | None = Field(
        default=None, description="A raw policy expression, @(...) or @{...}."
    )
    default: LiteralText = Field(
        default="anonymous",
        description="Value used when the header or claim is missing.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> _CounterKeyModel:
        chosen = [
            name
            for name in ("builtin", "header", "jwt_claim", "expression")
            if getattr(self, name) is not None
        ]
        if len(chosen) != 1:
            raise ValueError(
                "give exactly one of: a built-in name (subscription, product, user, ip, api),"
                " header, jwt_claim or expression"
            )
        return self


CounterKey = Annotated[
    _CounterKeyModel,
    BeforeValidator(_key_from_shorthand),
    WithJsonSchema(_COUNTER_KEY_SCHEMA),
]


class QuotaPeriod(StrEnum):
    """Fixed windows aligned to UTC, as `token-quota-period` defines them."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class TokenQuota(SpecModel):
    tokens: int = Field(ge=1, description="Maximum prompt + completion tokens per period.")
    period: QuotaPeriod = Field(description="hourly, daily, weekly, monthly or yearly (UTC).")


class TokenLimit(SpecModel):
    """One `*-token-limit` policy: a per-minute rate, a quota, or both, per counter key."""

    key: CounterKey = Field(
        default_factory=lambda: _CounterKeyModel(builtin=BuiltinKey.SUBSCRIPTION),
        description="Whose tokens are counted. One counter per key value, shared by every scope "
        "that uses the same key.",
    )
    tokens_per_minute: int | None = Field(
        default=None, ge=1, description="Maximum prompt + completion tokens per minute (429 above)."
    )
    quota: TokenQuota | None = Field(
        default=None, description="Maximum tokens per fixed period (403 above)."
    )
    estimate_prompt_tokens: bool = Field(
        default=False,
        description="Estimate prompt tokens before forwarding, so a request that would exceed the "
        "limit is refused up front. Off: only reported usage counts and one request may overshoot.",
    )
    retry_after_header: HeaderName | None = Field(
        default=None, description="Header carrying the wait in seconds (APIM default: Retry-After)."
    )
    retry_after_variable: VariableName | None = Field(
        default=None, description="Context variable receiving the wait in seconds."
    )
    remaining_tokens_header: HeaderName | None = Field(
        default=None, description="Response header with tokens left in the minute window."
    )
    remaining_tokens_variable: VariableName | None = Field(
        default=None, description="Context variable with tokens left in the minute window."
    )
    remaining_quota_tokens_header: HeaderName | None = Field(
        default=None, description="Response header with tokens left in the quota period."
    )
    remaining_quota_tokens_variable: VariableName | None = Field(
        default=None, description="Context variable with tokens left in the quota period."
    )
    tokens_consumed_header: HeaderName | None = Field(
        default=None, description="Response header with the tokens this request consumed."
    )
    tokens_consumed_variable: VariableName | None = Field(
        default=None, description="Context variable with the tokens this request consumed."
    )

    @model_validator(mode="after")
    def _needs_a_limit(self) -> TokenLimit:
        if self.tokens_per_minute is None and self.quota is None:
            raise ValueError("set tokens_per_minute, quota, or both")
        return self


# Dimension names the gateway fills itself (apim-genai-policies.md §3.1); they need no value.
BUILTIN_DIMENSIONS: dict[str, str] = {
    "api": "API ID",
    "operation": "Operation ID",
    "product": "Product ID",
    "user": "User ID",
    "subscription": "Subscription ID",
    "location": "Location",
    "gateway": "Gateway ID",
    "backend": "Backend ID",
}


def _dimension_from_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"builtin": value}
    return value


class _DimensionModel(SpecModel):
    builtin: (
        Literal[
            "api",
            "operation",
            "product",
            "user",
            "subscription",
            "location",
            "gateway",
            "backend",
            "client_ip",
        ]
        | None
    ) = Field(default=None, description="A dimension the gateway fills itself.")
    name: LiteralText | None = Field(default=None, description="Name of a custom dimension.")
    header: HeaderName | None = Field(
        default=None, description="Fill the custom dimension from this request header."
    )
    value: Expression | LiteralText | None = Field(
        default=None, description="Fill the custom dimension from an expression or a constant."
    )
    default: LiteralText = Field(
        default="unknown", description="Value used when the header is missing."
    )

    @model_validator(mode="after")
    def _shape(self) -> _DimensionModel:
        if self.builtin is not None:
            if self.name or self.header or self.value:
                raise ValueError("a built-in dimension takes no name, header or value")
            return self
        if not self.name:
            raise ValueError(
                "a custom dimension needs a name (or use a built-in: "
                + ", ".join([*BUILTIN_DIMENSIONS, "client_ip"])
                + ")"
            )
        if (self.header is None) == (self.value is None):
            raise ValueError("a custom dimension needs exactly one of header or value")
        return self

    @property
    def is_custom(self) -> bool:
        return self.builtin is None or self.builtin == "client_ip"


MetricDimension = Annotated[
    _DimensionModel,
    BeforeValidator(_dimension_from_shorthand),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "enum": [*BUILTIN_DIMENSIONS, "client_ip"]},
                {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "header": {"type": "string"},
                        "value": {"type": "string"},
                        "default": {"type": "string"},
                    },
                },
            ]
        }
    ),
]

MAX_CUSTOM_DIMENSIONS = 5


class TokenMetrics(SpecModel):
    """One `*-emit-token-metric` policy: Total/Prompt/Completion Tokens by dimension."""

    namespace: LiteralText = Field(
        default="openai", min_length=1, description="Application Insights metric namespace."
    )
    dimensions: list[MetricDimension] = Field(
        min_length=1,
        description="Built-in names (api, operation, product, user, subscription, location, "
        "gateway, backend, client_ip) or custom {name, header|value}. At most 5 custom ones: APIM "
        "silently drops the rest.",
    )


class SemanticCache(SpecModel):
    """`*-semantic-cache-lookup` in inbound plus `*-semantic-cache-store` in outbound."""

    score_threshold: float = Field(
        ge=0.0,
        le=1.0,
        description="A distance: lower is stricter, 0 matches only near-identical prompts. "
        "Microsoft suggests starting near 0.05; above 0.2 unrelated prompts start to match.",
    )
    embeddings_backend: ApimId = Field(description="Backend that calls the embeddings deployment.")
    duration: Duration = Field(default=3600, gt=0, description="How long a cached answer lives.")
    vary_by: list[CounterKey] = Field(
        default_factory=list,
        description="Partition the cache, e.g. per subscription, so tenants never share answers.",
    )
    ignore_system_messages: bool = Field(
        default=True, description="Leave system messages out of the similarity check."
    )
    max_message_count: int | None = Field(
        default=None, ge=1, description="Skip caching for dialogs with more messages than this."
    )


class FragmentIncludes(SpecModel):
    """Policy fragments to include at this scope, per section, in the order given."""

    inbound: list[ApimId] = Field(default_factory=list, description="Fragments for inbound.")
    backend: list[ApimId] = Field(default_factory=list, description="Fragments for backend.")
    outbound: list[ApimId] = Field(default_factory=list, description="Fragments for outbound.")
    on_error: list[ApimId] = Field(default_factory=list, description="Fragments for on-error.")

    SECTIONS: ClassVar[tuple[str, ...]] = ("inbound", "backend", "outbound", "on_error")

    def all(self) -> list[tuple[str, str]]:
        """(section, fragment) pairs in document order."""
        return [(section, name) for section in self.SECTIONS for name in getattr(self, section)]


class ScopePolicies(SpecModel):
    """Policies that may be attached at global, product, API and operation scope."""

    token_limits: list[TokenLimit] = Field(
        default_factory=list, description="Token rate limits and quotas enforced at this scope."
    )
    token_metrics: TokenMetrics | None = Field(
        default=None, description="Emit token usage metrics at this scope."
    )
    semantic_cache: SemanticCache | None = Field(
        default=None, description="Answer similar prompts from the cache at this scope."
    )
    include_fragments: FragmentIncludes = Field(
        default_factory=FragmentIncludes,
        description="Policy fragments (from the spec's `fragments` or apimgen's built-ins).",
    )
    policy_file: str | None = Field(
        default=None,
        description=(
            "A policy document kept as written (an XML file next to the spec), deployed for "
            "this scope instead of one generated from the keys above, which must then be left "
            "out: for policies the spec cannot express, and for gateways adopted with "
            "`apimgen import`."
        ),
    )

    # The keys a generated document is made from: a kept document replaces all of them.
    GENERATED_FROM: ClassVar[tuple[str, ...]] = (
        "token_limits",
        "token_metrics",
        "semantic_cache",
        "include_fragments",
    )

    @model_validator(mode="after")
    def _kept_document_alone(self) -> ScopePolicies:
        if self.policy_file is not None:
            taken = [key for key in self.GENERATED_FROM if key in self.model_fields_set]
            if taken:
                raise ValueError(
                    f"policy_file replaces the generated document, so {', '.join(taken)} "
                    "would be ignored: move them into the file, or drop policy_file"
                )
        return self

    def has_policies(self) -> bool:
        return bool(
            self.token_limits
            or self.token_metrics
            or self.semantic_cache
            or self.include_fragments.all()
            or self.policy_file
        )
