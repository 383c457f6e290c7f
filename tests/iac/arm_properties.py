"""Check ARM bodies against the Azure SDK's models: every property name must exist there.

Both SDK model styles are read: msrest models (``_attribute_map`` with keys such as
``properties.displayName``) and the newer TypeSpec models (``rest_field`` descriptors).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
import typing
from functools import cache
from typing import Any

# ARM type → (SDK models module, model class). API versions: apimanagement 2024-05-01,
# applicationinsights 2020-02-02, authorization 2022-04-01, and the defaults of the installed
# cognitiveservices, loganalytics and redisenterprise packages.
MODELS: dict[str, tuple[str, str]] = {
    "Microsoft.ApiManagement/service": (
        "azure.mgmt.apimanagement.models",
        "ApiManagementServiceResource",
    ),
    "Microsoft.ApiManagement/service/apis": (
        "azure.mgmt.apimanagement.models",
        "ApiCreateOrUpdateParameter",
    ),
    "Microsoft.ApiManagement/service/apis/operations": (
        "azure.mgmt.apimanagement.models",
        "OperationContract",
    ),
    "Microsoft.ApiManagement/service/apis/policies": (
        "azure.mgmt.apimanagement.models",
        "PolicyContract",
    ),
    "Microsoft.ApiManagement/service/apis/operations/policies": (
        "azure.mgmt.apimanagement.models",
        "PolicyContract",
    ),
    "Microsoft.ApiManagement/service/policies": (
        "azure.mgmt.apimanagement.models",
        "PolicyContract",
    ),
    "Microsoft.ApiManagement/service/products/policies": (
        "azure.mgmt.apimanagement.models",
        "PolicyContract",
    ),
    "Microsoft.ApiManagement/service/policyFragments": (
        "azure.mgmt.apimanagement.models",
        "PolicyFragmentContract",
    ),
    "Microsoft.ApiManagement/service/namedValues": (
        "azure.mgmt.apimanagement.models",
        "NamedValueCreateContract",
    ),
    "Microsoft.ApiManagement/service/backends": (
        "azure.mgmt.apimanagement.models",
        "BackendContract",
    ),
    "Microsoft.ApiManagement/service/loggers": (
        "azure.mgmt.apimanagement.models",
        "LoggerContract",
    ),
    "Microsoft.ApiManagement/service/diagnostics": (
        "azure.mgmt.apimanagement.models",
        "DiagnosticContract",
    ),
    "Microsoft.ApiManagement/service/caches": ("azure.mgmt.apimanagement.models", "CacheContract"),
    "Microsoft.ApiManagement/service/products": (
        "azure.mgmt.apimanagement.models",
        "ProductContract",
    ),
    "Microsoft.ApiManagement/service/products/apis": (
        "azure.mgmt.apimanagement.models",
        "ApiContract",
    ),
    "Microsoft.ApiManagement/service/users": (
        "azure.mgmt.apimanagement.models",
        "UserCreateParameters",
    ),
    "Microsoft.ApiManagement/service/subscriptions": (
        "azure.mgmt.apimanagement.models",
        "SubscriptionCreateParameters",
    ),
    "Microsoft.CognitiveServices/accounts": ("azure.mgmt.cognitiveservices.models", "Account"),
    "Microsoft.CognitiveServices/accounts/deployments": (
        "azure.mgmt.cognitiveservices.models",
        "Deployment",
    ),
    "Microsoft.Authorization/roleAssignments": (
        "azure.mgmt.authorization.v2022_04_01.models",
        "RoleAssignmentCreateParameters",
    ),
    "Microsoft.OperationalInsights/workspaces": ("azure.mgmt.loganalytics.models", "Workspace"),
    "Microsoft.Insights/components": (
        "azure.mgmt.applicationinsights.v2020_02_02.models",
        "ApplicationInsightsComponent",
    ),
    "Microsoft.Cache/redisEnterprise": ("azure.mgmt.redisenterprise.models", "Cluster"),
    "Microsoft.Cache/redisEnterprise/databases": ("azure.mgmt.redisenterprise.models", "Database"),
}

# Properties that work in Azure but are missing from the published schemas, each with the
# reason apimgen still sets it (iac-mapping.md §1.10).
KNOWN_UNPUBLISHED: dict[str, str] = {
    "Microsoft.Insights/components:properties.CustomMetricsOptedInType": (
        "'custom metrics with dimensions', needed by emit-token-metric; portal and "
        "Azure-Samples/AI-Gateway set it, the schema lacks it"
    ),
}

# Keys of a Bicep resource declaration that are not part of the ARM body.
DECLARATION_KEYS = {"name", "parent", "scope", "dependsOn"}


@cache
def _model(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _namespace(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    package = importlib.import_module(cls.__module__.rsplit(".", 1)[0])
    return {**vars(module), "_models": package, "typing": typing}


def _typespec_fields(cls: type) -> dict[str, Any]:
    """rest name → annotation (possibly a forward reference), for TypeSpec-generated models."""
    with contextlib.suppress(TypeError):
        cls()
    fields = getattr(cls, "_attr_to_rest_field", {})
    result: dict[str, Any] = {}
    for attr, field in fields.items():
        owner = next((c for c in cls.__mro__ if attr in getattr(c, "__annotations__", {})), None)
        result[field._rest_name] = owner.__annotations__[attr] if owner else None
    return result


def _unwrap(annotation: Any, namespace: dict[str, Any]) -> tuple[str, Any]:
    """('model', cls) | ('list', inner) | ('dict', inner) | ('leaf', None)."""
    if isinstance(annotation, typing.ForwardRef | str):
        text = (
            annotation.__forward_arg__ if isinstance(annotation, typing.ForwardRef) else annotation
        )
        try:
            annotation = eval(text, namespace)
        except (AttributeError, NameError):
            return "leaf", None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [_unwrap(a, namespace) for a in typing.get_args(annotation)]
        structured = [m for m in models if m[0] != "leaf"]
        return structured[0] if len(structured) == 1 else ("leaf", None)
    if origin is list:
        return "list", typing.get_args(annotation)[0]
    if origin is dict:
        return "dict", typing.get_args(annotation)[1]
    if isinstance(annotation, type) and any(
        c.__name__ == "Model" and "model_base" in c.__module__ for c in annotation.__mro__
    ):
        return "model", annotation
    return "leaf", None


def _is_expression(value: Any) -> bool:
    """A pycep function call or operator: a value, not an object to descend into."""
    return isinstance(value, dict) and (set(value) <= {"function", "operator"}) and bool(value)


def _check_msrest(
    cls: Any, body: dict[str, Any], prefix: str, module: str, problems: list[str]
) -> None:
    keys = {info["key"].replace("\\.", "."): info["type"] for info in cls._attribute_map.values()}
    _check_keys(keys, body, "", prefix, module, problems, msrest=True)


def _descend(type_text: str, value: Any, path: str, module: str, problems: list[str]) -> None:
    if _is_expression(value) or value is None:
        return
    if type_text.startswith("[") and isinstance(value, list):
        for index, item in enumerate(value):
            _descend(type_text[1:-1], item, f"{path}[{index}]", module, problems)
        return
    if type_text.startswith("{") or not isinstance(value, dict):
        return  # free-form maps (headers, tags, identities) and scalars
    cls = getattr(importlib.import_module(module), type_text, None)
    if cls is not None and hasattr(cls, "_attribute_map"):
        _check_msrest(cls, value, f"{path}.", module, problems)


def _check_keys(
    keys: dict[str, Any],
    body: dict[str, Any],
    base: str,
    prefix: str,
    module: str,
    problems: list[str],
    *,
    msrest: bool,
) -> None:
    for raw_key, value in body.items():
        key = raw_key.strip("'")
        full = f"{base}{key}"
        if full in keys:
            if msrest:
                _descend(keys[full], value, f"{prefix}{full}", module, problems)
            continue
        if any(k.startswith(full + ".") for k in keys) and isinstance(value, dict):
            _check_keys(keys, value, full + ".", prefix, module, problems, msrest=msrest)
            continue
        problems.append(f"{prefix}{full}")


def _check_typespec(cls: Any, body: dict[str, Any], prefix: str, problems: list[str]) -> None:
    fields = _typespec_fields(cls)
    for raw_key, value in body.items():
        key = raw_key.strip("'")
        if key not in fields:
            problems.append(f"{prefix}{key}")
            continue
        namespace = _namespace(cls)
        kind, inner = _unwrap(fields[key], namespace)
        if _is_expression(value):
            continue
        if kind == "model" and isinstance(value, dict):
            _check_typespec(inner, value, f"{prefix}{key}.", problems)
        elif kind == "list" and isinstance(value, list):
            item_kind, item_cls = _unwrap(inner, namespace)
            if item_kind == "model":
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        _check_typespec(item_cls, item, f"{prefix}{key}[{index}].", problems)


def unknown_properties(arm_type: str, body: dict[str, Any]) -> list[str]:
    """Property paths in ``body`` that the SDK model for ``arm_type`` does not know."""
    module, name = MODELS[arm_type]
    cls = _model(module, name)
    problems: list[str] = []
    payload = {k: v for k, v in body.items() if k not in DECLARATION_KEYS}
    if hasattr(cls, "_attribute_map"):
        _check_msrest(cls, payload, "", module, problems)
    else:
        _check_typespec(cls, payload, "", problems)
    return [p for p in problems if f"{arm_type}:{p}" not in KNOWN_UNPUBLISHED]
