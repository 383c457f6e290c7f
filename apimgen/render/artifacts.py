"""Everything ``apimgen render`` writes, from one gateway model."""

from __future__ import annotations

from collections.abc import Collection

from apimgen.model.arm_resources import arm_resources
from apimgen.model.gateway import Gateway
from apimgen.render.bicep import render_bicep
from apimgen.render.policies import render_policy_files
from apimgen.render.terraform import render_terraform

__all__ = ["FORMATS", "render_artifacts"]

FORMATS: tuple[str, ...] = ("policies", "bicep", "terraform")


def render_artifacts(gateway: Gateway, formats: Collection[str] = FORMATS) -> dict[str, str]:
    """Relative path → file text, sorted so output order never depends on dict history.

    Bicep and Terraform load the policy files, so either brings ``policies/`` along.
    """
    files = render_policy_files(gateway)
    if "bicep" in formats or "terraform" in formats:
        resources = arm_resources(gateway, files)
        if "bicep" in formats:
            files.update(render_bicep(resources, gateway.parameters))
        if "terraform" in formats:
            files.update(render_terraform(resources, gateway.parameters))
    return dict(sorted(files.items()))
