"""The API Management resource kinds plan/apply manages, and how the SDK reaches each one.

A resource is addressed by its path under the service (``apis/chat/policies/policy``); the kind
says which SDK operation group lists, creates and deletes it, which contract model its body
deserialises into, where it sits in the dependency order, and how apimgen marks the ones it
created. The order follows what ARM needs to exist first: named values → loggers → backends →
pools → fragments → APIs/operations → products → caches → policies → diagnostics → users →
subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "KINDS",
    "MANAGED_MARK",
    "Kind",
    "kind_for_path",
    "kind_named",
]

MANAGED_MARK = "Managed by apimgen."
NAMED_VALUE_TAG = "apimgen-managed"

Marker = Literal["description", "tags", "note", "parent", "logger", "scope", "none"]


@dataclass(frozen=True)
class Kind:
    """One kind of child resource of the service."""

    name: str  # what the plan calls it
    pattern: tuple[str, ...]  # path shape; "*" is a name
    group: str  # attribute of ApiManagementClient
    model: str  # contract model of the request body
    list_method: str
    long_running_create: bool = False
    long_running_delete: bool = False
    # How ownership is recorded: in the description, tags or note; or derived from the
    # parent, the diagnostic's logger, the subscription's scope; or never (not prunable).
    marker: Marker = "description"
    # Properties apimgen decides; a missing one is compared as empty, others are ignored.
    managed: tuple[str, ...] = ()
    # Write-only properties: sent on create/update, never returned, never compared.
    secret: tuple[str, ...] = ()
    has_body: bool = True
    has_etag: bool = True

    @property
    def policy_text(self) -> bool:
        """Its ``value`` is policy XML (policies, fragments): compared by meaning, not format."""
        return self.model in ("PolicyContract", "PolicyFragmentContract")

    @property
    def carries_mark(self) -> bool:
        """Ownership is written on the resource itself (so apimgen can adopt one)."""
        return self.marker in ("description", "tags", "note")

    def matches(self, segments: tuple[str, ...]) -> bool:
        return len(segments) == len(self.pattern) and all(
            p in ("*", s) for p, s in zip(self.pattern, segments, strict=True)
        )

    def names(self, segments: tuple[str, ...]) -> tuple[str, ...]:
        """The ids the SDK methods take, in order (``("chat", "policy")`` for an API policy)."""
        return tuple(s for p, s in zip(self.pattern, segments, strict=True) if p == "*") + (
            ("policy",) if self.pattern[-1] == "policy" else ()
        )


_POLICY = ("format", "value")

KINDS: tuple[Kind, ...] = (
    Kind(
        "named value",
        ("namedValues", "*"),
        "named_value",
        "NamedValueCreateContract",
        "list_by_service",
        long_running_create=True,
        marker="tags",
        managed=("displayName", "secret", "value", "keyVault", "tags"),
    ),
    Kind(
        "logger",
        ("loggers", "*"),
        "logger",
        "LoggerContract",
        "list_by_service",
        managed=("loggerType", "description", "resourceId", "isBuffered"),
        secret=("credentials",),
    ),
    Kind(
        "backend",
        ("backends", "*"),
        "backend",
        "BackendContract",
        "list_by_service",
        managed=(
            "type",
            "url",
            "protocol",
            "description",
            "tls",
            "credentials",
            "circuitBreaker",
            "pool",
        ),
    ),
    Kind(
        "fragment",
        ("policyFragments", "*"),
        "policy_fragment",
        "PolicyFragmentContract",
        "list_by_service",
        long_running_create=True,
        managed=("format", "value", "description"),
    ),
    Kind(
        "api",
        ("apis", "*"),
        "api",
        "ApiCreateOrUpdateParameter",
        "list_by_service",
        long_running_create=True,
        long_running_delete=True,
        managed=(
            "displayName",
            "description",
            "path",
            "protocols",
            "type",
            "subscriptionRequired",
            "subscriptionKeyParameterNames",
        ),
    ),
    Kind(
        "operation",
        ("apis", "*", "operations", "*"),
        "api_operation",
        "OperationContract",
        "list_by_api",
        managed=("displayName", "description", "method", "urlTemplate", "templateParameters"),
    ),
    Kind(
        "product",
        ("products", "*"),
        "product",
        "ProductContract",
        "list_by_service",
        managed=(
            "displayName",
            "description",
            "subscriptionRequired",
            "approvalRequired",
            "subscriptionsLimit",
            "state",
        ),
    ),
    Kind(
        "product API",
        ("products", "*", "apis", "*"),
        "product_api",
        "",
        "list_by_product",
        marker="parent",
        has_body=False,
        has_etag=False,
    ),
    Kind(
        "cache",
        ("caches", "*"),
        "cache",
        "CacheContract",
        "list_by_service",
        managed=("description", "useFromLocation", "resourceId"),
        secret=("connectionString",),
    ),
    Kind(
        "policy",
        ("policies", "policy"),
        "policy",
        "PolicyContract",
        "list_by_service",
        marker="none",
        managed=_POLICY,
    ),
    Kind(
        "product policy",
        ("products", "*", "policies", "policy"),
        "product_policy",
        "PolicyContract",
        "list_by_product",
        marker="parent",
        managed=_POLICY,
    ),
    Kind(
        "API policy",
        ("apis", "*", "policies", "policy"),
        "api_policy",
        "PolicyContract",
        "list_by_api",
        marker="parent",
        managed=_POLICY,
    ),
    Kind(
        "operation policy",
        ("apis", "*", "operations", "*", "policies", "policy"),
        "api_operation_policy",
        "PolicyContract",
        "list_by_operation",
        marker="parent",
        managed=_POLICY,
    ),
    Kind(
        "diagnostic",
        ("diagnostics", "*"),
        "diagnostic",
        "DiagnosticContract",
        "list_by_service",
        marker="logger",
        managed=(
            "loggerId",
            "alwaysLog",
            "verbosity",
            "logClientIp",
            "httpCorrelationProtocol",
            "metrics",
            "sampling",
        ),
    ),
    Kind(
        "user",
        ("users", "*"),
        "user",
        "UserCreateParameters",
        "list_by_service",
        long_running_delete=True,
        marker="note",
        managed=("email", "firstName", "lastName", "state", "note"),
    ),
    Kind(
        "subscription",
        ("subscriptions", "*"),
        "subscription",
        "SubscriptionCreateParameters",
        "list",
        marker="scope",
        managed=("displayName", "scope", "ownerId", "state", "allowTracing"),
    ),
)

ORDER = {kind.name: index for index, kind in enumerate(KINDS)}


def kind_for_path(path: str) -> Kind | None:
    segments = tuple(path.split("/"))
    return next((k for k in KINDS if k.matches(segments)), None)


def kind_named(name: str) -> Kind:
    return next(k for k in KINDS if k.name == name)
