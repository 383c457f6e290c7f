"""Which API Management instance a plan is for, in which cloud, and how to reach it.

The target comes from flags, then environment variables, then the spec (its gateway name and
resource group, or an environment's), so the same spec serves a terminal and a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from apimgen.errors import ApimgenError

__all__ = ["CLOUDS", "Cloud", "Target"]


@dataclass(frozen=True)
class Cloud:
    name: str
    endpoint: str  # Azure Resource Manager
    authority: str  # Microsoft Entra ID, for DefaultAzureCredential

    @property
    def scope(self) -> str:
        return f"{self.endpoint}/.default"


CLOUDS: dict[str, Cloud] = {
    cloud.name: cloud
    for cloud in (
        Cloud("AzureCloud", "https://management.azure.com", "login.microsoftonline.com"),
        Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn"),
        Cloud(
            "AzureUSGovernment",
            "https://management.usgovcloudapi.net",
            "login.microsoftonline.us",
        ),
    )
}


@dataclass(frozen=True)
class Target:
    subscription_id: str
    resource_group: str
    service: str
    cloud: str = "AzureCloud"
    arm_endpoint: str | None = None  # overrides the cloud's endpoint (Azure Stack, tests)

    def __post_init__(self) -> None:
        # Checked here so that a flag, a variable and a saved plan file are all held to it.
        if self.cloud not in CLOUDS:
            raise ApimgenError(f"unknown cloud {self.cloud!r}", hint=f"one of: {', '.join(CLOUDS)}")

    @property
    def endpoint(self) -> str:
        return (self.arm_endpoint or CLOUDS[self.cloud].endpoint).rstrip("/")

    @property
    def service_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ApiManagement/service/{self.service}"
        )

    def describe(self) -> str:
        return (
            f"{self.service} (resource group {self.resource_group}, "
            f"subscription {self.subscription_id})"
        )

    def to_json(self) -> dict[str, str | None]:
        return {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "service": self.service,
            "cloud": self.cloud,
            "arm_endpoint": self.arm_endpoint,
        }
