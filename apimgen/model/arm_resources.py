"""Gateway → the ARM resources that deploy it, in dependency order, with explicit dependencies
where ARM cannot infer them (iac-mapping.md §2): named values before whatever says ``{{name}}``,
single backends before pools, backends and fragments before the policies that name them,
the logger before its diagnostic, deployments one at a time per account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from apimgen.model.arm import (
    ArmResource,
    ArmValue,
    Concat,
    Param,
    PolicyFile,
    Ref,
    RoleDefinition,
    iso_duration,
)
from apimgen.model.gateway import (
    BackendResource,
    Gateway,
    PolicyDocument,
    PolicyScope,
)
from apimgen.model.statements import (
    IncludeFragment,
    Retry,
    SemanticCacheLookup,
    SetBackendService,
    Statement,
)

__all__ = [
    "APIM_API_VERSION",
    "COGNITIVE_SERVICES_OPENAI_USER",
    "CONCERNS",
    "arm_resources",
]

APIM_API_VERSION = "2024-05-01"
APIM_PREVIEW_API_VERSION = "2025-03-01-preview"  # first with the PremiumV2 tier
COGNITIVE_API_VERSION = "2025-06-01"
INSIGHTS_API_VERSION = "2020-02-02"
WORKSPACE_API_VERSION = "2025-07-01"
REDIS_API_VERSION = "2025-07-01"
ROLE_API_VERSION = "2022-04-01"
# Findings of static analysers that a public AI gateway accepts by design.
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
PUBLIC_OPENAI_FINDINGS = (
    (
        "CKV_AZURE_134",
        "the gateway reaches the account over its public endpoint; only Entra ID tokens are "
        "accepted (local auth disabled) and private endpoints are not modelled by the spec",
    ),
    (
        "CKV_AZURE_247",
        "outbound access is restricted with an empty allow-list, stricter than the check, "
        "which expects at least one allowed FQDN",
    ),
    (
        "CKV2_AZURE_22",
        "encryption uses Microsoft-managed keys; customer-managed keys need a Key Vault key "
        "the spec does not model",
    ),
)
COGNITIVE_SERVICES_OPENAI_USER = RoleDefinition(
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", "Cognitive Services OpenAI User"
)

# Module (Bicep) / file (Terraform) per concern, in deployment order.
CONCERNS: tuple[str, ...] = (
    "observability",
    "openai",
    "apim",
    "backends",
    "semantic_cache",
    "apis",
    "products",
)

_NAMED_VALUE_RE = re.compile(r"\{\{([^{}]+)\}\}")


class _Symbols:
    """Bicep/Terraform identifiers: readable, unique, derived from kind and name."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, *parts: str) -> str:
        base = "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_") for p in parts if p)
        base = base.lower() or "resource"
        symbol, counter = base, 2
        while symbol in self.used:
            symbol, counter = f"{base}_{counter}", counter + 1
        self.used.add(symbol)
        return symbol


def _walk(statements: Iterable[Statement]) -> Iterable[Statement]:
    for statement in statements:
        yield statement
        if isinstance(statement, Retry):
            yield from _walk(statement.body)


def _policy_references(document: PolicyDocument) -> tuple[set[str], set[str], bool]:
    """Backend ids, fragment ids, and whether the semantic cache is used, in one document."""
    backends: set[str] = set()
    fragments: set[str] = set()
    cache = False
    for section in document.sections.values():
        for statement in _walk(section):
            if isinstance(statement, SetBackendService):
                backends.add(statement.backend_id)
            elif isinstance(statement, SemanticCacheLookup):
                backends.add(statement.embeddings_backend_id)
                cache = True
            elif isinstance(statement, IncludeFragment):
                fragments.add(statement.fragment_id)
    return backends, fragments, cache


