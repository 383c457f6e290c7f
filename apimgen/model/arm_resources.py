"""Gateway → the ARM resources that deploy it, in dependency order, with explicit dependencies
where ARM cannot infer them (iac-mapping.md §2): named values before whatever says ``{{name}}``,
single backends before pools, backends and fragments before the policies that name them,
the logger before its diagnostic, deployments one at a time per account.

The builder (``arm_builder``) holds what every step shares (symbols, the list, lookups); the
steps live in ``arm_azure`` (resources outside API Management) and ``arm_apim`` (the service
and its children); this module puts them in order.
"""

from __future__ import annotations

from collections.abc import Mapping

from apimgen.model import arm_apim, arm_azure
from apimgen.model.arm import ArmResource
from apimgen.model.arm_builder import CONCERNS, ArmBuilder
from apimgen.model.gateway import Gateway

__all__ = ["CONCERNS", "arm_resources"]


def arm_resources(gateway: Gateway, policy_texts: Mapping[str, str]) -> tuple[ArmResource, ...]:
    """Every resource of the gateway, dependencies before dependants.

    ``policy_texts`` are the rendered policy files (path → XML); named values used in them
    become explicit dependencies of the policies.
    """
    builder = ArmBuilder(gateway, policy_texts)
    arm_azure.add_monitoring(builder)
    arm_azure.add_openai(builder)
    arm_apim.add_service(builder)
    arm_azure.add_openai_access(builder)
    arm_apim.add_logger_and_diagnostic(builder)
    arm_apim.add_named_values(builder)
    arm_apim.add_backends(builder)
    arm_azure.add_semantic_cache(builder)
    arm_apim.add_fragments_and_global_policy(builder)
    arm_apim.add_apis(builder)
    arm_apim.add_products(builder)
    return tuple(builder.resources)
