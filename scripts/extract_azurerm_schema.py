"""Extract the argument tree of the azurerm resources apimgen renders from the provider schema
that the `cdktf-cdktf-provider-azurerm` package carries (its jsii assembly).

Run once per provider upgrade and commit the result:

    pip download --no-deps cdktf-cdktf-provider-azurerm==14.23.1 -d /tmp/cdk
    python scripts/extract_azurerm_schema.py \
        /tmp/cdk/cdktf_cdktf_provider_azurerm-14.23.1-py3-none-any.whl \
        > tests/iac/schemas/azurerm.json

The output maps each resource (and data source) type to its arguments; a nested block maps to
its own arguments, a plain argument to `{"required": bool}`.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import zipfile
from typing import Any

RESOURCES = [
    "api_management",
    "api_management_api",
    "api_management_api_operation",
    "api_management_api_operation_policy",
    "api_management_api_policy",
    "api_management_backend",
    "api_management_logger",
    "api_management_named_value",
    "api_management_policy",
    "api_management_policy_fragment",
    "api_management_product",
    "api_management_product_api",
    "api_management_product_policy",
    "api_management_redis_cache",
    "api_management_subscription",
    "api_management_user",
    "cognitive_account",
    "cognitive_deployment",
    "log_analytics_workspace",
    "managed_redis",
    "role_assignment",
]
DATA_SOURCES = [
    "api_management",
    "application_insights",
    "client_config",
    "cognitive_account",
    "resource_group",
]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _tf_name(prop: dict[str, Any]) -> str:
    summary = prop.get("docs", {}).get("summary", "")
    match = re.search(r"#([a-z0-9_]+) ", summary)
    if match:
        return match.group(1)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", prop["name"]).lower()


def _struct_fqn(prop_type: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The provider struct a property holds (directly, in a list, or in a union)."""
    if "fqn" in prop_type:
        fqn = str(prop_type["fqn"])
        return fqn if types.get(fqn, {}).get("kind") == "interface" else None
    if "union" in prop_type:
        for option in prop_type["union"]["types"]:
            found = _struct_fqn(option, types)
            if found:
                return found
    if "collection" in prop_type:
        return _struct_fqn(prop_type["collection"]["elementtype"], types)
    return None


def _arguments(types: dict[str, Any], fqn: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        name = _tf_name(prop)
        if name in ("id", "timeouts"):
            continue
        nested = _struct_fqn(prop["type"], types)
        if nested:
            result[name] = {
                "block": _arguments(types, nested),
                "required": not prop.get("optional", False),
            }
        else:
            result[name] = {"required": not prop.get("optional", False)}
    return dict(sorted(result.items()))


def main(wheel_path: str) -> None:
    with zipfile.ZipFile(wheel_path) as wheel:
        tgz_name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz_name))) as archive:
            member = archive.extractfile("package/.jsii")
            assert member is not None
            assembly = json.load(member)
    types = assembly["types"]
    prefix = "@cdktf/provider-azurerm"
    version = re.search(
        r"azurerm/(\d+\.\d+\.\d+)",
        json.dumps(types[f"{prefix}.apiManagement.ApiManagement"]["docs"]),
    )
    schema: dict[str, Any] = {
        "provider": "hashicorp/azurerm",
        "provider_version": version.group(1) if version else "unknown",
        "source": f"{assembly['name']}@{assembly['version']} (jsii assembly)",
        "resources": {},
        "data_sources": {},
    }
    for name in RESOURCES:
        camel = _camel(name)
        module = camel[0].lower() + camel[1:]
        schema["resources"][f"azurerm_{name}"] = _arguments(
            types, f"{prefix}.{module}.{camel}Config"
        )
    for name in DATA_SOURCES:
        camel = "DataAzurerm" + _camel(name)
        module = camel[0].lower() + camel[1:]
        schema["data_sources"][f"azurerm_{name}"] = _arguments(
            types, f"{prefix}.{module}.{camel}Config"
        )
    json.dump(schema, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
