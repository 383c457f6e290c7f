"""The README's plan/apply commands and its pipeline step run, against the local fake."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from apimgen.cli import deploy_commands
from apimgen.cli.app import _hoist_global_flags, app
from tests.conftest import ROOT
from tests.deploy.conftest import SECRETS, SUBSCRIPTION, Live

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _deploy_section() -> str:
    start = README.index("## Plan and apply against a live instance")
    return README[start : README.index("\n## ", start + 3)]


@pytest.fixture
def staging(live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Live:
    live.state.add_service(SUBSCRIPTION, "rg-fabrikam-ai-stg", "fabrikam-ai-gateway-stg")
    insights = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fabrikam-ai-stg/providers/"
        "Microsoft.Insights/components/fabrikam-ai-gateway-insights"
    )
    live.state.external[insights.lower()] = {"properties": {"InstrumentationKey": "k"}}
    for name in SECRETS:  # the pipeline holds no secret: apply reads it from Azure
        live.env.pop(name)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return live


def test_the_terminal_commands_plan_and_apply(
    staging: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = re.search(r"```bash\n(.*?)```", _deploy_section(), flags=re.DOTALL)
    assert block is not None
    commands = [c.split("#")[0].strip() for c in block.group(1).splitlines()]
    commands = [c for c in commands if c.startswith("apimgen ")]
    assert [c.split()[1] for c in commands] == ["plan", "apply"]
    monkeypatch.setattr(deploy_commands, "_interactive", lambda: True)
    for command in commands:
        result = CliRunner().invoke(
            app, _hoist_global_flags(shlex.split(command)[1:]), env=staging.env, input="yes\n"
        )
        assert result.exit_code == 0, f"{command}\n{result.output}"
    assert any(p.startswith("products/premium") for p in staging.state.paths())


def test_the_pipeline_step_runs_its_apimgen_commands(staging: Live) -> None:
    block = re.search(r"```yaml\n(permissions:.*?)```", _deploy_section(), flags=re.DOTALL)
    assert block is not None
    workflow = yaml.safe_load(block.group(1))
    assert workflow["permissions"]["id-token"] == "write", "OIDC, no stored secret"
    steps = workflow["jobs"]["gateway"]["steps"]
    commands = [s["run"] for s in steps if str(s.get("run", "")).startswith("apimgen ")]
    assert [c.split()[1] for c in commands] == ["validate", "plan", "apply"]
    for command in commands:
        result = staging.run(*shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
    again = staging.run("plan", "examples/production/gateway.yaml", "-e", "staging",
                        "--detailed-exitcode")  # fmt: skip
    assert again.exit_code == 0, again.output
