"""The API Management service and its children: logger and diagnostic, named values, backends
and pools, fragments, policies at every scope, APIs and operations, products, users and
subscriptions."""

from __future__ import annotations

import re

from apimgen.model.arm import ArmResource, ArmValue, Param, PolicyFile, Ref, iso_duration
from apimgen.model.arm_builder import APIM_API_VERSION, ArmBuilder
from apimgen.model.gateway import BackendResource, PolicyDocument, PolicyScope
from apimgen.model.kept_references import kept_references, uses_semantic_cache
from apimgen.model.statements import (
    IncludeFragment,
    SemanticCacheLookup,
    SetBackendService,
    walk_statements,
)

__all__ = [
    "add_apis",
    "add_backends",
    "add_fragments_and_global_policy",
    "add_logger_and_diagnostic",
    "add_named_values",
    "add_products",
    "add_service",
]

APIM_PREVIEW_API_VERSION = "2025-03-01-preview"  # first with the PremiumV2 tier
_NAMED_VALUE_RE = re.compile(r"\{\{([^{}]+)\}\}")

# Static-analysis findings a public AI gateway accepts by design.
PUBLIC_GATEWAY_FINDINGS = (
    (
        "CKV_AZURE_107",
        "VNet injection is not modelled by the spec; the gateway is the public entry point",
    ),
    (
        "CKV_AZURE_174",
        "the gateway is the public entry point for SDK clients; callers are authenticated by "
        "subscription keys",
    ),
)


def add_service(builder: ArmBuilder) -> None:
    service = builder.gateway.service
    body: dict[str, ArmValue] = {}
    if not service.existing:
        identity: dict[str, ArmValue] = {"type": "SystemAssigned"}
        if service.identity == "user_assigned":
            assert service.user_assigned_identity_id is not None
            identity = {
                "type": "UserAssigned",
                "userAssignedIdentities": {service.user_assigned_identity_id: {}},
            }
        properties: dict[str, ArmValue] = {
            "publisherEmail": Param("publisherEmail"),
            "publisherName": Param("publisherName"),
        }
        if service.additional_regions:
            properties["additionalLocations"] = [
                {"location": location, "sku": {"name": Param("apimSku"), "capacity": capacity}}
                for location, capacity in service.additional_regions
            ]
        body = {
            "location": Param("location"),
            "sku": {"name": Param("apimSku"), "capacity": Param("apimCapacity")},
            "identity": identity,
            "properties": properties,
        }
    builder.add(
        "apim",
        "",
        ArmResource(
            symbol="apim",
            type="Microsoft.ApiManagement/service",
            api_version=APIM_PREVIEW_API_VERSION
            if service.sku == "PremiumV2"
            else APIM_API_VERSION,
            name=Param("apimName"),
            concern="apim",
            existing=service.existing,
            accepted_findings=() if service.existing else PUBLIC_GATEWAY_FINDINGS,
            body=body,
        ),
    )


def add_logger_and_diagnostic(builder: ArmBuilder) -> None:
    insights = builder.gateway.app_insights
    if insights is None:
        return
    app_insights = builder.symbol("insights", "")
    logger = builder.apim_child(
        "logger",
        "",
        "service/loggers",
        "appinsights",
        "observability",
        {
            "loggerType": "applicationInsights",
            "resourceId": Ref(app_insights),
            "credentials": {"instrumentationKey": Ref(app_insights, "instrumentation_key")},
        },
        symbol_parts=("logger_app_insights",),
    )
    builder.apim_child(
        "diagnostic",
        "",
        "service/diagnostics",
        "applicationinsights",
        "observability",
        {
            "loggerId": Ref(logger),
            "alwaysLog": "allErrors",
            "verbosity": "information",
            "logClientIp": insights.log_client_ip,
            "httpCorrelationProtocol": "W3C",
            # Without metrics the emit-token-metric policies are silently ignored.
            "metrics": insights.metrics,
            "sampling": {"samplingType": "fixed", "percentage": insights.sampling_percentage},
        },
        symbol_parts=("diagnostic_app_insights",),
    )


def add_named_values(builder: ArmBuilder) -> None:
    client_id = builder.gateway.service.user_assigned_client_id
    for named_value in builder.gateway.named_values:
        properties: dict[str, ArmValue] = {
            "displayName": named_value.name,
            "secret": named_value.secret,
        }
        if named_value.key_vault_secret:
            key_vault: dict[str, ArmValue] = {"secretIdentifier": named_value.key_vault_secret}
            if client_id:
                key_vault["identityClientId"] = client_id
            properties["keyVault"] = key_vault
        else:
            properties["value"] = named_value.value
        builder.apim_child(
            "named_value",
            named_value.name,
            "service/namedValues",
            named_value.name,
            "backends",
            properties,
        )


