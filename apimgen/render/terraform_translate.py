"""How each ARM resource is addressed in Terraform, and ARM values written as HCL values.

azurerm where it can express a resource, azapi where it cannot, data sources for resources
that already exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from apimgen.model.arm import ArmResource, ArmValue, Concat, Param, PolicyFile, Ref, RoleDefinition
from apimgen.model.deployment_params import DeploymentParameters
from apimgen.render.hcl import Block, Expr, HclValue, hcl_string

__all__ = ["Target", "Translator", "tf_type"]


@dataclass(frozen=True)
class Target:
    address: str  # how other blocks refer to it, e.g. azurerm_api_management.apim
    tf_type: str
    data: bool = False


class Translator:
    """Knows every resource's Terraform address, and turns ARM values into HCL values."""

    def __init__(self, resources: tuple[ArmResource, ...], parameters: DeploymentParameters):
        self.by_symbol = {r.symbol: r for r in resources}
        self.tf_names = {p.name: p.tf_name for p in parameters.specs}
        self.targets: dict[str, Target] = {}
        for r in resources:
            resource_type, data = tf_type(r)
            if r.type == "Microsoft.Cache/redisEnterprise/databases":
                continue  # folded into azurerm_managed_redis.default_database
            prefix = "data." if data else ""
            address = f"{prefix}{resource_type}.{r.symbol}"
            self.targets[r.symbol] = Target(address, resource_type, data)
        for r in resources:
            if r.type == "Microsoft.Cache/redisEnterprise/databases":
                assert r.parent is not None
                self.targets[r.symbol] = self.targets[r.parent]

    def address(self, symbol: str) -> str:
        return self.targets[symbol].address

    def ref(self, ref: Ref) -> str:
        target = self.targets[ref.symbol]
        address = target.address
        if ref.attribute == "id":
            if target.tf_type == "azurerm_api_management_api":
                # The provider appends ';rev=N' to API ids; ARM references want it stripped.
                return f'replace({address}.id, "/;rev=.*/", "")'
            return f"{address}.id"
        if ref.attribute == "name":
            return f"{address}.name"
        if ref.attribute == "principal_id":
            return f"{address}.identity[0].principal_id"
        if ref.attribute == "instrumentation_key":
            if target.tf_type == "azapi_resource":
                return f"{address}.output.properties.InstrumentationKey"
            return f"{address}.instrumentation_key"
        if ref.attribute == "redis_host":
            return f"{address}.hostname"
        if ref.attribute == "redis_primary_key":
            return f"{address}.default_database[0].primary_access_key"
        raise ValueError(ref.attribute)

    def value(self, value: ArmValue) -> HclValue:
        if isinstance(value, Ref):
            return Expr(self.ref(value))
        if isinstance(value, Param):
            return Expr(f"var.{self.tf_names[value.name]}")
        if isinstance(value, PolicyFile):
            return Expr(f'file("${{path.module}}/../policies/{value.path}")')
        if isinstance(value, Concat):
            text = ""
            for part in value.parts:
                if isinstance(part, str):
                    text += hcl_string(part)[1:-1]
                elif isinstance(part, Ref):
                    text += "${" + self.ref(part) + "}"
                else:
                    text += "${var." + self.tf_names[part.name] + "}"
            return Expr(f'"{text}"')
        if isinstance(value, RoleDefinition):
            return value.role_name
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def apim_child(self, block: Block, resource: ArmResource) -> Block:
        """The two arguments every azurerm APIM child resource takes."""
        apim = self.address("apim")
        block.attr("api_management_name", Expr(f"{apim}.name"))
        block.attr("resource_group_name", Expr(f"{apim}.resource_group_name"))
        return block


def tf_type(resource: ArmResource) -> tuple[str, bool]:
    arm = resource.type
    if resource.existing:
        data_types = {
            "Microsoft.ApiManagement/service": "azurerm_api_management",
            "Microsoft.CognitiveServices/accounts": "azurerm_cognitive_account",
            "Microsoft.Insights/components": "azurerm_application_insights",
        }
        return data_types[arm], True
    if arm == "Microsoft.ApiManagement/service/backends":
        props = resource.body.get("properties")
        if isinstance(props, dict) and props.get("type") == "Pool":
            return "azapi_resource", False
        return "azurerm_api_management_backend", False
    return _TF_TYPES[arm], False


_TF_TYPES = {
    "Microsoft.ApiManagement/service": "azurerm_api_management",
    "Microsoft.CognitiveServices/accounts": "azurerm_cognitive_account",
    "Microsoft.CognitiveServices/accounts/deployments": "azurerm_cognitive_deployment",
    "Microsoft.Authorization/roleAssignments": "azurerm_role_assignment",
    "Microsoft.OperationalInsights/workspaces": "azurerm_log_analytics_workspace",
    "Microsoft.Insights/components": "azapi_resource",
    "Microsoft.ApiManagement/service/loggers": "azurerm_api_management_logger",
    "Microsoft.ApiManagement/service/diagnostics": "azapi_resource",
    "Microsoft.ApiManagement/service/namedValues": "azurerm_api_management_named_value",
    "Microsoft.Cache/redisEnterprise": "azurerm_managed_redis",
    "Microsoft.Cache/redisEnterprise/databases": "azurerm_managed_redis",
    "Microsoft.ApiManagement/service/caches": "azurerm_api_management_redis_cache",
    "Microsoft.ApiManagement/service/policyFragments": "azurerm_api_management_policy_fragment",
    "Microsoft.ApiManagement/service/policies": "azurerm_api_management_policy",
    "Microsoft.ApiManagement/service/apis": "azurerm_api_management_api",
    "Microsoft.ApiManagement/service/apis/operations": "azurerm_api_management_api_operation",
    "Microsoft.ApiManagement/service/apis/policies": "azurerm_api_management_api_policy",
    "Microsoft.ApiManagement/service/apis/operations/policies": (
        "azurerm_api_management_api_operation_policy"
    ),
    "Microsoft.ApiManagement/service/products": "azurerm_api_management_product",
    "Microsoft.ApiManagement/service/products/apis": "azurerm_api_management_product_api",
    "Microsoft.ApiManagement/service/products/policies": "azurerm_api_management_product_policy",
    "Microsoft.ApiManagement/service/users": "azurerm_api_management_user",
    "Microsoft.ApiManagement/service/subscriptions": "azurerm_api_management_subscription",
}
