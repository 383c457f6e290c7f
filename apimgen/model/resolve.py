"""Spec → Gateway: apply defaults, derive names and URLs, lay out policies. Pure: no I/O.

Fragment texts are read by the loader and passed in, so this stays a function over data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from apimgen.model.deployment_params import deployment_parameters
from apimgen.model.gateway import (
    ApiResource,
    AppInsightsResource,
    BackendResource,
    CircuitBreakerRule,
    ExternalCacheResource,
    FragmentResource,
    Gateway,
    ModelDeploymentResource,
    NamedValueResource,
    OpenAIAccountResource,
    OperationResource,
    PoolMemberRef,
    PoolResource,
    ProductResource,
    ServiceResource,
    SubscriptionResource,
    UserResource,
)
from apimgen.model.policy_layout import policy_documents
from apimgen.model.statements import IncludeFragment, walk_statements
from apimgen.spec.document import Api, Operation, Spec
from apimgen.spec.resources import Backend

__all__ = ["DEFAULT_OPENAI_OPERATIONS", "api_key_named_value", "resolve", "used_fragments"]

# The Azure OpenAI inference operations SDKs call (data-plane spec, stable 2024-10-21).
DEFAULT_OPENAI_OPERATIONS: tuple[tuple[str, str, str], ...] = (
    (
        "chat-completions",
        "Creates a chat completion",
        "/deployments/{deployment-id}/chat/completions",
    ),
    ("completions", "Creates a completion", "/deployments/{deployment-id}/completions"),
    ("embeddings", "Creates embeddings", "/deployments/{deployment-id}/embeddings"),
)


def api_key_named_value(backend_name: str) -> str:
    """Name of the Key Vault-backed named value holding a backend's API key."""
    return f"{backend_name}-key"


def _operations(api: Api) -> tuple[OperationResource, ...]:
    specs: list[Operation] | None = api.operations
    if specs is None:
        return tuple(
            OperationResource(name, display, "POST", template, _parameters(template))
            for name, display, template in DEFAULT_OPENAI_OPERATIONS
        )
    return tuple(
        OperationResource(
            o.name,
            o.display_name or o.name,
            o.method,
            o.url_template,
            _parameters(o.url_template),
        )
        for o in specs
    )


