"""The CI recipes in examples/ci, as `apimgen init` lays them into a new project: each parses,
has the permissions and publishing steps it claims, stores no secret, and every apimgen
command in it runs green in that project (plan and apply against the local ARM fake)."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from apimgen.scaffold import CI_RECIPES, Answers, write_project
from tests.conftest import EXAMPLES
from tests.deploy.conftest import SECRETS, SUBSCRIPTION, Live

CHANGES = 2


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _scripts(workflow: Any) -> list[str]:
    """Shell lines of every step, in file order."""
    lines = []
    for node in _walk(workflow):
        for key in ("run", "script", "inlineScript"):
            if isinstance(node.get(key), str):
                lines += [line.strip() for line in node[key].splitlines() if line.strip()]
    return lines


def _apimgen_commands(workflow: Any) -> list[str]:
    return [line for line in _scripts(workflow) if line.startswith("apimgen ")]


@pytest.fixture
def project(live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh project and a live instance for it that holds nothing yet."""
    answers = Answers().checked()
    live.state.add_service(SUBSCRIPTION, answers.resource_group, answers.name)
    insights = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{answers.resource_group}/providers/"
        f"Microsoft.Insights/components/{answers.name}-insights"
    )
    live.state.external[insights.lower()] = {"properties": {"InstrumentationKey": "k"}}
    for name in SECRETS:  # the recipes store no secret
        live.env.pop(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _run_all(live: Live, project: Path, commands: list[str]) -> None:
    for command in commands:
        words, target = shlex.split(command), None
        if ">" in words:
            words, target = words[: words.index(">")], words[words.index(">") + 1]
        result = live.run(*words[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
        if target:
            (project / target).write_text(result.stdout)


def test_github_actions_recipe(live: Live, project: Path) -> None:
    write_project(project, Answers(ci="github"))
    text = (project / ".github/workflows/apimgen.yml").read_text()
    assert text == (EXAMPLES / "ci" / "github-actions.yml").read_text()
    assert "secrets." not in text, "OIDC: no stored secret"
    workflow = yaml.safe_load(text)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    check, apply = workflow["jobs"]["check"], workflow["jobs"]["apply"]
    for job in (check, apply):
        assert job["permissions"]["id-token"] == "write"
        assert any(str(s.get("uses", "")).startswith("azure/login@") for s in job["steps"])
    uses = {str(s.get("uses", "")).split("@")[0]: s for s in check["steps"]}
    assert uses["github/codeql-action/upload-sarif"]["with"]["sarif_file"] == "apimgen.sarif"
    assert check["permissions"]["security-events"] == "write"
    assert uses["EnricoMi/publish-unit-test-result-action"]["with"]["files"] == "simulation.xml"
    assert any("gh pr comment" in line and "plan.md" in line for line in _scripts(check))

    _run_pipeline(live, project, check, apply, "apimgen.sarif")


def test_azure_pipelines_recipe(live: Live, project: Path) -> None:
    write_project(project, Answers(ci="azure-pipelines"))
    text = (project / "azure-pipelines.yml").read_text()
    assert text == (EXAMPLES / "ci" / "azure-pipelines.yml").read_text()
    pipeline = yaml.safe_load(text)
    assert pipeline["trigger"]["branches"]["include"] == ["main"]
    assert pipeline["pr"]["branches"]["include"] == ["main"]
    check, apply = pipeline["stages"]
    tasks = {str(n.get("task")): n for n in _walk(check) if "task" in n}
    assert tasks["PublishTestResults@2"]["inputs"]["testResultsFiles"] == "simulation.xml"
    assert tasks["PublishTestResults@2"]["inputs"]["testResultsFormat"] == "JUnit"
    assert tasks["PublishBuildArtifacts@1"]["inputs"]["artifactName"] == "CodeAnalysisLogs"
    assert tasks["AzureCLI@2"]["inputs"]["azureSubscription"] == "$(serviceConnection)"
    assert any("pullRequests" in line and "threads" in line for line in _scripts(check))
    assert "$(System.AccessToken)" in text, "the comment is posted with the build's own token"
    assert pipeline["variables"] == {"serviceConnection": "apim-workload-identity"}, "no secret"
    _run_pipeline(live, project, check, apply, "CodeAnalysisLogs/apimgen.sarif")


def _run_pipeline(live: Live, project: Path, check: Any, apply: Any, sarif: str) -> None:
    """The pull-request commands in order, their outputs, then the main-branch apply."""
    pull_request = _apimgen_commands(check)
    assert [c.split()[1] for c in pull_request] == [
        "validate", "render", "lint", "simulate", "plan"
    ]  # fmt: skip
    assert f"--sarif {sarif}" in pull_request[2]
    assert "--junit simulation.xml" in pull_request[3]
    assert "--format markdown > plan.md" in pull_request[4]
    _run_all(live, project, pull_request)
    _check_outputs(project, sarif)
    main = _apimgen_commands(apply)
    assert main == ["apimgen apply gateway.yaml --auto-approve"]
    _run_all(live, project, main)
    assert live.run("plan", "gateway.yaml", "--detailed-exitcode").exit_code == 0


def _check_outputs(project: Path, sarif: str) -> None:
    report = json.loads((project / sarif).read_text())
    assert report["version"] == "2.1.0"
    suite = ET.parse(project / "simulation.xml").getroot()
    assert suite.find(".//testcase") is not None and suite.find(".//failure") is None
    plan = (project / "plan.md").read_text()
    assert plan.startswith("### apimgen plan for `my-ai-gateway`") and "to create" in plan


def test_every_recipe_is_offered_by_init() -> None:
    offered = {v[0] for v in CI_RECIPES.values() if v}
    assert offered == {p.name for p in (EXAMPLES / "ci").glob("*.yml")}


def test_recipes_install_the_version_that_made_the_project() -> None:
    from apimgen import __version__

    for recipe in (EXAMPLES / "ci").glob("*.yml"):
        installs = [line for line in _scripts(yaml.safe_load(recipe.read_text())) if "pip" in line]
        assert installs, recipe.name
        for line in installs:
            assert f'pip install "apimgen=={__version__}"' in line, f"{recipe.name}: {line}"
