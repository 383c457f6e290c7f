"""`apimgen init`: a new project is green straight away, whatever the answers."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from apimgen.cli import init_command
from apimgen.cli.app import app
from apimgen.errors import ExitCode
from tests.conftest import run_cli


def _green(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    for command in (
        ["validate", "gateway.yaml"],
        ["render", "gateway.yaml", "-o", "rendered", "--check"],
        ["lint", "gateway.yaml"],
        ["simulate", "scenario.yaml"],
    ):
        result = run_cli(*command)
        assert result.exit_code == 0, f"{command}\n{result.output}"


def test_init_with_defaults_is_green(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "gateway-project"
    result = run_cli("init", str(project), "--defaults")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in project.iterdir()) == [
        ".github", ".gitignore", "apimgen.schema.json", "gateway.yaml", "rendered", "scenario.yaml"
    ]  # fmt: skip
    spec_text = (project / "gateway.yaml").read_text()
    assert spec_text.splitlines()[0] == "# yaml-language-server: $schema=./apimgen.schema.json"
    schema = json.loads((project / "apimgen.schema.json").read_text())
    assert (project / "apimgen.schema.json").read_text() == run_cli("schema").stdout
    jsonschema.validate(yaml.safe_load(spec_text), schema)  # what an editor checks
    _green(project, monkeypatch)


def test_answers_on_a_terminal_end_up_in_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(init_command, "_interactive", lambda: True)
    # "many" is not a number: the question is asked again.
    answers = (
        "contoso-gw\nrg-contoso\nwesteurope\nops@contoso.example\nmany\n5000\nazure-pipelines\n"
    )
    result = CliRunner().invoke(app, ["init", str(tmp_path / "p")], input=answers)
    assert result.exit_code == 0, result.output
    assert result.output.count("Tokens per minute per subscription") == 2, "asked again"
    spec = yaml.safe_load((tmp_path / "p" / "gateway.yaml").read_text())
    assert spec["gateway"]["name"] == "contoso-gw"
    assert spec["gateway"]["resource_group"] == "rg-contoso"
    assert spec["gateway"]["location"] == "westeurope"
    assert spec["apis"][0]["token_limits"][0]["tokens_per_minute"] == 5000
    assert (tmp_path / "p" / "azure-pipelines.yml").is_file()
    assert not (tmp_path / "p" / ".github").exists()
    _green(tmp_path / "p", monkeypatch)


def test_flags_answer_without_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli(
        "init", str(tmp_path), "--name", "fabrikam", "--tokens-per-minute", "20000", "--ci", "none"
    )
    assert result.exit_code == 0, result.output
    assert "rg-fabrikam" in (tmp_path / "gateway.yaml").read_text()
    assert not (tmp_path / ".github").exists() and not (tmp_path / "azure-pipelines.yml").exists()
    _green(tmp_path, monkeypatch)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--name", "9-lives"], "--name '9-lives'"),
        (["--tokens-per-minute", "10"], "--tokens-per-minute 10: between 1000 and 20000"),
        (["--ci", "jenkins"], "--ci 'jenkins': one of github, azure-pipelines, none"),
        (["--publisher-email", "nobody"], "--publisher-email 'nobody'"),
    ],
)
def test_bad_answers_are_refused_before_anything_is_written(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    result = run_cli("init", str(tmp_path / "p"), "--defaults", *flags)
    assert result.exit_code == ExitCode.ERROR
    assert message in result.stderr
    assert not (tmp_path / "p").exists()


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text("mine\n")
    result = run_cli("init", str(tmp_path), "--defaults")
    assert result.exit_code == ExitCode.ERROR
    assert "would overwrite gateway.yaml" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["gateway.yaml"]
    assert (tmp_path / "gateway.yaml").read_text() == "mine\n"
