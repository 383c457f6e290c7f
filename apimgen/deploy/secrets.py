"""The secrets a plan's writes need, resolved at apply time and never stored.

Two resources apply writes carry a secret: the Application Insights logger (instrumentation key)
and an apimgen-created Redis cache (connection string). An environment variable wins (a
pipeline's secret store); otherwise apimgen reads the value from Azure with the same identity
that applies the plan, so a pipeline with federated credentials needs no stored secret at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from apimgen.deploy.desired import INSTRUMENTATION_KEY_ENV, REDIS_CONNECTION_ENV
from apimgen.deploy.plan import Change, Plan
from apimgen.errors import ApimgenError

if TYPE_CHECKING:
    from azure.mgmt.apimanagement import ApiManagementClient

__all__ = ["resolve_secrets"]

INSIGHTS_API_VERSION = "2020-02-02"
REDIS_API_VERSION = "2025-07-01"


def _arm(client: ApiManagementClient, method: str, url: str) -> dict[str, Any]:
    from azure.core.rest import HttpRequest

    response = client._send_request(HttpRequest(method, url))
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _look_up(client: ApiManagementClient, env: str, change: Change) -> str:
    """Read the secret from the resource the change references."""
    resource_id = str((change.properties or {}).get("resourceId") or "")
    if not resource_id.startswith("/subscriptions/"):
        # Only an ARM id, resolved against the client's endpoint: never a URL of its own, to
        # which the identity's token would be sent.
        raise LookupError(f"{change.path} names no Azure resource id to read it from")
    if env == INSTRUMENTATION_KEY_ENV:
        component = _arm(client, "GET", f"{resource_id}?api-version={INSIGHTS_API_VERSION}")
        return str(component["properties"]["InstrumentationKey"])
    if env == REDIS_CONNECTION_ENV:
        cluster = _arm(client, "GET", f"{resource_id}?api-version={REDIS_API_VERSION}")
        keys = _arm(
            client,
            "POST",
            f"{resource_id}/databases/default/listKeys?api-version={REDIS_API_VERSION}",
        )
        host = cluster["properties"]["hostName"]
        return f"{host}:10000,password={keys['primaryKey']},ssl=True,abortConnect=False"
    raise LookupError(f"no way to read {env} from Azure")


def resolve_secrets(
    plan: Plan, environ: Mapping[str, str], client: ApiManagementClient | None = None
) -> dict[str, str]:
    """Every secret the plan's writes need; all that cannot be found are reported at once."""
    from azure.core.exceptions import AzureError

    needed: dict[str, list[Change]] = {}
    for change in plan.changes:
        for env in change.secrets:
            needed.setdefault(env, []).append(change)
    found: dict[str, str] = {}
    problems: list[str] = []
    for env, changes in needed.items():
        if environ.get(env):
            found[env] = environ[env]
            continue
        paths = ", ".join(change.path for change in changes)
        if client is None:
            problems.append(f"{env} (for {paths})")
            continue
        try:
            found[env] = _look_up(client, env, changes[0])
        except (AzureError, LookupError, KeyError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            problems.append(f"{env} (for {paths}; reading it from Azure failed: {reason})")
    if problems:
        raise ApimgenError(
            f"secrets not available: {'; '.join(problems)}",
            hint="grant the identity read access to those resources (listKeys for Redis), or "
            "set the variables from your pipeline's secret store",
        )
    return found
