"""`.pre-commit-hooks.yaml` is a valid pre-commit manifest and each hook, run the way
pre-commit runs it (entry + args) in a project made by `apimgen init`, passes or fails as it
should."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pre_commit.clientlib import load_manifest

from apimgen.errors import ExitCode
from apimgen.scaffold import Answers, write_project
from tests.conftest import ROOT, run_cli

HOOKS = ROOT / ".pre-commit-hooks.yaml"


def _command(hook: dict[str, object]) -> list[str]:
    return [*shlex.split(str(hook["entry"])), *map(str, hook["args"])]  # type: ignore[call-overload]


def test_the_manifest_loads_with_pre_commits_schema() -> None:
    hooks = load_manifest(str(HOOKS))
    assert [h["id"] for h in hooks] == [
        "apimgen-validate", "apimgen-render-check", "apimgen-lint"
    ]  # fmt: skip
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert re.search(hook["files"], "gateway.yaml")
        assert re.search(hook["files"], "rendered/policies/global.xml")


def test_each_hook_passes_on_a_fresh_project_and_catches_its_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, Answers(ci="none"))
    monkeypatch.chdir(tmp_path)
    hooks = {h["id"]: _command(h) for h in load_manifest(str(HOOKS))}
    for command in hooks.values():
        assert command[0] == "apimgen"
        result = run_cli(*command[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"

    spec = tmp_path / "gateway.yaml"
    spec.write_text(spec.read_text().replace("tokens_per_minute: 1000", "tokens_per_minute: 2000"))
    stale = run_cli(*hooks["apimgen-render-check"][1:])
    assert stale.exit_code == ExitCode.CHANGES, "rendered/ no longer matches the spec"

    spec.write_text(spec.read_text().replace("backend: aoai", "backend: aoia"))
    assert run_cli(*hooks["apimgen-validate"][1:]).exit_code == ExitCode.ERROR
