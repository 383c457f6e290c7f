"""A live-instance stand-in for plan/apply tests: the HTTPS fake of the management API with the
service already created, and a CLI runner whose environment points the real SDK client at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from apimgen.cli.app import _hoist_global_flags, app
from tests.conftest import EXAMPLES
from tests.fakes.arm_apim import ArmState, fake_arm

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
SEED = EXAMPLES / "seed" / "gateway.yaml"
PRODUCTION = EXAMPLES / "production" / "gateway.yaml"
EXISTING = EXAMPLES / "existing-resources" / "gateway.yaml"
# (spec, service, resource group) as each example names them.
INSTANCES = {
    SEED: ("contoso-ai-gateway", "rg-ai-gateway"),
    PRODUCTION: ("fabrikam-ai-gateway", "rg-fabrikam-ai"),
    EXISTING: ("northwind-apim", "rg-northwind-platform"),
}
SECRETS = {
    "APIMGEN_APP_INSIGHTS_INSTRUMENTATION_KEY": "00000000-1111-2222-3333-instrumentkey",
    "APIMGEN_REDIS_CONNECTION_STRING": "cache.example:10000,password=redis-secret-value,ssl=True",
}


@dataclass
class Live:
    """The fake and how to run the CLI against it."""

    state: ArmState
    env: dict[str, str]

    def run(self, *args: str, env: dict[str, str | None] | None = None) -> Any:
        merged: dict[str, str | None] = {**self.env, **(env or {})}
        return CliRunner().invoke(app, _hoist_global_flags(list(args)), env=merged)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.state.requests if m in ("PUT", "DELETE")]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with fake_arm(tmp_path) as (url, ca_bundle, state):
        for service, group in set(INSTANCES.values()):
            state.add_service(SUBSCRIPTION, group, service)
        env = {
            "REQUESTS_CA_BUNDLE": str(ca_bundle),
            "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
            "APIMGEN_ARM_ENDPOINT": url,
            "APIMGEN_ACCESS_TOKEN": "test-token",
            **SECRETS,
        }
        yield Live(state, env)