def _backend_properties(backend: BackendResource) -> dict[str, ArmValue]:
    properties: dict[str, ArmValue] = {"type": "Single", "url": backend.url, "protocol": "http"}
    if backend.description:
        properties["description"] = backend.description
    properties["tls"] = {"validateCertificateChain": True, "validateCertificateName": True}
    if backend.credential_header:
        header, named_value = backend.credential_header
        properties["credentials"] = {"header": {header: [f"{{{{{named_value}}}}}"]}}
    rule = backend.circuit_breaker
    if rule is not None:
        condition: dict[str, ArmValue] = {}
        if rule.failure_count is not None:
            condition["count"] = rule.failure_count
        if rule.failure_percentage is not None:
            condition["percentage"] = rule.failure_percentage
        condition["interval"] = iso_duration(rule.interval_seconds)
        condition["statusCodeRanges"] = [
            {"min": low, "max": high} for low, high in rule.status_code_ranges
        ]
        if rule.error_reasons:
            condition["errorReasons"] = list(rule.error_reasons)
        properties["circuitBreaker"] = {
            "rules": [
                {
                    "name": rule.name,
                    "failureCondition": condition,
                    "tripDuration": iso_duration(rule.trip_duration_seconds),
                    "acceptRetryAfter": rule.accept_retry_after,
                }
            ]
        }
    return properties


def add_backends(builder: ArmBuilder) -> None:
    for backend in builder.gateway.backends:
        depends: tuple[str, ...] = ()
        if backend.credential_header:
            depends = (builder.symbol("named_value", backend.credential_header[1]),)
        builder.apim_child(
            "backend",
            backend.name,
            "service/backends",
            backend.name,
            "backends",
            _backend_properties(backend),
            depends_on=depends,
        )
    for pool in builder.gateway.pools:
        properties: dict[str, ArmValue] = {"type": "Pool"}
        if pool.description:
            properties["description"] = pool.description
        # Pools take no url/protocol: the resource provider rejects them (iac-mapping §1.8).
        properties["pool"] = {
            "services": [
                {
                    "id": Ref(builder.symbol("backend", m.backend)),
                    "priority": m.priority,
                    "weight": m.weight,
                }
                for m in pool.members
            ]
        }
        builder.apim_child(
            "backend",
            pool.name,
            "service/backends",
            pool.name,
            "backends",
            properties,
            symbol_parts=("pool", pool.name),
        )


def _named_value_dependencies(builder: ArmBuilder, *texts: str) -> list[str]:
    names = sorted({m.strip() for text in texts for m in _NAMED_VALUE_RE.findall(text)})
    return [builder.symbol("named_value", n) for n in names if builder.has("named_value", n)]


def _add_policy(
    builder: ArmBuilder, document: PolicyDocument, parent: str, concern: str, kind: str
) -> None:
    """A policy resource, depending on every backend, fragment, named value and cache it names."""
    backends: set[str] = set()
    fragments: set[str] = set()
    uses_cache = False
    if document.kept is not None:
        named_fragments, named_backends = kept_references(document.kept)
        fragments.update(named_fragments)
        backends.update(named_backends)
        uses_cache = uses_semantic_cache(document.kept)
    for section in document.sections.values():
        for statement in walk_statements(section):
            if isinstance(statement, SetBackendService):
                backends.add(statement.backend_id)
            elif isinstance(statement, SemanticCacheLookup):
                backends.add(statement.embeddings_backend_id)
                uses_cache = True
            elif isinstance(statement, IncludeFragment):
                fragments.add(statement.fragment_id)
    path = document.scope.path
    texts = [builder.policy_texts.get(f"policies/{path}", "")]
    texts += [builder.policy_texts.get(f"policies/fragments/{f}.xml", "") for f in fragments]
    depends = [builder.symbol("backend", b) for b in sorted(backends)]
    depends += [builder.symbol("fragment", f) for f in sorted(fragments)]
    depends += _named_value_dependencies(builder, *texts)
    if uses_cache and builder.has("cache", ""):
        depends.append(builder.symbol("cache", ""))
    scope = document.scope
    scope_name = scope.product or scope.operation or scope.api
    builder.apim_child(
        "policy",
        path,
        f"{builder.type_of(parent).split('/', 1)[1]}/policies",
        "policy",
        concern,
        {"format": "rawxml", "value": PolicyFile(path)},
        parent=parent,
        symbol_parts=("policy", kind, *((scope_name,) if scope_name else ())),
        depends_on=tuple(dict.fromkeys(depends)),
    )


