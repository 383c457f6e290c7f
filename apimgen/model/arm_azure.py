"""The Azure resources around API Management: monitoring, Azure OpenAI accounts and their
deployments, the gateway's role on each account, and the Redis cache behind semantic caching."""

from __future__ import annotations

from dataclasses import replace

from apimgen.model.arm import ArmResource, ArmValue, Concat, Param, Ref, RoleDefinition
from apimgen.model.arm_builder import ArmBuilder

__all__ = [
    "COGNITIVE_SERVICES_OPENAI_USER",
    "add_monitoring",
    "add_openai",
    "add_openai_access",
    "add_semantic_cache",
]

COGNITIVE_API_VERSION = "2025-06-01"
INSIGHTS_API_VERSION = "2020-02-02"
WORKSPACE_API_VERSION = "2025-07-01"
REDIS_API_VERSION = "2025-07-01"
ROLE_API_VERSION = "2022-04-01"
COGNITIVE_SERVICES_OPENAI_USER = RoleDefinition(
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", "Cognitive Services OpenAI User"
)

# Static-analysis findings an AI gateway in front of public model endpoints accepts by design.
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


def add_monitoring(builder: ArmBuilder) -> None:
    """Log Analytics and Application Insights (created, or an existing component)."""
    insights = builder.gateway.app_insights
    if insights is None:
        return
    if insights.existing_id:
        parts = insights.existing_id.strip("/").split("/")
        builder.add(
            "insights",
            "",
            ArmResource(
                symbol=builder.make_symbol("app_insights"),
                type="Microsoft.Insights/components",
                api_version=INSIGHTS_API_VERSION,
                name=parts[-1],
                concern="observability",
                existing=True,
                existing_resource_group=parts[3],
            ),
        )
        return
    properties: dict[str, ArmValue] = {"Application_Type": "web"}
    if insights.log_analytics_name:
        workspace = builder.add(
            "law",
            "",
            ArmResource(
                symbol=builder.make_symbol("law"),
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
        properties["WorkspaceResourceId"] = Ref(workspace)
    # emit-token-metric dimensions are dropped unless custom metrics keep dimensions; the
    # property is missing from the published schema (iac-mapping.md §1.10).
    properties["CustomMetricsOptedInType"] = "WithDimensions"
    builder.add(
        "insights",
        "",
        ArmResource(
            symbol=builder.make_symbol("app_insights"),
            type="Microsoft.Insights/components",
            api_version=INSIGHTS_API_VERSION,
            name=insights.name,
            concern="observability",
            body={"location": Param("location"), "kind": "web", "properties": properties},
        ),
    )


def add_openai(builder: ArmBuilder) -> None:
    """Accounts (keys off unless a backend needs one) and their deployments, one at a time."""
    gateway = builder.gateway
    api_key_accounts = {b.account for b in gateway.backends if b.auth == "api_key"}
    for account in gateway.openai_accounts:
        reference = ArmResource(
            symbol=builder.make_symbol("openai", account.name),
            type="Microsoft.CognitiveServices/accounts",
            api_version=COGNITIVE_API_VERSION,
            name=account.name,
            concern="openai",
            existing=True,
        )
        if account.existing:
            other_group = account.resource_group != gateway.service.resource_group
            builder.add(
                "account",
                account.name,
                replace(
                    reference,
                    existing_resource_group=account.resource_group if other_group else None,
                ),
            )
            continue
        symbol = builder.add(
            "account",
            account.name,
            replace(
                reference,
                existing=False,
                body={
                    "location": account.location,
                    "kind": "OpenAI",
                    "sku": {"name": "S0"},
                    "identity": {"type": "SystemAssigned"},
                    "properties": {
                        "customSubDomainName": account.subdomain,
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
        previous: tuple[str, ...] = ()
        for deployment in account.deployments:
            deployment_symbol = builder.add(
                "deployment",
                f"{account.name}/{deployment.name}",
                ArmResource(
                    symbol=builder.make_symbol("deployment", account.name, deployment.name),
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
                    depends_on=previous,
                    serial_group=symbol,
                ),
            )
            previous = (deployment_symbol,)


def add_openai_access(builder: ArmBuilder) -> None:
    """The gateway's identity may call each account's models; nothing else is granted."""
    for account in builder.gateway.openai_accounts:
        if not account.grant_gateway_access:
            continue
        builder.add(
            "role",
            account.name,
            ArmResource(
                symbol=builder.make_symbol("openai_user", account.name),
                type="Microsoft.Authorization/roleAssignments",
                api_version=ROLE_API_VERSION,
                name=Param("guid"),  # rendered as guid(scope id, apim id, role id)
                concern="apim",
                scope=builder.symbol("account", account.name),
                body={
                    "properties": {
                        "roleDefinitionId": COGNITIVE_SERVICES_OPENAI_USER,
                        "principalId": Ref("apim", "principal_id"),
                        "principalType": "ServicePrincipal",
                    }
                },
            ),
        )


def add_semantic_cache(builder: ArmBuilder) -> None:
    """Azure Managed Redis with RediSearch (or an existing cache) as APIM's external cache."""
    cache = builder.gateway.external_cache
    if cache is None:
        return
    properties: dict[str, ArmValue]
    depends: tuple[str, ...] = ()
    if cache.existing:
        assert cache.connection_secret is not None  # enforced by the spec model
        depends = (
            builder.apim_child(
                "named_value",
                "semantic-cache-connection",
                "service/namedValues",
                "semantic-cache-connection",
                "semantic_cache",
                {
                    "displayName": "semantic-cache-connection",
                    "secret": True,
                    "keyVault": {"secretIdentifier": cache.connection_secret},
                },
            ),
        )
        properties = {
            "connectionString": "{{semantic-cache-connection}}",
            "useFromLocation": "default",
        }
    else:
        redis = builder.add(
            "redis",
            "",
            ArmResource(
                symbol=builder.make_symbol("redis"),
                type="Microsoft.Cache/redisEnterprise",
                api_version=REDIS_API_VERSION,
                name=cache.name,
                concern="semantic_cache",
                body={
                    "location": Param("location"),
                    "sku": {"name": cache.sku},
                    "properties": {"minimumTlsVersion": "1.2", "publicNetworkAccess": "Enabled"},
                },
            ),
        )
        database = builder.add(
            "redis_db",
            "",
            ArmResource(
                symbol=builder.make_symbol("redis_database"),
                type="Microsoft.Cache/redisEnterprise/databases",
                api_version=REDIS_API_VERSION,
                name="default",
                concern="semantic_cache",
                parent=redis,
                body={
                    "properties": {
                        "clientProtocol": "Encrypted",
                        "port": 10000,
                        # RediSearch needs this clustering and eviction policy and can only be
                        # enabled at creation (iac-mapping §1.17).
                        "clusteringPolicy": "EnterpriseCluster",
                        "evictionPolicy": "NoEviction",
                        "modules": [{"name": "RediSearch"}],
                        # APIM connects with access keys; Entra auth is not supported.
                        "accessKeysAuthentication": "Enabled",
                    }
                },
            ),
        )
        properties = {
            # Assembled at deployment time: the key never appears in a file.
            "connectionString": Concat(
                (
                    Ref(redis, "redis_host"),
                    ":10000,password=",
                    Ref(database, "redis_primary_key"),
                    ",ssl=True,abortConnect=False",
                )
            ),
            "useFromLocation": "default",
            "resourceId": Ref(redis),
        }
    builder.apim_child(
        "cache",
        "",
        "service/caches",
        "default",
        "semantic_cache",
        properties,
        symbol_parts=("apim_cache",),
        depends_on=depends,
    )
