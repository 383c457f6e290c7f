"""``apimgen init``: a new project that validates, renders, lints and simulates green at once.

The project is a spec (with the ``yaml-language-server`` line that makes editors check it
against the schema written next to it), a scenario with expectations, the rendered artifacts
(committed, so ``render --check`` in CI shows reviewers every policy change), a ``.gitignore``,
and the CI recipe of the user's choice copied from ``examples/ci``. Every file is generated and
checked in memory first; nothing is written when any of them already exists.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from apimgen.errors import ApimgenError, OutputError

__all__ = ["CI_RECIPES", "Answers", "scaffold_files", "write_project"]

# --ci choice → (recipe in examples/ci, where the project keeps it)
CI_RECIPES: dict[str, tuple[str, str] | None] = {
    "github": ("github-actions.yml", ".github/workflows/apimgen.yml"),
    "azure-pipelines": ("azure-pipelines.yml", "azure-pipelines.yml"),
    "none": None,
}
SPEC_FILE = "gateway.yaml"
SCENARIO_FILE = "scenario.yaml"
SCHEMA_FILE = "apimgen.schema.json"
RENDERED_DIR = "rendered"
MIN_TPM, MAX_TPM = 1000, 20000
_NAME = re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9-]{0,38}[a-zA-Z0-9])?$")
_GROUP = re.compile(r"^[-\w._()]{1,90}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Answers:
    name: str = "my-ai-gateway"
    resource_group: str = ""  # default: rg-<name>
    location: str = "swedencentral"
    publisher_name: str = "Platform team"
    publisher_email: str = "platform@example.com"
    tokens_per_minute: int = 1000
    ci: str = "github"

    def checked(self) -> Answers:
        """The answers with defaults filled in; a clear error for each bad one."""
        problems = []
        if not _NAME.match(self.name):
            problems.append(
                f"--name {self.name!r}: 1-40 letters, digits and hyphens, starting with a "
                "letter (it also names the OpenAI account and App Insights)"
            )
        group = self.resource_group or f"rg-{self.name}"
        if not _GROUP.match(group):
            problems.append(f"--resource-group {group!r}: not a valid resource group name")
        if not _EMAIL.match(self.publisher_email):
            problems.append(f"--publisher-email {self.publisher_email!r}: not an email address")
        if not MIN_TPM <= self.tokens_per_minute <= MAX_TPM:
            problems.append(
                f"--tokens-per-minute {self.tokens_per_minute}: between {MIN_TPM} and {MAX_TPM} "
                "(the starter scenario's traffic is sized for that range)"
            )
        if self.ci not in CI_RECIPES:
            problems.append(f"--ci {self.ci!r}: one of {', '.join(CI_RECIPES)}")
        if problems:
            raise ApimgenError("; ".join(problems), hint="fix the flags and run init again")
        return Answers(
            self.name,
            group,
            self.location,
            self.publisher_name,
            self.publisher_email,
            self.tokens_per_minute,
            self.ci,
        )


def _render(template: str, answers: Answers) -> str:
    from apimgen.render.environment import environment

    # Enough calls that team-a spends about twice its limit (~320 tokens per call).
    heavy_per_minute = math.ceil(answers.tokens_per_minute * 2 / 320) + 1
    return (
        environment()
        .get_template(f"init/{template}")
        .render(heavy_per_minute=heavy_per_minute, **answers.__dict__)
    )


def scaffold_files(answers: Answers) -> dict[str, str]:
    """Relative path → text of every file init writes, except the rendered folder."""
    from apimgen.resources import bundled_dir
    from apimgen.spec.schema import spec_json_schema

    files = {
        SPEC_FILE: _render("gateway.yaml.jinja", answers),
        SCENARIO_FILE: _render("scenario.yaml.jinja", answers),
        SCHEMA_FILE: spec_json_schema(),
        ".gitignore": _render("gitignore.jinja", answers),
    }
    recipe = CI_RECIPES[answers.ci]
    if recipe is not None:
        source, target = recipe
        files[target] = (bundled_dir("examples") / "ci" / source).read_text(encoding="utf-8")
    return files


def _check_green(files: dict[str, str]) -> dict[str, str]:
    """Validate and render the new spec, lint it, and run its scenario, all before writing."""
    from apimgen.lint.runner import lint_paths
    from apimgen.pipeline import render_spec
    from apimgen.simulate.run import run_scenario
    from apimgen.simulate.scenario import load_scenario

    with tempfile.TemporaryDirectory(prefix="apimgen-init-") as folder:
        for name in (SPEC_FILE, SCENARIO_FILE):
            (Path(folder) / name).write_text(files[name], encoding="utf-8")
        _, rendered = render_spec(Path(folder) / SPEC_FILE)
        findings = lint_paths([Path(folder) / SPEC_FILE]).findings
        if findings:
            raise AssertionError(f"the starter spec has lint findings: {findings}")
        result = run_scenario(load_scenario(Path(folder) / SCENARIO_FILE))
        if not result.passed:
            raise AssertionError("the starter scenario's expectations fail")
    return rendered


def write_project(directory: Path, answers: Answers) -> list[str]:
    """Write the project; returns the paths written. Nothing is written on any conflict."""
    from apimgen.render.writer import write_tree

    answers = answers.checked()
    files = scaffold_files(answers)
    existing = sorted(name for name in [*files, RENDERED_DIR] if (directory / name).exists())
    if existing:
        raise OutputError(
            f"{directory}: would overwrite {', '.join(existing)}",
            hint="run init in a new or empty directory, or move those files away",
        )
    rendered = _check_green(files)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f".{target.name}.apimgen-init")
            staging.write_text(text, encoding="utf-8")
            os.replace(staging, target)
    except OSError as error:
        raise OutputError(f"{directory}: cannot write: {error.strerror}") from None
    write_tree(rendered, directory / RENDERED_DIR)
    return [*files, f"{RENDERED_DIR}/"]
