"""What ``plan`` and ``apply`` do, minus the terminal: resolve the target, read the live
instance, build the plan, and turn SDK failures into errors a user can act on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apimgen.deploy.desired import DesiredState, desired_state
from apimgen.deploy.live import LiveResource, read_live
from apimgen.deploy.plan import Plan, compute_plan
from apimgen.deploy.target import Target
from apimgen.errors import ApimgenError

if TYPE_CHECKING:
    from azure.mgmt.apimanagement import ApiManagementClient

    from apimgen.model.gateway import Gateway

__all__ = [
    "TargetOptions",
    "azure_errors",
    "plan_spec",
    "read_instance",
    "read_service",
    "resolve_target",
]


@dataclass(frozen=True)
class TargetOptions:
    """What the command line (or its environment variables) said; None = not given."""

    subscription_id: str | None = None
    resource_group: str | None = None
    service: str | None = None
    cloud: str = "AzureCloud"
    arm_endpoint: str | None = None


def resolve_target(
    options: TargetOptions, gateway: Gateway | None, environment: str | None
) -> Target:
    resource_group, service = options.resource_group, options.service
    if gateway is not None:
        parameters = gateway.parameters
        environments = parameters.environments()
        if environment not in environments:
            known = ", ".join(name for name in environments if name) or "none"
            raise ApimgenError(
                f"unknown environment {environment!r}", hint=f"environments in the spec: {known}"
            )
        service = service or str(environments[environment]["apimName"])
        default_group = parameters.resource_groups.get(environment or "")
        resource_group = resource_group or default_group or parameters.resource_group
    missing = [
        flag
        for flag, value in (
            ("--subscription-id (or AZURE_SUBSCRIPTION_ID)", options.subscription_id),
            ("--resource-group (or APIMGEN_RESOURCE_GROUP)", resource_group),
            ("--service (or APIMGEN_SERVICE)", service),
        )
        if not value
    ]
    if missing:
        raise ApimgenError(
            f"no target instance: missing {', '.join(missing)}",
            hint="the spec supplies the resource group and service name when it has them",
        )
    assert options.subscription_id and resource_group and service
    return Target(
        options.subscription_id, resource_group, service, options.cloud, options.arm_endpoint
    )


def _endpoint_hint(target: Target) -> str:
    return f"check --arm-endpoint/--cloud (now {target.endpoint}) and your network"


@contextmanager
def azure_errors(target: Target, doing: str) -> Iterator[None]:
    """SDK exceptions → ApimgenError with what failed and what to try."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
    )

    from apimgen.deploy.apply import describe_failure

    try:
        yield
    except ClientAuthenticationError as error:
        raise ApimgenError(
            f"{doing}: authentication failed: {describe_failure(error)}",
            hint="sign in with `az login`, or pass a token with --access-token "
            "(APIMGEN_ACCESS_TOKEN); the identity needs API Management Service Contributor",
        ) from error
    except HttpResponseError as error:
        hint = "rerun later; throttling and server errors were already retried"
        if error.status_code == 403:
            hint = "the identity needs API Management Service Contributor on the service"
        raise ApimgenError(f"{doing}: {describe_failure(error)}", hint=hint) from error
    except ServiceRequestError as error:
        raise ApimgenError(
            f"{doing}: cannot reach {target.endpoint}: {describe_failure(error)}",
            hint=_endpoint_hint(target),
        ) from error


def read_instance(client: ApiManagementClient, target: Target) -> dict[str, LiveResource]:
    """The live state; a clear error when the service itself does not exist."""
    return read_service(client, target)[1]


def read_service(
    client: ApiManagementClient, target: Target
) -> tuple[dict[str, Any], dict[str, LiveResource]]:
    """The service's own resource (REST JSON: location, sku, properties) and its children."""
    from azure.core.exceptions import ResourceNotFoundError

    with azure_errors(target, f"reading {target.service}"):
        try:
            service = client.api_management_service.get(target.resource_group, target.service)
        except ResourceNotFoundError as error:
            raise ApimgenError(
                f"API Management service {target.describe()} does not exist",
                hint="create it first with the rendered Bicep or Terraform (`apimgen render`); "
                "plan/apply manage what is inside the service",
            ) from error
        return dict(service.serialize(keep_readonly=True)), read_live(client, target)


def desired_for(gateway: Gateway, target: Target, environment: str | None) -> DesiredState:
    from apimgen.model.arm_resources import arm_resources
    from apimgen.render.policies import render_policy_files

    policy_texts = render_policy_files(gateway)
    resources = arm_resources(gateway, policy_texts)
    return desired_state(gateway, resources, target, policy_texts, environment)


def plan_spec(
    spec: Path,
    options: TargetOptions,
    environment: str | None,
    prune: bool,
    connect: Callable[[Target], ApiManagementClient],
) -> tuple[Plan, ApiManagementClient]:
    """Load the spec, read the live instance, compute the plan."""
    from apimgen.pipeline import build_gateway
    from apimgen.spec.load import load_spec

    gateway = build_gateway(load_spec(spec))
    target = resolve_target(options, gateway, environment)
    desired = desired_for(gateway, target, environment)
    client = connect(target)
    live = read_instance(client, target)
    plan = compute_plan(
        desired, live, target=target, spec=str(spec), environment=environment, prune=prune
    )
    return plan, client
