"""One function per azurerm resource type: ARM body in, Terraform block arguments out.

Each maps ARM property names to the provider's argument names for one type; the tests check
every argument against the provider schema and compare the result with the Bicep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apimgen.model.arm import ArmResource, Ref
from apimgen.render.hcl import Block, Expr
from apimgen.render.terraform_translate import Translator

__all__ = ["HANDLERS", "add_apim_azapi", "add_app_insights", "resource_group_name"]


def _props(resource: ArmResource) -> dict[str, Any]:
    props = resource.body.get("properties", {})
    assert isinstance(props, dict)
    return props


def resource_group_name() -> Expr:
    return Expr("data.azurerm_resource_group.this.name")


Handler = Callable[[ArmResource, Translator, Block], None]


def _service(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    b.attr("location", t.value(r.body["location"]))
    b.attr("resource_group_name", resource_group_name())
    b.attr("publisher_name", t.value(props["publisherName"]))
    b.attr("publisher_email", t.value(props["publisherEmail"]))
    b.attr("sku_name", Expr('"${var.apim_sku}_${var.apim_capacity}"'))
    identity = r.body["identity"]
    assert isinstance(identity, dict)
    block = b.block(Block("identity"))
    if identity["type"] == "UserAssigned":
        block.attr("type", "UserAssigned")
        assigned = identity["userAssignedIdentities"]
        assert isinstance(assigned, dict)
        block.attr("identity_ids", list(assigned))
    else:
        block.attr("type", "SystemAssigned")
    for location in props.get("additionalLocations", []):
        extra = b.block(Block("additional_location"))
        extra.attr("location", location["location"])
        extra.attr("capacity", location["sku"]["capacity"])


def _account(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    b.attr("location", t.value(r.body["location"]))
    b.attr("resource_group_name", resource_group_name())
    b.attr("kind", t.value(r.body["kind"]))
    sku = r.body["sku"]
    assert isinstance(sku, dict)
    b.attr("sku_name", t.value(sku["name"]))
    b.attr("custom_subdomain_name", props["customSubDomainName"])
    b.attr("local_auth_enabled", not props["disableLocalAuth"])
    b.attr("public_network_access_enabled", props["publicNetworkAccess"] == "Enabled")
    b.attr("outbound_network_access_restricted", props["restrictOutboundNetworkAccess"])
    b.attr("fqdns", props["allowedFqdnList"])
    identity = r.body["identity"]
    assert isinstance(identity, dict)
    b.block(Block("identity")).attr("type", t.value(identity["type"]))


def _deployment(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    assert r.parent is not None
    b.attr("name", t.value(r.name))
    b.attr("cognitive_account_id", Expr(f"{t.address(r.parent)}.id"))
    model = b.block(Block("model"))
    for key in ("format", "name", "version"):
        model.attr(key, props["model"][key])
    sku = r.body["sku"]
    assert isinstance(sku, dict)
    b.block(Block("sku")).attr("name", t.value(sku["name"])).attr(
        "capacity", t.value(sku["capacity"])
    )
    b.attr("version_upgrade_option", props["versionUpgradeOption"])


def _role(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    assert r.scope is not None
    b.attr("scope", Expr(f"{t.address(r.scope)}.id"))
    b.attr("role_definition_name", t.value(props["roleDefinitionId"]))
    b.attr("principal_id", t.value(props["principalId"]))
    b.attr("principal_type", props["principalType"])


def _workspace(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    b.attr("location", t.value(r.body["location"]))
    b.attr("resource_group_name", resource_group_name())
    b.attr("sku", props["sku"]["name"])
    b.attr("retention_in_days", props["retentionInDays"])


def _azapi(r: ArmResource, t: Translator, b: Block, parent_id: Expr) -> None:
    b.attr("type", f"{r.type}@{r.api_version}")
    b.attr("name", t.value(r.name))
    b.attr("parent_id", parent_id)
    location = r.body.get("location")
    if location is not None:
        b.attr("location", t.value(location))
    b.attr("body", t.value({k: v for k, v in r.body.items() if k != "location"}))


def add_app_insights(r: ArmResource, t: Translator, b: Block) -> None:
    _azapi(r, t, b, Expr("data.azurerm_resource_group.this.id"))
    b.attr("schema_validation_enabled", False)
    b.attr("response_export_values", ["properties.InstrumentationKey"])


def add_apim_azapi(r: ArmResource, t: Translator, b: Block) -> None:
    _azapi(r, t, b, Expr(f"{t.address('apim')}.id"))


def _logger(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    t.apim_child(b, r)
    b.attr("resource_id", t.value(props["resourceId"]))
    insights = b.block(Block("application_insights"))
    insights.attr("instrumentation_key", t.value(props["credentials"]["instrumentationKey"]))


def _named_value(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    t.apim_child(b, r)
    b.attr("display_name", props["displayName"])
    b.attr("secret", props["secret"])
    if "keyVault" in props:
        vault = b.block(Block("value_from_key_vault"))
        vault.attr("secret_id", props["keyVault"]["secretIdentifier"])
        vault.attr("identity_client_id", props["keyVault"].get("identityClientId"))
    else:
        b.attr("value", props["value"])


def _backend(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    t.apim_child(b, r)
    b.attr("protocol", props["protocol"])
    b.attr("url", props["url"])
    b.attr("description", props.get("description"))
    tls = props["tls"]
    b.block(Block("tls")).attr("validate_certificate_chain", tls["validateCertificateChain"]).attr(
        "validate_certificate_name", tls["validateCertificateName"]
    )
    if "credentials" in props:
        headers = props["credentials"]["header"]
        b.block(Block("credentials")).attr(
            "header", {name: ",".join(values) for name, values in headers.items()}
        )
    for rule in props.get("circuitBreaker", {}).get("rules", []):
        breaker = b.block(Block("circuit_breaker_rule"))
        breaker.attr("name", rule["name"])
        breaker.attr("trip_duration", rule["tripDuration"])
        breaker.attr("accept_retry_after_enabled", rule["acceptRetryAfter"])
        condition = rule["failureCondition"]
        failure = breaker.block(Block("failure_condition"))
        failure.attr("count", condition.get("count"))
        failure.attr("percentage", condition.get("percentage"))
        failure.attr("interval_duration", condition["interval"])
        failure.attr("error_reasons", condition.get("errorReasons"))
        for status in condition["statusCodeRanges"]:
            failure.block(Block("status_code_range")).attr("min", status["min"]).attr(
                "max", status["max"]
            )


def _redis(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    b.attr("resource_group_name", resource_group_name())
    b.attr("location", t.value(r.body["location"]))
    sku = r.body["sku"]
    assert isinstance(sku, dict)
    b.attr("sku_name", t.value(sku["name"]))
    b.attr("public_network_access", props["publicNetworkAccess"])
    database = next(
        x for x in t.by_symbol.values() if x.parent == r.symbol and x.type.endswith("/databases")
    )
    db = _props(database)
    block = b.block(Block("default_database"))
    block.attr("access_keys_authentication_enabled", db["accessKeysAuthentication"] == "Enabled")
    block.attr("client_protocol", db["clientProtocol"])
    block.attr("clustering_policy", db["clusteringPolicy"])
    block.attr("eviction_policy", db["evictionPolicy"])
    for module in db["modules"]:
        block.block(Block("module")).attr("name", module["name"])


def _cache(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    b.attr("api_management_id", Expr(f"{t.address('apim')}.id"))
    b.attr("connection_string", t.value(props["connectionString"]))
    b.attr("cache_location", props["useFromLocation"])
    if "resourceId" in props:
        b.attr("redis_cache_id", t.value(props["resourceId"]))


def _fragment(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    b.attr("api_management_id", Expr(f"{t.address('apim')}.id"))
    # rawxml: fragments carry C# expressions that are not valid XML (iac-mapping §1.5).
    b.attr("format", props["format"])
    b.attr("value", t.value(props["value"]))
    b.attr("description", props.get("description"))


def _global_policy(r: ArmResource, t: Translator, b: Block) -> None:
    b.attr("api_management_id", Expr(f"{t.address('apim')}.id"))
    b.attr("xml_content", t.value(_props(r)["value"]))


def _api(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("name", t.value(r.name))
    t.apim_child(b, r)
    b.attr("revision", "1")
    b.attr("display_name", props["displayName"])
    b.attr("description", props.get("description"))
    b.attr("path", props["path"])
    b.attr("protocols", props["protocols"])
    b.attr("api_type", props["type"])
    b.attr("subscription_required", props["subscriptionRequired"])
    names = props["subscriptionKeyParameterNames"]
    b.block(Block("subscription_key_parameter_names")).attr("header", names["header"]).attr(
        "query", names["query"]
    )


def _api_name(t: Translator, symbol: str) -> Expr:
    return Expr(f"{t.address(symbol)}.name")


def _operation(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    assert r.parent is not None
    b.attr("operation_id", t.value(r.name))
    b.attr("api_name", _api_name(t, r.parent))
    t.apim_child(b, r)
    b.attr("display_name", props["displayName"])
    b.attr("method", props["method"])
    b.attr("url_template", props["urlTemplate"])
    for parameter in props["templateParameters"]:
        b.block(Block("template_parameter")).attr("name", parameter["name"]).attr(
            "type", parameter["type"]
        ).attr("required", parameter["required"])


def _api_policy(r: ArmResource, t: Translator, b: Block) -> None:
    assert r.parent is not None
    b.attr("api_name", _api_name(t, r.parent))
    t.apim_child(b, r)
    b.attr("xml_content", t.value(_props(r)["value"]))


def _operation_policy(r: ArmResource, t: Translator, b: Block) -> None:
    assert r.parent is not None
    operation = t.by_symbol[r.parent]
    assert operation.parent is not None
    b.attr("api_name", _api_name(t, operation.parent))
    t.apim_child(b, r)
    b.attr("operation_id", Expr(f"{t.address(r.parent)}.operation_id"))
    b.attr("xml_content", t.value(_props(r)["value"]))


def _product(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("product_id", t.value(r.name))
    t.apim_child(b, r)
    b.attr("display_name", props["displayName"])
    b.attr("description", props.get("description"))
    b.attr("subscription_required", props["subscriptionRequired"])
    b.attr("approval_required", props.get("approvalRequired"))
    b.attr("subscriptions_limit", props.get("subscriptionsLimit"))
    b.attr("published", props["state"] == "published")


def _product_api(r: ArmResource, t: Translator, b: Block) -> None:
    assert r.parent is not None
    api_symbol = r.depends_on[0]
    b.attr("product_id", Expr(f"{t.address(r.parent)}.product_id"))
    b.attr("api_name", _api_name(t, api_symbol))
    t.apim_child(b, r)


def _product_policy(r: ArmResource, t: Translator, b: Block) -> None:
    assert r.parent is not None
    b.attr("product_id", Expr(f"{t.address(r.parent)}.product_id"))
    t.apim_child(b, r)
    b.attr("xml_content", t.value(_props(r)["value"]))


def _user(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("user_id", t.value(r.name))
    t.apim_child(b, r)
    b.attr("email", props["email"])
    b.attr("first_name", props["firstName"])
    b.attr("last_name", props["lastName"])
    b.attr("state", props["state"])


def _subscription(r: ArmResource, t: Translator, b: Block) -> None:
    props = _props(r)
    b.attr("subscription_id", t.value(r.name))
    t.apim_child(b, r)
    b.attr("display_name", props["displayName"])
    scope = props["scope"]
    if isinstance(scope, Ref):
        kind = "product_id" if t.targets[scope.symbol].tf_type.endswith("_product") else "api_id"
        b.attr(kind, t.value(scope))
    if "ownerId" in props:
        b.attr("user_id", t.value(props["ownerId"]))
    b.attr("state", props["state"])
    b.attr("allow_tracing", props["allowTracing"])


HANDLERS: dict[str, Handler] = {
    "azurerm_api_management": _service,
    "azurerm_cognitive_account": _account,
    "azurerm_cognitive_deployment": _deployment,
    "azurerm_role_assignment": _role,
    "azurerm_log_analytics_workspace": _workspace,
    "azurerm_api_management_logger": _logger,
    "azurerm_api_management_named_value": _named_value,
    "azurerm_api_management_backend": _backend,
    "azurerm_managed_redis": _redis,
    "azurerm_api_management_redis_cache": _cache,
    "azurerm_api_management_policy_fragment": _fragment,
    "azurerm_api_management_policy": _global_policy,
    "azurerm_api_management_api": _api,
    "azurerm_api_management_api_operation": _operation,
    "azurerm_api_management_api_policy": _api_policy,
    "azurerm_api_management_api_operation_policy": _operation_policy,
    "azurerm_api_management_product": _product,
    "azurerm_api_management_product_api": _product_api,
    "azurerm_api_management_product_policy": _product_policy,
    "azurerm_api_management_user": _user,
    "azurerm_api_management_subscription": _subscription,
}
