"""Azure region display names, as Azure OpenAI writes them in its ``x-ms-region`` header.

Live answers carry the display name, not the location name a spec uses ("North Central US",
"West US" in published response dumps), so a policy that routes on the header must compare
with that form. Names not listed here are passed through as written.
"""

from __future__ import annotations

__all__ = ["DEFAULT_REGION", "display_name"]

DEFAULT_REGION = "eastus"  # a folder scenario's backend without a region

_DISPLAY_NAMES = {
    "australiaeast": "Australia East",
    "brazilsouth": "Brazil South",
    "canadacentral": "Canada Central",
    "canadaeast": "Canada East",
    "centralindia": "Central India",
    "centralus": "Central US",
    "eastasia": "East Asia",
    "eastus": "East US",
    "eastus2": "East US 2",
    "francecentral": "France Central",
    "germanywestcentral": "Germany West Central",
    "italynorth": "Italy North",
    "japaneast": "Japan East",
    "japanwest": "Japan West",
    "koreacentral": "Korea Central",
    "northcentralus": "North Central US",
    "northeurope": "North Europe",
    "norwayeast": "Norway East",
    "polandcentral": "Poland Central",
    "southafricanorth": "South Africa North",
    "southcentralus": "South Central US",
    "southeastasia": "Southeast Asia",
    "southindia": "South India",
    "spaincentral": "Spain Central",
    "swedencentral": "Sweden Central",
    "switzerlandnorth": "Switzerland North",
    "switzerlandwest": "Switzerland West",
    "uaenorth": "UAE North",
    "uksouth": "UK South",
    "ukwest": "UK West",
    "westeurope": "West Europe",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
}


def display_name(location: str) -> str:
    """``westeurope`` → ``West Europe``; a name already in display form, or unknown, as is."""
    return _DISPLAY_NAMES.get(location.replace(" ", "").lower(), location)
