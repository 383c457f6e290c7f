"""Decide which policy statements go where, and in which order, at each scope.

Order inside inbound, after ``<base/>``: semantic-cache lookup (a hit answers before any limit is
charged), token limits, token metrics, inbound fragments, then backend selection and managed
identity last, so refused calls never mint a token. APIs routed to a pool get the documented
429/503 retry idiom in their backend section (apim-genai-policies.md §5.5), minus the pool's
own "every member tripped" 503, which replaces ``<base/>`` there because the retry must wrap
``forward-request`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from apimgen.model.expressions import counter_key_expression, header_expression
from apimgen.model.gateway import PolicyDocument, PolicyScope
from apimgen.model.statements import (
    Base,
    EmitTokenMetric,
    Family,
    ForwardRequest,
    IncludeFragment,
    ManagedIdentityAuth,
    MetricDimensionValue,
    Retry,
    SemanticCacheLookup,
    SemanticCacheStore,
    SetBackendService,
    Statement,
    TokenLimitPolicy,
)
from apimgen.spec.document import Api, Spec
from apimgen.spec.policies import BUILTIN_DIMENSIONS, ScopePolicies, TokenLimit, TokenMetrics

__all__ = ["kept_scopes", "policy_documents"]


def _decimal_text(value: float) -> str:
    """``0.05`` as ``0.05`` — never ``5e-02`` — so attributes read as written."""
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _token_limit(limit: TokenLimit, family: Family) -> TokenLimitPolicy:
    quota = limit.quota
    return TokenLimitPolicy(
        family=family,
        counter_key=counter_key_expression(limit.key),
        tokens_per_minute=limit.tokens_per_minute,
        token_quota=quota.tokens if quota else None,
        token_quota_period=quota.period.value.capitalize() if quota else None,
        estimate_prompt_tokens=limit.estimate_prompt_tokens,
        retry_after_header_name=limit.retry_after_header,
        retry_after_variable_name=limit.retry_after_variable,
        remaining_quota_tokens_header_name=limit.remaining_quota_tokens_header,
        remaining_quota_tokens_variable_name=limit.remaining_quota_tokens_variable,
        remaining_tokens_header_name=limit.remaining_tokens_header,
        remaining_tokens_variable_name=limit.remaining_tokens_variable,
        tokens_consumed_header_name=limit.tokens_consumed_header,
        tokens_consumed_variable_name=limit.tokens_consumed_variable,
    )


def _metrics(metrics: TokenMetrics, family: Family) -> EmitTokenMetric:
    dimensions: list[MetricDimensionValue] = []
    for dimension in metrics.dimensions:
        if dimension.builtin == "client_ip":
            dimensions.append(MetricDimensionValue("Client IP", "@(context.Request.IpAddress)"))
        elif dimension.builtin is not None:
            dimensions.append(MetricDimensionValue(BUILTIN_DIMENSIONS[dimension.builtin], None))
        elif dimension.header is not None:
            assert dimension.name is not None
            dimensions.append(
                MetricDimensionValue(
                    dimension.name, header_expression(dimension.header, dimension.default)
                )
            )
        else:
            assert dimension.name is not None
            dimensions.append(MetricDimensionValue(dimension.name, dimension.value))
    return EmitTokenMetric(family, metrics.namespace, tuple(dimensions))


def _sections(scope: ScopePolicies, family: Family, *, inherit: bool) -> dict[str, list[Statement]]:
    inbound: list[Statement] = []
    outbound: list[Statement] = []
    if scope.semantic_cache is not None:
        cache = scope.semantic_cache
        inbound.append(
            SemanticCacheLookup(
                family=family,
                score_threshold=_decimal_text(cache.score_threshold),
                embeddings_backend_id=cache.embeddings_backend,
                ignore_system_messages=cache.ignore_system_messages,
                max_message_count=cache.max_message_count,
                vary_by=tuple(counter_key_expression(k) for k in cache.vary_by),
            )
        )
        outbound.append(SemanticCacheStore(family, cache.duration))
    inbound.extend(_token_limit(limit, family) for limit in scope.token_limits)
    if scope.token_metrics is not None:
        inbound.append(_metrics(scope.token_metrics, family))
    includes = scope.include_fragments
    head: list[Statement] = [Base()] if inherit else []
    return {
        "inbound": [*head, *inbound, *(IncludeFragment(f) for f in includes.inbound)],
        "backend": [*head, *(IncludeFragment(f) for f in includes.backend)],
        "outbound": [*head, *outbound, *(IncludeFragment(f) for f in includes.outbound)],
        "on-error": [*head, *(IncludeFragment(f) for f in includes.on_error)],
    }


def _freeze(scope: PolicyScope, sections: dict[str, list[Statement]]) -> PolicyDocument:
    return PolicyDocument(scope, {name: tuple(items) for name, items in sections.items()})


def _api_document(spec: Spec, api: Api, family: Family) -> PolicyDocument:
    sections = _sections(api, family, inherit=True)
    pool = next((p for p in spec.pools if p.name == api.backend), None)
    members = [m.backend for m in pool.members] if pool else [api.backend]
    backend = next(b for b in spec.backends if b.name == members[0])
    sections["inbound"].append(SetBackendService(api.backend))
    if backend.auth.type == "managed_identity":
        client_id = (
            spec.gateway.user_assigned_client_id
            if spec.gateway.identity == "user_assigned"
            else None
        )
        sections["inbound"].append(ManagedIdentityAuth(backend.auth.resource, client_id))
    if pool is not None and api.retry.enabled:
        count = max(1, len(pool.members) - 1) if api.retry.count == "auto" else api.retry.count
        condition = " || ".join(_retry_on(code) for code in sorted(set(api.retry.on_status)))
        retry = Retry(
            condition=f"@({condition})",
            count=count,
            interval=api.retry.interval,
            first_fast_retry=True,
            body=(SetBackendService(api.backend), ForwardRequest(buffer_request_body=True)),
        )
        fragments = [s for s in sections["backend"] if isinstance(s, IncludeFragment)]
        sections["backend"] = [retry, *fragments]
    return _freeze(PolicyScope("api", api=api.name), sections)


def _retry_on(status: int) -> str:
    """A retry test for one backend status. The pool's own 503 (every member tripped) is
    excluded by its reason: re-selecting an exhausted pool cannot succeed, it only delays
    the answer."""
    test = f"context.Response.StatusCode == {status}"
    if status == 503:
        return f'({test} && !context.Response.StatusReason.Contains("Backend pool"))'
    return test


def kept_scopes(spec: Spec) -> list[tuple[PolicyScope, ScopePolicies, tuple[str | int, ...]]]:
    """Every scope the spec keeps a policy document for (``policy_file``), with the key path
    that names the file."""
    scopes: list[tuple[PolicyScope, ScopePolicies, tuple[str | int, ...]]] = []
    if spec.global_.policy_file:
        scopes.append((PolicyScope("global"), spec.global_, ("global",)))
    for index, product in enumerate(spec.products):
        if product.policy_file:
            scopes.append(
                (PolicyScope("product", product=product.name), product, ("products", index))
            )
    for index, api in enumerate(spec.apis):
        if api.policy_file:
            scopes.append((PolicyScope("api", api=api.name), api, ("apis", index)))
        for number, operation in enumerate(api.operations or []):
            if operation.policy_file:
                scope = PolicyScope("operation", api=api.name, operation=operation.name)
                scopes.append((scope, operation, ("apis", index, "operations", number)))
    return scopes


def policy_documents(
    spec: Spec, kept: Mapping[str, str] | None = None
) -> tuple[PolicyDocument, ...]:
    """One document per scope that has something to say; global always exists. ``kept``
    holds the texts of the spec's ``policy_file`` documents by scope path: such a scope's
    document is its text, not one generated (its keys are empty, the spec checks)."""
    default_family: Family = spec.gateway.policy_family
    global_sections = _sections(spec.global_, default_family, inherit=False)
    # The global backend section forwards the request; without it nothing reaches a backend.
    global_sections["backend"].insert(0, ForwardRequest())
    documents = [_freeze(PolicyScope("global"), global_sections)]
    for product in spec.products:
        if product.has_policies():
            documents.append(
                _freeze(
                    PolicyScope("product", product=product.name),
                    _sections(product, default_family, inherit=True),
                )
            )
    for api in spec.apis:
        family: Family = api.policy_family or default_family
        documents.append(_api_document(spec, api, family))
        for operation in api.operations or []:
            if operation.has_policies():
                documents.append(
                    _freeze(
                        PolicyScope("operation", api=api.name, operation=operation.name),
                        _sections(operation, family, inherit=True),
                    )
                )
    texts = kept or {}
    return tuple(
        PolicyDocument(d.scope, kept=texts[d.scope.path]) if d.scope.path in texts else d
        for d in documents
    )