def _parameters(template: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\{([^{}]+)\}", template))


def _backend(backend: Backend, spec: Spec) -> BackendResource:
    if backend.account is not None:
        account = next(a for a in spec.openai if a.name == backend.account)
        url = f"https://{account.subdomain}.openai.azure.com/openai"
    else:
        url = str(backend.url).rstrip("/")
    breaker = backend.circuit_breaker
    rule = (
        CircuitBreakerRule(
            name=breaker.rule_name or f"{backend.name}-breaker",
            failure_count=breaker.failure_count,
            failure_percentage=breaker.failure_percentage,
            interval_seconds=breaker.interval,
            status_code_ranges=tuple(breaker.status_codes),
            error_reasons=tuple(breaker.error_reasons),
            trip_duration_seconds=breaker.trip_duration,
            accept_retry_after=breaker.accept_retry_after,
        )
        if breaker
        else None
    )
    api_key = backend.auth.type == "api_key"
    return BackendResource(
        name=backend.name,
        url=url,
        description=backend.description,
        account=backend.account,
        auth=backend.auth.type,
        auth_resource=backend.auth.resource,
        credential_header=(backend.auth.header, api_key_named_value(backend.name))
        if api_key
        else None,
        circuit_breaker=rule,
    )


def used_fragments(spec: Spec) -> list[str]:
    """Fragment ids included anywhere, in first-use order."""
    names: list[str] = []
    for document in policy_documents(spec):
        for section in document.sections.values():
            for statement in walk_statements(section):
                if isinstance(statement, IncludeFragment) and statement.fragment_id not in names:
                    names.append(statement.fragment_id)
    return names


def resolve(
    spec: Spec,
    fragment_texts: Mapping[str, str],
    kept_policies: Mapping[str, str] | None = None,
) -> Gateway:
    """Build the gateway model. ``fragment_texts`` maps fragment id → its XML;
    ``kept_policies`` scope path → the text of a ``policy_file`` document."""
    gateway = spec.gateway
    service = ServiceResource(
        name=gateway.name,
        resource_group=gateway.resource_group,
        location=gateway.location,
        sku=gateway.sku.value,
        capacity=gateway.capacity,
        publisher_name=gateway.publisher_name,
        publisher_email=gateway.publisher_email,
        identity=gateway.identity,
        user_assigned_identity_id=gateway.user_assigned_identity_id,
        user_assigned_client_id=gateway.user_assigned_client_id,
        additional_regions=tuple((r.location, r.capacity) for r in gateway.additional_regions),
        existing=gateway.existing,
    )
    accounts = tuple(
        OpenAIAccountResource(
            name=a.name,
            location=a.location,
            subdomain=a.subdomain,
            existing=a.existing,
            resource_group=a.resource_group or gateway.resource_group,
            deployments=tuple(
                ModelDeploymentResource(d.name, d.model, d.version, d.sku, d.capacity)
                for d in a.deployments
            ),
            grant_gateway_access=a.grant_gateway_access,
        )
        for a in spec.openai
    )
    backends = tuple(_backend(b, spec) for b in spec.backends)
    pools = tuple(
        PoolResource(
            p.name,
            p.description,
            tuple(PoolMemberRef(m.backend, m.priority, m.weight) for m in p.members),
        )
        for p in spec.pools
    )
    named_values = [
        NamedValueResource(n.name, n.value, n.key_vault_secret) for n in spec.named_values
    ]
    for backend in spec.backends:
        if backend.auth.type == "api_key":
            named_values.append(
                NamedValueResource(
                    api_key_named_value(backend.name), None, backend.auth.key_vault_secret
                )
            )
    descriptions = {f.name: f.description for f in spec.fragments}
    fragment_ids = [f.name for f in spec.fragments] + [
        name for name in used_fragments(spec) if name not in descriptions
    ]
    fragments = tuple(
        FragmentResource(name, descriptions.get(name), fragment_texts[name])
        for name in fragment_ids
    )
    apis = tuple(
        ApiResource(
            name=a.name,
            display_name=a.display_name or a.name,
            description=a.description,
            path=a.path,
            backend=a.backend,
            policy_family=a.policy_family or gateway.policy_family,
            subscription_required=a.subscription_required,
            subscription_key_header=a.subscription_key_header,
            subscription_key_query=a.subscription_key_query,
            operations=_operations(a),
        )
        for a in spec.apis
    )
    products = tuple(
        ProductResource(
            name=p.name,
            display_name=p.display_name or p.name,
            description=p.description,
            subscription_required=p.subscription_required,
            approval_required=p.approval_required,
            subscriptions_limit=p.subscriptions_limit,
            published=p.published,
            apis=tuple(p.apis),
        )
        for p in spec.products
    )
    users = tuple(
        UserResource(c.name, c.user.email, c.user.first_name, c.user.last_name)
        for c in spec.consumers
        if c.user is not None
    )
    subscriptions = tuple(
        SubscriptionResource(
            name=c.name,
            display_name=c.display_name or c.name,
            scope="product" if c.product else "api" if c.api else "all_apis",
            scope_name=c.product or c.api,
            owner=c.name if c.user is not None else None,
            state=c.state,
            allow_tracing=c.allow_tracing,
        )
        for c in spec.consumers
    )
    observability = spec.observability
    documents = policy_documents(spec, kept_policies)
    app_insights = None
    if observability.app_insights is not None:
        log_analytics = observability.log_analytics
        app_insights = AppInsightsResource(
            name=observability.app_insights.name,
            existing_id=observability.app_insights.existing_id,
            log_analytics_name=log_analytics.name if log_analytics else None,
            log_analytics_retention_days=log_analytics.retention_days if log_analytics else 30,
            sampling_percentage=observability.sampling_percentage,
            log_client_ip=observability.log_client_ip,
            # emit-token-metric is silently dropped unless the diagnostic enables metrics.
            metrics=True,
        )
    external_cache = (
        ExternalCacheResource(
            spec.redis.name, spec.redis.sku, spec.redis.existing, spec.redis.connection_secret
        )
        if spec.redis
        else None
    )
    return Gateway(
        service=service,
        openai_accounts=accounts,
        backends=backends,
        pools=pools,
        named_values=tuple(named_values),
        fragments=fragments,
        apis=apis,
        products=products,
        users=users,
        subscriptions=subscriptions,
        app_insights=app_insights,
        external_cache=external_cache,
        policies=documents,
        parameters=deployment_parameters(spec),
    )