class _Builder:
    def __init__(self, gateway: Gateway, policy_texts: Mapping[str, str]) -> None:
        self.gateway = gateway
        self.policy_texts = policy_texts
        self.symbols = _Symbols()
        self.resources: list[ArmResource] = []
        self.by_kind: dict[tuple[str, str], str] = {}

    def add(self, kind: str, key: str, resource: ArmResource) -> str:
        self.resources.append(resource)
        self.by_kind[(kind, key)] = resource.symbol
        return resource.symbol

    def symbol(self, kind: str, key: str) -> str:
        return self.by_kind[(kind, key)]

    # -- observability -------------------------------------------------------------------
    def observability(self) -> None:
        insights = self.gateway.app_insights
        if insights is None:
            return
        workspace_symbol = None
        if insights.log_analytics_name and not insights.existing_id:
            workspace_symbol = self.add(
                "law",
                insights.log_analytics_name,
                ArmResource(
                    symbol=self.symbols.make("law"),
                    type="Microsoft.OperationalInsights/workspaces",
                    api_version=WORKSPACE_API_VERSION,
                    name=insights.log_analytics_name,
                    concern="observability",
                    body={
                        "location": Param("location"),
                        "properties": {
                            "sku": {"name": "PerGB2018"},
                            "retentionInDays": insights.log_analytics_retention_days,
                        },
                    },
                ),
            )
        if insights.existing_id:
            parts = insights.existing_id.strip("/").split("/")
            self.add(
                "insights",
                "",
                ArmResource(
                    symbol=self.symbols.make("app_insights"),
                    type="Microsoft.Insights/components",
                    api_version=INSIGHTS_API_VERSION,
                    name=parts[-1],
                    concern="observability",
                    existing=True,
                    existing_resource_group=parts[3],
                ),
            )
        else:
            properties: dict[str, ArmValue] = {"Application_Type": "web"}
            if workspace_symbol:
                properties["WorkspaceResourceId"] = Ref(workspace_symbol)
            # emit-token-metric dimensions are dropped unless custom metrics keep dimensions;
            # the property is missing from the published schema (iac-mapping.md §1.10).
            properties["CustomMetricsOptedInType"] = "WithDimensions"
            self.add(
                "insights",
                "",
                ArmResource(
                    symbol=self.symbols.make("app_insights"),
                    type="Microsoft.Insights/components",
                    api_version=INSIGHTS_API_VERSION,
                    name=insights.name,
                    concern="observability",
                    body={"location": Param("location"), "kind": "web", "properties": properties},
                ),
            )

    def apim_observability(self) -> None:
        insights = self.gateway.app_insights
        if insights is None:
            return
        app_insights = self.symbol("insights", "")
        logger = self.add(
            "logger",
            "",
            ArmResource(
                symbol=self.symbols.make("logger_app_insights"),
                type="Microsoft.ApiManagement/service/loggers",
                api_version=APIM_API_VERSION,
                name="appinsights",
                concern="observability",
                parent="apim",
                body={
                    "properties": {
                        "loggerType": "applicationInsights",
                        "resourceId": Ref(app_insights),
                        "credentials": {
                            "instrumentationKey": Ref(app_insights, "instrumentation_key")
                        },
                    }
                },
            ),
        )
        self.add(
            "diagnostic",
            "",
            ArmResource(
                symbol=self.symbols.make("diagnostic_app_insights"),
                type="Microsoft.ApiManagement/service/diagnostics",
                api_version=APIM_API_VERSION,
                name="applicationinsights",
                concern="observability",
                parent="apim",
                body={
                    "properties": {
                        "loggerId": Ref(logger),
                        "alwaysLog": "allErrors",
                        "verbosity": "information",
                        "logClientIp": insights.log_client_ip,
                        "httpCorrelationProtocol": "W3C",
                        # Without metrics the emit-token-metric policies are silently ignored.
                        "metrics": insights.metrics,
                        "sampling": {
                            "samplingType": "fixed",
                            "percentage": insights.sampling_percentage,
                        },
                    }
                },
            ),
        )

    # -- openai ----------------------------------------------------------------------------
    def openai(self) -> None:
        api_key_accounts = {b.account for b in self.gateway.backends if b.auth == "api_key"}
        for account in self.gateway.openai_accounts:
            symbol = self.symbols.make("openai", account.name)
            if account.existing:
                self.add(
                    "account",
                    account.name,
                    ArmResource(
                        symbol=symbol,
                        type="Microsoft.CognitiveServices/accounts",
                        api_version=COGNITIVE_API_VERSION,
                        name=account.name,
                        concern="openai",
                        existing=True,
                        existing_resource_group=account.resource_group
                        if account.resource_group != self.gateway.service.resource_group
                        else None,
                    ),
                )
                continue
            self.add(
                "account",
                account.name,
                ArmResource(
                    symbol=symbol,
                    type="Microsoft.CognitiveServices/accounts",
                    api_version=COGNITIVE_API_VERSION,
                    name=account.name,
                    concern="openai",
                    body={
                        "location": account.location,
                        "kind": "OpenAI",
                        "sku": {"name": "S0"},
                        "identity": {"type": "SystemAssigned"},
                        "properties": {
                            "customSubDomainName": account.subdomain,
                            # Keys stay switched off unless a backend asked for key auth.
                            "disableLocalAuth": account.name not in api_key_accounts,
                            "publicNetworkAccess": "Enabled",
                            # A model endpoint behind a gateway calls out to nothing.
                            "restrictOutboundNetworkAccess": True,
                            "allowedFqdnList": [],
                        },
                    },
                    accepted_findings=PUBLIC_OPENAI_FINDINGS,
                ),
            )
            previous: str | None = None
            for deployment in account.deployments:
                deployment_symbol = self.symbols.make("deployment", account.name, deployment.name)
                self.add(
                    "deployment",
                    f"{account.name}/{deployment.name}",
                    ArmResource(
                        symbol=deployment_symbol,
                        type="Microsoft.CognitiveServices/accounts/deployments",
                        api_version=COGNITIVE_API_VERSION,
                        name=deployment.name,
                        concern="openai",
                        parent=symbol,
                        body={
                            "sku": {"name": deployment.sku, "capacity": deployment.capacity},
                            "properties": {
                                "model": {
                                    "format": "OpenAI",
                                    "name": deployment.model,
                                    "version": deployment.version,
                                },
                                "versionUpgradeOption": "OnceNewDefaultVersionAvailable",
                            },
                        },
                        # An account accepts one deployment change at a time.
                        depends_on=(previous,) if previous else (),
                        serial_group=symbol,
                    ),
                )
                previous = deployment_symbol

    def openai_access(self) -> None:
        """The gateway's identity may call each account's models; nothing else is granted."""
        for account in self.gateway.openai_accounts:
            if not account.grant_gateway_access:
                continue
            account_symbol = self.symbol("account", account.name)
            self.add(
                "role",
                account.name,
                ArmResource(
                    symbol=self.symbols.make("openai_user", account.name),
                    type="Microsoft.Authorization/roleAssignments",
                    api_version=ROLE_API_VERSION,
                    name=Param("guid"),  # rendered as guid(scope id, apim id, role id)
                    concern="apim",
                    scope=account_symbol,
                    body={
                        "properties": {
                            "roleDefinitionId": COGNITIVE_SERVICES_OPENAI_USER,
                            "principalId": Ref("apim", "principal_id"),
                            "principalType": "ServicePrincipal",
                        }
                    },
                ),
            )

    # -- apim --------------------------------------------------------------------------------
    def service(self) -> None:
        service = self.gateway.service
        identity: dict[str, ArmValue]
        if service.identity == "user_assigned":
            assert service.user_assigned_identity_id is not None
            identity = {
                "type": "UserAssigned",
                "userAssignedIdentities": {service.user_assigned_identity_id: {}},
            }
        else:
            identity = {"type": "SystemAssigned"}
        properties: dict[str, ArmValue] = {
            "publisherEmail": Param("publisherEmail"),
            "publisherName": Param("publisherName"),
        }
        if service.additional_regions:
            properties["additionalLocations"] = [
                {"location": location, "sku": {"name": Param("apimSku"), "capacity": capacity}}
                for location, capacity in service.additional_regions
            ]
        self.by_kind[("apim", "")] = "apim"
        self.symbols.used.add("apim")
        self.resources.append(
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
                body={}
                if service.existing
                else {
                    "location": Param("location"),
                    "sku": {"name": Param("apimSku"), "capacity": Param("apimCapacity")},
                    "identity": identity,
                    "properties": properties,
                },
            )
        )

    def named_values(self) -> None:
        client_id = self.gateway.service.user_assigned_client_id
        for named_value in self.gateway.named_values:
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
            self.add(
                "named_value",
                named_value.name,
                ArmResource(
                    symbol=self.symbols.make("named_value", named_value.name),
                    type="Microsoft.ApiManagement/service/namedValues",
                    api_version=APIM_API_VERSION,
                    name=named_value.name,
                    concern="backends",
                    parent="apim",
                    body={"properties": properties},
                ),
            )

    def _named_value_deps(self, *texts: str) -> tuple[str, ...]:
        names = {m.strip() for text in texts for m in _NAMED_VALUE_RE.findall(text)}
        return tuple(
            self.by_kind[("named_value", n)]
            for n in sorted(names)
            if ("named_value", n) in self.by_kind
        )

    def _backend_body(self, backend: BackendResource) -> dict[str, ArmValue]:
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
        return {"properties": properties}

    def backends(self) -> None:
        for backend in self.gateway.backends:
            depends: tuple[str, ...] = ()
            if backend.credential_header:
                depends = (self.symbol("named_value", backend.credential_header[1]),)
            self.add(
                "backend",
                backend.name,
                ArmResource(
                    symbol=self.symbols.make("backend", backend.name),
                    type="Microsoft.ApiManagement/service/backends",
                    api_version=APIM_API_VERSION,
                    name=backend.name,
                    concern="backends",
                    parent="apim",
                    body=self._backend_body(backend),
                    depends_on=depends,
                ),
            )
        for pool in self.gateway.pools:
            properties: dict[str, ArmValue] = {"type": "Pool"}
            if pool.description:
                properties["description"] = pool.description
            # Pools take no url/protocol: the resource provider rejects them (iac-mapping §1.8).
            properties["pool"] = {
                "services": [
                    {
                        "id": Ref(self.symbol("backend", m.backend)),
                        "priority": m.priority,
                        "weight": m.weight,
                    }
                    for m in pool.members
                ]
            }
            self.add(
                "backend",
                pool.name,
                ArmResource(
                    symbol=self.symbols.make("pool", pool.name),
                    type="Microsoft.ApiManagement/service/backends",
                    api_version=APIM_API_VERSION,
                    name=pool.name,
                    concern="backends",
                    parent="apim",
                    body={"properties": properties},
                ),
            )

    # -- semantic cache ------------------------------------------------------------------------
    def semantic_cache(self) -> None:
        cache = self.gateway.external_cache
        if cache is None:
            return
        if cache.existing:
            assert cache.connection_secret is not None  # enforced by the spec checks
            connection: ArmValue = "{{semantic-cache-connection}}"
            nv_symbol = self.add(
                "named_value",
                "semantic-cache-connection",
                ArmResource(
                    symbol=self.symbols.make("named_value", "semantic-cache-connection"),
                    type="Microsoft.ApiManagement/service/namedValues",
                    api_version=APIM_API_VERSION,
                    name="semantic-cache-connection",
                    concern="semantic_cache",
                    parent="apim",
                    body={
                        "properties": {
                            "displayName": "semantic-cache-connection",
                            "secret": True,
                            "keyVault": {"secretIdentifier": cache.connection_secret},
                        }
                    },
                ),
            )
            depends: tuple[str, ...] = (nv_symbol,)
            resource_id: ArmValue = None
        else:
            redis = self.add(
                "redis",
                "",
                ArmResource(
                    symbol=self.symbols.make("redis"),
                    type="Microsoft.Cache/redisEnterprise",
                    api_version=REDIS_API_VERSION,
                    name=cache.name,
                    concern="semantic_cache",
                    body={
                        "location": Param("location"),
                        "sku": {"name": cache.sku},
                        "properties": {
                            "minimumTlsVersion": "1.2",
                            "publicNetworkAccess": "Enabled",
                        },
                    },
                ),
            )
            database = self.add(
                "redis_db",
                "",
                ArmResource(
                    symbol=self.symbols.make("redis_database"),
                    type="Microsoft.Cache/redisEnterprise/databases",
                    api_version=REDIS_API_VERSION,
                    name="default",
                    concern="semantic_cache",
                    parent=redis,
                    body={
                        "properties": {
                            "clientProtocol": "Encrypted",
                            "port": 10000,
                            # RediSearch needs this clustering and eviction policy and can only
                            # be enabled at creation (iac-mapping §1.17).
                            "clusteringPolicy": "EnterpriseCluster",
                            "evictionPolicy": "NoEviction",
                            "modules": [{"name": "RediSearch"}],
                            # APIM connects with access keys; Entra auth is not supported.
                            "accessKeysAuthentication": "Enabled",
                        }
                    },
                ),
            )
            connection = Concat(
                (
                    Ref(redis, "redis_host"),
                    ":10000,password=",
                    Ref(database, "redis_primary_key"),
                    ",ssl=True,abortConnect=False",
                )
            )
            depends = ()
            resource_id = Ref(redis)
        properties: dict[str, ArmValue] = {
            "connectionString": connection,
            "useFromLocation": "default",
        }
        if resource_id is not None:
            properties["resourceId"] = resource_id
        self.add(
            "cache",
            "",
            ArmResource(
                symbol=self.symbols.make("apim_cache"),
                type="Microsoft.ApiManagement/service/caches",
                api_version=APIM_API_VERSION,
                name="default",
                concern="semantic_cache",
                parent="apim",
                body={"properties": properties},
                depends_on=depends,
            ),
        )

    # -- policies, apis, products ----------------------------------------------------------
    def _policy(
        self, document: PolicyDocument, parent: str, concern: str, kind: str
    ) -> ArmResource:
        backends, fragments, cache = _policy_references(document)
        path = document.scope.path
        text = self.policy_texts.get(f"policies/{path}", "")
        fragment_texts = [
            self.policy_texts.get(f"policies/fragments/{f}.xml", "") for f in sorted(fragments)
        ]
        depends = [self.symbol("backend", b) for b in sorted(backends)]
        depends += [self.symbol("fragment", f) for f in sorted(fragments)]
        depends += self._named_value_deps(text, *fragment_texts)
        if cache and ("cache", "") in self.by_kind:
            depends.append(self.symbol("cache", ""))
        scope_name = document.scope.product or document.scope.operation or document.scope.api
        return ArmResource(
            symbol=self.symbols.make("policy", kind, *(scope_name,) if scope_name else ()),
            type=f"{self.resources_type(parent)}/policies",
            api_version=APIM_API_VERSION,
            name="policy",
            concern=concern,
            parent=parent,
            body={"properties": {"format": "rawxml", "value": PolicyFile(path)}},
            depends_on=tuple(dict.fromkeys(depends)),
        )

    def resources_type(self, symbol: str) -> str:
        return next(r.type for r in self.resources if r.symbol == symbol)

    def fragments_and_global_policy(self) -> None:
        for fragment in self.gateway.fragments:
            properties: dict[str, ArmValue] = {
                "format": "rawxml",
                "value": PolicyFile(f"fragments/{fragment.name}.xml"),
            }
            if fragment.description:
                properties["description"] = fragment.description
            self.add(
                "fragment",
                fragment.name,
                ArmResource(
                    symbol=self.symbols.make("fragment", fragment.name),
                    type="Microsoft.ApiManagement/service/policyFragments",
                    api_version=APIM_API_VERSION,
                    name=fragment.name,
                    concern="apis",
                    parent="apim",
                    body={"properties": properties},
                    depends_on=self._named_value_deps(fragment.xml),
                ),
            )
        document = self._document(PolicyScope("global"))
        if document is not None:
            self.resources.append(self._policy(document, "apim", "apis", "global"))

    def _document(self, scope: PolicyScope) -> PolicyDocument | None:
        return next((d for d in self.gateway.policies if d.scope == scope), None)

    def apis(self) -> None:
        for api in self.gateway.apis:
            api_symbol = self.add(
                "api",
                api.name,
                ArmResource(
                    symbol=self.symbols.make("api", api.name),
                    type="Microsoft.ApiManagement/service/apis",
                    api_version=APIM_API_VERSION,
                    name=api.name,
                    concern="apis",
                    parent="apim",
                    body={
                        "properties": {
                            "displayName": api.display_name,
                            **({"description": api.description} if api.description else {}),
                            "path": api.path,
                            "protocols": ["https"],
                            "type": "http",
                            "subscriptionRequired": api.subscription_required,
                            "subscriptionKeyParameterNames": {
                                "header": api.subscription_key_header,
                                "query": api.subscription_key_query,
                            },
                        }
                    },
                ),
            )
            for operation in api.operations:
                operation_symbol = self.add(
                    "operation",
                    f"{api.name}/{operation.name}",
                    ArmResource(
                        symbol=self.symbols.make("operation", api.name, operation.name),
                        type="Microsoft.ApiManagement/service/apis/operations",
                        api_version=APIM_API_VERSION,
                        name=operation.name,
                        concern="apis",
                        parent=api_symbol,
                        body={
                            "properties": {
                                "displayName": operation.display_name,
                                "method": operation.method,
                                "urlTemplate": operation.url_template,
                                "templateParameters": [
                                    {"name": p, "type": "string", "required": True}
                                    for p in operation.template_parameters
                                ],
                            }
                        },
                    ),
                )
                document = self._document(
                    PolicyScope("operation", api=api.name, operation=operation.name)
                )
                if document is not None:
                    self.resources.append(
                        self._policy(document, operation_symbol, "apis", "operation")
                    )
            document = self._document(PolicyScope("api", api=api.name))
            if document is not None:
                self.resources.append(self._policy(document, api_symbol, "apis", "api"))

    def products(self) -> None:
        for product in self.gateway.products:
            properties: dict[str, ArmValue] = {"displayName": product.display_name}
            if product.description:
                properties["description"] = product.description
            properties["subscriptionRequired"] = product.subscription_required
            if product.subscription_required:
                properties["approvalRequired"] = product.approval_required
                if product.subscriptions_limit is not None:
                    properties["subscriptionsLimit"] = product.subscriptions_limit
            properties["state"] = "published" if product.published else "notPublished"
            product_symbol = self.add(
                "product",
                product.name,
                ArmResource(
                    symbol=self.symbols.make("product", product.name),
                    type="Microsoft.ApiManagement/service/products",
                    api_version=APIM_API_VERSION,
                    name=product.name,
                    concern="products",
                    parent="apim",
                    body={"properties": properties},
                ),
            )
            for api_name in product.apis:
                self.add(
                    "product_api",
                    f"{product.name}/{api_name}",
                    ArmResource(
                        symbol=self.symbols.make("product", product.name, "api", api_name),
                        type="Microsoft.ApiManagement/service/products/apis",
                        api_version=APIM_API_VERSION,
                        name=api_name,
                        concern="products",
                        parent=product_symbol,
                        depends_on=(self.symbol("api", api_name),),
                    ),
                )
            document = self._document(PolicyScope("product", product=product.name))
            if document is not None:
                self.resources.append(self._policy(document, product_symbol, "products", "product"))
        for user in self.gateway.users:
            self.add(
                "user",
                user.name,
                ArmResource(
                    symbol=self.symbols.make("user", user.name),
                    type="Microsoft.ApiManagement/service/users",
                    api_version=APIM_API_VERSION,
                    name=user.name,
                    concern="products",
                    parent="apim",
                    body={
                        "properties": {
                            "email": user.email,
                            "firstName": user.first_name,
                            "lastName": user.last_name,
                            "state": "active",
                        }
                    },
                ),
            )
        for subscription in self.gateway.subscriptions:
            scope: ArmValue
            if subscription.scope == "product":
                assert subscription.scope_name is not None
                scope = Ref(self.symbol("product", subscription.scope_name))
            elif subscription.scope == "api":
                assert subscription.scope_name is not None
                scope = Ref(self.symbol("api", subscription.scope_name))
            else:
                scope = "/apis"
            properties = {"displayName": subscription.display_name, "scope": scope}
            if subscription.owner:
                properties["ownerId"] = Ref(self.symbol("user", subscription.owner))
            # The API default is `submitted`, which is not usable; be explicit.
            properties["state"] = subscription.state
            properties["allowTracing"] = subscription.allow_tracing
            self.add(
                "subscription",
                subscription.name,
                ArmResource(
                    symbol=self.symbols.make("subscription", subscription.name),
                    type="Microsoft.ApiManagement/service/subscriptions",
                    api_version=APIM_API_VERSION,
                    name=subscription.name,
                    concern="products",
                    parent="apim",
                    body={"properties": properties},
                ),
            )


def arm_resources(gateway: Gateway, policy_texts: Mapping[str, str]) -> tuple[ArmResource, ...]:
    """Every resource of the gateway, dependencies before dependants.

    ``policy_texts`` are the rendered policy files (path → XML); named values used in them
    become explicit dependencies of the policies.
    """
    builder = _Builder(gateway, policy_texts)
    builder.observability()
    builder.openai()
    builder.service()
    builder.openai_access()
    builder.apim_observability()
    builder.named_values()
    builder.backends()
    builder.semantic_cache()
    builder.fragments_and_global_policy()
    builder.apis()
    builder.products()
    return tuple(builder.resources)
