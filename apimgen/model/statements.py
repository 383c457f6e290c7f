"""Policy statements as the renderer sees them: every attribute already decided.

These frozen values are what a policy document is made of. Resolution (spec → gateway model)
decides every value; the templates in ``templates/policy/`` only lay them out as XML.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = [
    "SECTIONS",
    "Base",
    "EmitTokenMetric",
    "ForwardRequest",
    "IncludeFragment",
    "ManagedIdentityAuth",
    "MetricDimensionValue",
    "Retry",
    "SemanticCacheLookup",
    "SemanticCacheStore",
    "SetBackendService",
    "Statement",
    "TokenLimitPolicy",
    "walk_statements",
]

SECTIONS: tuple[str, ...] = ("inbound", "backend", "outbound", "on-error")

Family = Literal["llm", "azure-openai"]


@dataclass(frozen=True)
class Base:
    """``<base />``: the parent scope's statements for this section, at this position."""

    kind: ClassVar[str] = "base"


@dataclass(frozen=True)
class TokenLimitPolicy:
    kind: ClassVar[str] = "token_limit"
    family: Family
    counter_key: str
    tokens_per_minute: int | None
    token_quota: int | None
    token_quota_period: str | None
    estimate_prompt_tokens: bool
    retry_after_header_name: str | None = None
    retry_after_variable_name: str | None = None
    remaining_quota_tokens_header_name: str | None = None
    remaining_quota_tokens_variable_name: str | None = None
    remaining_tokens_header_name: str | None = None
    remaining_tokens_variable_name: str | None = None
    tokens_consumed_header_name: str | None = None
    tokens_consumed_variable_name: str | None = None


@dataclass(frozen=True)
class MetricDimensionValue:
    name: str
    value: str | None  # None: a default dimension the gateway fills itself


@dataclass(frozen=True)
class EmitTokenMetric:
    kind: ClassVar[str] = "emit_token_metric"
    family: Family
    namespace: str
    dimensions: tuple[MetricDimensionValue, ...]


@dataclass(frozen=True)
class SemanticCacheLookup:
    kind: ClassVar[str] = "semantic_cache_lookup"
    family: Family
    score_threshold: str
    embeddings_backend_id: str
    ignore_system_messages: bool
    max_message_count: int | None
    vary_by: tuple[str, ...]


@dataclass(frozen=True)
class SemanticCacheStore:
    kind: ClassVar[str] = "semantic_cache_store"
    family: Family
    duration: int


@dataclass(frozen=True)
class SetBackendService:
    kind: ClassVar[str] = "set_backend_service"
    backend_id: str


@dataclass(frozen=True)
class ManagedIdentityAuth:
    kind: ClassVar[str] = "managed_identity"
    resource: str
    client_id: str | None


@dataclass(frozen=True)
class ForwardRequest:
    kind: ClassVar[str] = "forward_request"
    buffer_request_body: bool = False


@dataclass(frozen=True)
class Retry:
    kind: ClassVar[str] = "retry"
    condition: str
    count: int
    interval: int
    first_fast_retry: bool
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class IncludeFragment:
    kind: ClassVar[str] = "include_fragment"
    fragment_id: str


def walk_statements(statements: Iterable[Statement]) -> Iterator[Statement]:
    """Every statement, including those nested in a retry, in document order."""
    for statement in statements:
        yield statement
        if isinstance(statement, Retry):
            yield from walk_statements(statement.body)


Statement = (
    Base
    | TokenLimitPolicy
    | EmitTokenMetric
    | SemanticCacheLookup
    | SemanticCacheStore
    | SetBackendService
    | ManagedIdentityAuth
    | ForwardRequest
    | Retry
    | IncludeFragment
)
