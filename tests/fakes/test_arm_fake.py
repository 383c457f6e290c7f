"""The ARM fake answers the real azure-mgmt-apimanagement client the way ARM does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.apimanagement import ApiManagementClient
from azure.mgmt.apimanagement.models import NamedValueCreateContract

from tests.fakes.arm_apim import ArmState, Fault, fake_arm

SUB, RG, SERVICE = "00000000-0000-0000-0000-000000000001", "rg-ai", "contoso-gw"


class StaticToken:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("test-token", int(time.time()) + 3600)


@pytest.fixture
def arm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ApiManagementClient, ArmState]]:
    with fake_arm(tmp_path) as (url, ca_bundle, state):
        state.add_service(SUB, RG, SERVICE)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_bundle))
        client = ApiManagementClient(
            StaticToken(),  # type: ignore[arg-type]
            SUB,
            base_url=url,
            credential_scopes=["https://management.azure.com/.default"],
            retry_total=0,
        )
        yield client, state


def test_named_values_round_trip_through_the_real_sdk(
    arm: tuple[ApiManagementClient, ArmState],
) -> None:
    client, state = arm
    with pytest.raises(ResourceNotFoundError):
        client.named_value.get(RG, SERVICE, "metrics-namespace")
    poller = client.named_value.begin_create_or_update(
        RG,
        SERVICE,
        "metrics-namespace",
        NamedValueCreateContract(display_name="metrics-namespace", value="openai"),
    )
    created = poller.result()
    assert created.value == "openai" and created.display_name == "metrics-namespace"
    listed = list(client.named_value.list_by_service(RG, SERVICE))
    assert [n.name for n in listed] == ["metrics-namespace"]
    assert all("api-version=2024-05-01" in path for _, path in state.requests)


def test_stale_etags_and_injected_faults_surface_as_errors(
    arm: tuple[ApiManagementClient, ArmState],
) -> None:
    client, state = arm
    contract = NamedValueCreateContract(display_name="n", value="1")
    client.named_value.begin_create_or_update(RG, SERVICE, "n", contract).result()
    with pytest.raises(HttpResponseError) as stale:
        client.named_value.begin_create_or_update(
            RG, SERVICE, "n", contract, if_match='"not-the-etag"'
        ).result()
    assert stale.value.status_code == 412
    state.faults.append(Fault("GET", "/namedValues/n", 503))
    with pytest.raises(HttpResponseError) as fault:
        client.named_value.get(RG, SERVICE, "n")
    assert fault.value.status_code == 503
    assert client.named_value.get(RG, SERVICE, "n").value == "1", "the fault happened once"
