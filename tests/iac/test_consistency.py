"""Bicep and Terraform describe the same gateway: the same resources (type, name) with the same
key properties, read back from each format's parsed output, not from apimgen's internals."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.iac.conftest import EXAMPLE_IDS
from tests.iac.test_bicep import _bicep_files
from tests.iac.test_bicep import parsed as parsed_bicep
from tests.iac.test_terraform import _unquote, blocks

TF_TO_ARM = {
    "azurerm_api_management": "Microsoft.ApiManagement/service",
    "azurerm_cognitive_account": "Microsoft.CognitiveServices/accounts",
    "azurerm_cognitive_deployment": "Microsoft.CognitiveServices/accounts/deployments",
    "azurerm_role_assignment": "Microsoft.Authorization/roleAssignments",
    "azurerm_log_analytics_workspace": "Microsoft.OperationalInsights/workspaces",
    "azurerm_application_insights": "Microsoft.Insights/components",
    "azurerm_api_management_logger": "Microsoft.ApiManagement/service/loggers",
    "azurerm_api_management_named_value": "Microsoft.ApiManagement/service/namedValues",
    "azurerm_api_management_backend": "Microsoft.ApiManagement/service/backends",
    "azurerm_managed_redis": "Microsoft.Cache/redisEnterprise",
    "azurerm_api_management_redis_cache": "Microsoft.ApiManagement/service/caches",
    "azurerm_api_management_policy_fragment": "Microsoft.ApiManagement/service/policyFragments",
    "azurerm_api_management_policy": "Microsoft.ApiManagement/service/policies",
    "azurerm_api_management_api": "Microsoft.ApiManagement/service/apis",
    "azurerm_api_management_api_operation": "Microsoft.ApiManagement/service/apis/operations",
    "azurerm_api_management_api_policy": "Microsoft.ApiManagement/service/apis/policies",
    "azurerm_api_management_api_operation_policy": (
        "Microsoft.ApiManagement/service/apis/operations/policies"
    ),
    "azurerm_api_management_product": "Microsoft.ApiManagement/service/products",
    "azurerm_api_management_product_api": "Microsoft.ApiManagement/service/products/apis",
    "azurerm_api_management_product_policy": "Microsoft.ApiManagement/service/products/policies",
    "azurerm_api_management_user": "Microsoft.ApiManagement/service/users",
    "azurerm_api_management_subscription": "Microsoft.ApiManagement/service/subscriptions",
}
TF_NAME_ARGUMENT = {
    "azurerm_api_management_api_operation": "operation_id",
    "azurerm_api_management_product": "product_id",
    "azurerm_api_management_user": "user_id",
    "azurerm_api_management_subscription": "subscription_id",
}
PARAM_SPELLING = {"apim_name": "apimName"}


def _symbol_in(text: Any) -> str | None:
    """The resource symbol an expression refers to (``x.id``, ``${azurerm_y.x.id}``, ...)."""
    if isinstance(text, dict):  # pycep operator tree: take the left-most operand
        operands = text.get("operator", {}).get("operands", {})
        return _symbol_in(operands.get("operand_1"))
    if not isinstance(text, str):
        return None
    match = re.search(r"(?:azurerm_[a-z_]+|azapi_resource)\.([a-z0-9_]+)\.", text)
    if match:
        return match.group(1)
    match = re.fullmatch(r"([a-z0-9_]+)(\.[A-Za-z.()]+)?", text)
    return match.group(1) if match else None


def _policy_path(value: Any) -> str:
    if isinstance(value, dict):  # Bicep: loadTextContent('../../policies/x.xml')
        return str(value["function"]["parameters"]["file_path"]).split("policies/", 1)[1]
    return re.search(r"policies/([^\"]+)", str(value)).group(1)  # type: ignore[union-attr]


def _bicep_view(example: str) -> dict[str, dict[str, Any]]:
    view: dict[str, dict[str, Any]] = {}
    for name in _bicep_files(example):
        for symbol, resource in parsed_bicep(example, name).get("resources", {}).items():
            if resource["existing"] and symbol in view:
                continue
            config = resource["config"]
            props = config.get("properties", {})
            entry: dict[str, Any] = {"type": resource["type"], "existing": resource["existing"]}
            raw_name = config.get("name")
            entry["name"] = raw_name if isinstance(raw_name, str) else None
            if entry["type"].endswith("/roleAssignments"):
                entry["name"] = None
                entry["scope"] = _symbol_in(config["scope"])
            entry.update(_key_properties(entry["type"], props, bicep=True))
            if resource["existing"] and not view.get(symbol, {}).get("existing", True):
                continue
            view[symbol] = entry
    # The Redis database is a separate ARM resource; Terraform folds it into its cluster.
    return {s: e for s, e in view.items() if not e["type"].endswith("redisEnterprise/databases")}


def _key_properties(arm_type: str, props: dict[str, Any], *, bicep: bool) -> dict[str, Any]:
    short = arm_type.split("/", 1)[1]
    if short in ("service/backends",):
        if props.get("type") == "Pool":
            services = props["pool"]["services"]
            return {
                "members": sorted(
                    (_symbol_in(s["id"]), s["priority"], s["weight"]) for s in services
                )
            }
        return {"url": props.get("url")}
    if short == "service/apis":
        return {"path": props.get("path")}
    if short == "service/apis/operations":
        return {"method": props.get("method"), "url_template": props.get("urlTemplate")}
    if short.endswith("policies") or short == "service/policyFragments":
        return {"policy": _policy_path(props["value"])}
    if short == "service/subscriptions":
        return {"scope": _symbol_in(props.get("scope")), "state": props.get("state")}
    if short == "accounts/deployments":
        model = props["model"]
        return {"model": (model["name"], model["version"])}
    return {}


def _tf_view(example: str) -> dict[str, dict[str, Any]]:
    view: dict[str, dict[str, Any]] = {}
    for kind in ("resource", "data"):
        for _, tf_type, label, body in blocks(example, kind):
            if tf_type == "azurerm_resource_group":
                continue  # the deployment target: Bicep's resourceGroup(), not a resource
            args = {k: (_unquote(v) if isinstance(v, str) else v) for k, v in body.items()}
            if tf_type == "azapi_resource":
                arm_type = args["type"].split("@")[0]
                name = args["name"]
                props = _unquote_all(body["body"]).get("properties", {})
            else:
                arm_type = TF_TO_ARM[tf_type]
                name = (
                    "policy"
                    if tf_type.endswith("_policy")
                    else args.get(TF_NAME_ARGUMENT.get(tf_type, "name"))
                )
                props = _tf_props(tf_type, args)
            if isinstance(name, str) and name.startswith("${var."):
                variable = name[len("${var.") : -1]
                name = PARAM_SPELLING.get(variable, variable)
            entry: dict[str, Any] = {"type": arm_type, "existing": kind == "data", "name": name}
            if tf_type == "azurerm_api_management_product_api":
                entry["name"] = None
            if tf_type == "azurerm_role_assignment":
                entry["name"] = None
                entry["scope"] = _symbol_in(args["scope"])
            entry.update(_key_properties(arm_type, props, bicep=False))
            view[label] = entry
    return view


def _unquote_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(k): _unquote_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote_all(v) for v in value]
    return _unquote(value) if isinstance(value, str) else value


def _tf_props(tf_type: str, args: dict[str, Any]) -> dict[str, Any]:
    """Translate the few azurerm arguments compared here back to ARM property names."""
    props: dict[str, Any] = {}
    if "url" in args:
        props["url"] = args["url"]
    if "path" in args:
        props["path"] = args["path"]
    if "method" in args:
        props["method"] = args["method"]
        props["urlTemplate"] = args["url_template"]
    for key in ("xml_content", "value"):
        if key in args and "policies/" in str(args[key]):
            props["value"] = args[key]
    if tf_type == "azurerm_api_management_subscription":
        props["scope"] = args.get("product_id") or args.get("api_id") or "/apis"
        props["state"] = args.get("state")
    if tf_type == "azurerm_cognitive_deployment":
        model = args["model"][0]
        props["model"] = {"name": _unquote(model["name"]), "version": _unquote(model["version"])}
    return props


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_bicep_and_terraform_describe_the_same_gateway(example: str) -> None:
    bicep = _bicep_view(example)
    terraform = _tf_view(example)
    for entry in (*bicep.values(), *terraform.values()):
        if entry["type"].endswith("/products/apis"):
            entry["name"] = None  # Bicep names the link by API id, Terraform by reference
    assert set(bicep) == set(terraform), (
        f"only in Bicep: {sorted(set(bicep) - set(terraform))}; "
        f"only in Terraform: {sorted(set(terraform) - set(bicep))}"
    )
    differences = [
        f"{symbol}: bicep {bicep[symbol]} != terraform {terraform[symbol]}"
        for symbol in sorted(bicep)
        if bicep[symbol] != terraform[symbol]
    ]
    assert not differences, "\n".join(differences)
    assert len(bicep) >= 10
