"""The SDK client is aimed at the right cloud with the right credential."""

from __future__ import annotations

import pytest
from azure.identity import DefaultAzureCredential

from apimgen.deploy.client import ClientSettings, StaticTokenCredential, make_client
from apimgen.deploy.session import TargetOptions, resolve_target
from apimgen.deploy.target import Target
from apimgen.errors import ApimgenError


def _scopes(client: object) -> list[str]:
    policy = client._config.authentication_policy  # type: ignore[attr-defined]
    return list(policy._scopes)


@pytest.mark.parametrize(
    ("cloud", "endpoint"),
    [
        ("AzureCloud", "https://management.azure.com"),
        ("AzureChinaCloud", "https://management.chinacloudapi.cn"),
        ("AzureUSGovernment", "https://management.usgovcloudapi.net"),
    ],
)
def test_each_cloud_has_its_endpoint_and_token_audience(cloud: str, endpoint: str) -> None:
    client = make_client(Target("sub", "rg", "gw", cloud), "token")
    assert client._client._base_url == endpoint
    assert _scopes(client) == [f"{endpoint}/.default"]


def test_without_a_token_the_default_credential_chain_is_used() -> None:
    client = make_client(Target("sub", "rg", "gw", "AzureChinaCloud"), None)
    credential = client._config.credential
    assert isinstance(credential, DefaultAzureCredential)


def test_a_given_token_is_sent_as_is_and_retries_are_configurable() -> None:
    target = Target("sub", "rg", "gw", arm_endpoint="https://arm.local:8443/")
    client = make_client(target, "abc", ClientSettings(max_retries=2))
    assert isinstance(client._config.credential, StaticTokenCredential)
    assert client._config.credential.get_token("x").token == "abc"
    assert client._config.retry_policy.total_retries == 2
    assert client._client._base_url == "https://arm.local:8443"


def test_an_unknown_cloud_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ApimgenError) as error:
        resolve_target(TargetOptions("sub", "rg", "gw", cloud="Mars"), None, None)
    assert "unknown cloud 'Mars'" in error.value.message
    assert "AzureChinaCloud" in error.value.hint


def test_sdk_warnings_stay_quiet_unless_verbose() -> None:
    import logging

    make_client(Target("sub", "rg", "gw"), "t")
    assert not logging.getLogger("azure.identity").isEnabledFor(logging.WARNING)
    make_client(Target("sub", "rg", "gw"), "t", ClientSettings(verbose=True))
    assert logging.getLogger("azure.identity").isEnabledFor(logging.WARNING)


def test_failures_raised_before_any_answer_have_no_status() -> None:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    from apimgen.deploy.apply import describe_failure

    assert describe_failure(ClientAuthenticationError("no credential worked\nmore")) == (
        "no credential worked"
    )
    assert describe_failure(HttpResponseError("boom")) == "boom"