def _document(builder: ArmBuilder, scope: PolicyScope) -> PolicyDocument | None:
    return next((d for d in builder.gateway.policies if d.scope == scope), None)


def add_fragments_and_global_policy(builder: ArmBuilder) -> None:
    for fragment in builder.gateway.fragments:
        properties: dict[str, ArmValue] = {
            # rawxml: fragments carry C# expressions that are not valid XML (iac-mapping §1.5).
            "format": "rawxml",
            "value": PolicyFile(f"fragments/{fragment.name}.xml"),
        }
        if fragment.description:
            properties["description"] = fragment.description
        builder.apim_child(
            "fragment",
            fragment.name,
            "service/policyFragments",
            fragment.name,
            "apis",
            properties,
            depends_on=tuple(_named_value_dependencies(builder, fragment.xml)),
        )
    document = _document(builder, PolicyScope("global"))
    if document is not None:
        _add_policy(builder, document, "apim", "apis", "global")


def add_apis(builder: ArmBuilder) -> None:
    for api in builder.gateway.apis:
        properties: dict[str, ArmValue] = {"displayName": api.display_name}
        if api.description:
            properties["description"] = api.description
        properties.update(
            {
                "path": api.path,
                "protocols": ["https"],
                "type": "http",
                "subscriptionRequired": api.subscription_required,
                "subscriptionKeyParameterNames": {
                    "header": api.subscription_key_header,
                    "query": api.subscription_key_query,
                },
            }
        )
        api_symbol = builder.apim_child(
            "api", api.name, "service/apis", api.name, "apis", properties
        )
        for operation in api.operations:
            operation_symbol = builder.apim_child(
                "operation",
                f"{api.name}/{operation.name}",
                "service/apis/operations",
                operation.name,
                "apis",
                {
                    "displayName": operation.display_name,
                    "method": operation.method,
                    "urlTemplate": operation.url_template,
                    "templateParameters": [
                        {"name": p, "type": "string", "required": True}
                        for p in operation.template_parameters
                    ],
                },
                parent=api_symbol,
                symbol_parts=("operation", api.name, operation.name),
            )
            scope = PolicyScope("operation", api=api.name, operation=operation.name)
            document = _document(builder, scope)
            if document is not None:
                _add_policy(builder, document, operation_symbol, "apis", "operation")
        document = _document(builder, PolicyScope("api", api=api.name))
        if document is not None:
            _add_policy(builder, document, api_symbol, "apis", "api")


def add_products(builder: ArmBuilder) -> None:
    for product in builder.gateway.products:
        properties: dict[str, ArmValue] = {"displayName": product.display_name}
        if product.description:
            properties["description"] = product.description
        properties["subscriptionRequired"] = product.subscription_required
        if product.subscription_required:
            properties["approvalRequired"] = product.approval_required
            if product.subscriptions_limit is not None:
                properties["subscriptionsLimit"] = product.subscriptions_limit
        properties["state"] = "published" if product.published else "notPublished"
        product_symbol = builder.apim_child(
            "product", product.name, "service/products", product.name, "products", properties
        )
        for api_name in product.apis:
            builder.apim_child(
                "product_api",
                f"{product.name}/{api_name}",
                "service/products/apis",
                api_name,
                "products",
                None,
                parent=product_symbol,
                symbol_parts=("product", product.name, "api", api_name),
                depends_on=(builder.symbol("api", api_name),),
            )
        document = _document(builder, PolicyScope("product", product=product.name))
        if document is not None:
            _add_policy(builder, document, product_symbol, "products", "product")
    for user in builder.gateway.users:
        builder.apim_child(
            "user",
            user.name,
            "service/users",
            user.name,
            "products",
            {
                "email": user.email,
                "firstName": user.first_name,
                "lastName": user.last_name,
                "state": "active",
            },
        )
    for subscription in builder.gateway.subscriptions:
        scope: ArmValue = "/apis"
        if subscription.scope != "all_apis":
            assert subscription.scope_name is not None
            scope = Ref(builder.symbol(subscription.scope, subscription.scope_name))
        properties = {"displayName": subscription.display_name, "scope": scope}
        if subscription.owner:
            properties["ownerId"] = Ref(builder.symbol("user", subscription.owner))
        # The API's default state is `submitted`, which cannot be used; be explicit.
        properties["state"] = subscription.state
        properties["allowTracing"] = subscription.allow_tracing
        builder.apim_child(
            "subscription",
            subscription.name,
            "service/subscriptions",
            subscription.name,
            "products",
            properties,
        )
