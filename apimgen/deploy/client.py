"""The SDK client for a target: credential, endpoint, retries, long-running-operation polling.

``DefaultAzureCredential`` covers a developer's ``az login``, managed identities and workload
identity federation in pipelines; a pre-obtained token (``--access-token`` or
``APIMGEN_ACCESS_TOKEN``) covers pipelines that already hold one. Throttling and transient
server errors are retried by azure-core's retry policy, which honours ``Retry-After``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apimgen.deploy.target import CLOUDS, Target

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken
    from azure.mgmt.apimanagement import ApiManagementClient

__all__ = ["ClientSettings", "StaticTokenCredential", "make_client"]


@dataclass(frozen=True)
class ClientSettings:
    max_retries: int = 6  # per request, for 408/429/500/502/503/504 and connection errors
    backoff_factor: float = 0.8  # seconds, doubled per retry when there is no Retry-After
    backoff_max: int = 60
    polling_interval: float = 5.0  # seconds between polls when the server sends no Retry-After
    verbose: bool = False  # let the SDK's own warnings (each credential tried, …) through


class StaticTokenCredential:
    """A bearer token obtained elsewhere (``az account get-access-token``, a pipeline task)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        # The expiry is unknown; an expired token fails with 401, which is reported as such.
        return AccessToken(self._token, int(time.time()) + 3600)


def make_client(
    target: Target, access_token: str | None, settings: ClientSettings | None = None
) -> ApiManagementClient:
    from azure.mgmt.apimanagement import ApiManagementClient

    settings = settings or ClientSettings()
    # The SDK logs what apimgen reports itself (a failed credential chain, retries) as
    # warnings; they would repeat the error in a wall of text.
    logging.getLogger("azure").setLevel(logging.WARNING if settings.verbose else logging.ERROR)
    cloud = CLOUDS[target.cloud]
    credential: Any
    if access_token:
        credential = StaticTokenCredential(access_token)
    else:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(authority=cloud.authority)
    return ApiManagementClient(
        credential,
        target.subscription_id,
        base_url=target.endpoint,
        credential_scopes=[cloud.scope],
        retry_total=settings.max_retries,
        retry_backoff_factor=settings.backoff_factor,
        retry_backoff_max=settings.backoff_max,
        polling_interval=settings.polling_interval,
    )
