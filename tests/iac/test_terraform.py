"""Rendered Terraform parses (python-hcl2), passes `terraform fmt -check` when terraform is
installed, uses only azurerm arguments of the provider schema, and azapi bodies whose property
names the Azure SDK models know."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.iac.arm_properties import unknown_properties
from tests.iac.conftest import EXAMPLE_IDS, rendered, write_rendered

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "azurerm.json").read_text())
META_ARGUMENTS = {"depends_on", "count", "for_each", "provider", "lifecycle"}


def _unquote(text: str) -> str:
    return text[1:-1] if text.startswith('"') and text.endswith('"') else text


@cache
def parsed(example: str, name: str) -> dict[str, Any]:
    result = hcl2.loads(rendered(example)[name])
    assert isinstance(result, dict)
    return result


def _tf_files(example: str) -> list[str]:
    return [n for n in rendered(example) if n.endswith((".tf", ".tfvars"))]


def blocks(example: str, kind: str) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(file, type, label, body) for every `resource` or `data` block."""
    for name in _tf_files(example):
        for entry in parsed(example, name).get(kind, []):
            for tf_type, labelled in entry.items():
                for label, body in labelled.items():
                    yield name, _unquote(tf_type), _unquote(label), body


def _arguments_problems(body: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    problems = []
    for key, value in body.items():
        if key.startswith("__") or key in META_ARGUMENTS:
            continue
        if key not in schema:
            problems.append(f"{where}: unknown argument '{key}'")
            continue
        nested = schema[key].get("block")
        if nested is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    problems += _arguments_problems(item, nested, f"{where}.{key}")
    for key, rule in schema.items():
        if rule.get("required") and key not in body:
            problems.append(f"{where}: missing required argument '{key}'")
    return problems


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_every_terraform_file_parses(example: str) -> None:
    names = _tf_files(example)
    for expected in ("versions.tf", "variables.tf", "outputs.tf", "terraform.tfvars"):
        assert f"terraform/{expected}" in names
    for name in names:
        assert isinstance(parsed(example, name), dict)


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_azurerm_arguments_match_the_provider_schema(example: str) -> None:
    problems = []
    for kind, table in (("resource", "resources"), ("data", "data_sources")):
        for name, tf_type, label, body in blocks(example, kind):
            if not tf_type.startswith("azurerm_"):
                continue
            schema = SCHEMA[table].get(tf_type)
            assert schema is not None, f"{name}: {tf_type} is not in the extracted schema"
            problems += _arguments_problems(body, schema, f"{name}: {tf_type}.{label}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_azapi_bodies_use_known_arm_properties(example: str) -> None:
    problems = []
    azapi = [b for b in blocks(example, "resource") if b[1] == "azapi_resource"]
    assert azapi, "pools, diagnostics or App Insights need azapi"
    for name, _, label, body in azapi:
        arm_type = _unquote(body["type"]).split("@")[0]
        payload = {_unquote(k): v for k, v in body["body"].items()}
        problems += [f"{name}: {label}: {p}" for p in unknown_properties(arm_type, payload)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_every_azapi_resource_says_why(example: str) -> None:
    for name in _tf_files(example):
        text = rendered(example)[name]
        for match in re.finditer(r'^resource "azapi_resource"', text, flags=re.M):
            before = text[: match.start()].rstrip("\n").splitlines()
            assert before and before[-1].startswith("# "), f"{name}: azapi without a reason"


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_referenced_files_variables_and_resources_exist(example: str) -> None:
    files = rendered(example)
    text = "\n".join(files[n] for n in _tf_files(example) if n.endswith(".tf"))
    for path in re.findall(r'file\("\$\{path\.module\}/\.\./([^"]+)"\)', text):
        assert path in files, f"file() of missing {path}"
    declared = {label for kind in ("resource", "data") for _, _, label, _ in blocks(example, kind)}
    for reference in re.findall(r"\b(azurerm_[a-z_]+|azapi_resource)\.([a-z0-9_]+)\.", text):
        assert reference[1] in declared or reference[0] == "azurerm_resource_group", reference
    variables = {
        _unquote(label)
        for entry in parsed(example, "terraform/variables.tf")["variable"]
        for label in entry
    }
    assert set(re.findall(r"\bvar\.([a-z_]+)", text)) <= variables
    for name in (n for n in files if n.endswith(".tfvars")):
        assert set(parsed(example, name)) - {"__comments__"} == variables, name


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_terraform_fmt_check(example: str, tmp_path: Path) -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH; `terraform fmt -check` was not run")
    root = write_rendered(example, tmp_path)
    done = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(root / "terraform")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_subset_names_its_provider_version() -> None:
    assert SCHEMA["provider"] == "hashicorp/azurerm"
    assert SCHEMA["provider_version"].startswith("4.")
