"""Rendered Bicep parses (pycep-parser), is internally consistent, and uses only ARM property
names the Azure SDK models know."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from pycep import BicepParser

from tests.iac.arm_properties import MODELS, unknown_properties
from tests.iac.conftest import EXAMPLE_IDS, rendered


@cache
def parsed(example: str, name: str) -> dict[str, Any]:
    result = BicepParser().parse(text=rendered(example)[name])
    assert isinstance(result, dict)
    return result


def _bicep_files(example: str) -> list[str]:
    return [n for n in rendered(example) if n.endswith(".bicep")]


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_every_bicep_file_parses(example: str) -> None:
    files = _bicep_files(example)
    assert "bicep/main.bicep" in files
    assert any(name.startswith("bicep/modules/") for name in files)
    for name in files:
        document = parsed(example, name)
        assert document.get("resources") or document.get("modules"), name


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_resource_properties_exist_in_the_sdk_models(example: str) -> None:
    problems = []
    for name in _bicep_files(example):
        for symbol, resource in parsed(example, name).get("resources", {}).items():
            arm_type = resource["type"]
            assert arm_type in MODELS, f"{name}: {symbol} has unmapped type {arm_type}"
            for path in unknown_properties(arm_type, resource["config"]):
                problems.append(f"{name}: {symbol} ({arm_type}): {path}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_modules_exist_and_get_every_parameter_they_declare(example: str) -> None:
    main = parsed(example, "bicep/main.bicep")
    for symbol, module in main["modules"].items():
        path = f"bicep/{module['detail']['path']}"
        assert path in rendered(example), f"module {symbol} points at missing {path}"
        declared = set(parsed(example, path).get("parameters", {}))
        given = set(module["config"].get("params", {}))
        assert declared == given, f"module {symbol}: declared {declared}, given {given}"
        for dependency in module["config"].get("dependsOn", []):
            assert dependency in main["modules"]


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_policies_are_loaded_from_the_rendered_files(example: str) -> None:
    files = rendered(example)
    loaded = []
    for name in _bicep_files(example):
        for value in _walk(parsed(example, name)):
            if isinstance(value, dict) and value.get("type") == "load_text_content":
                path = posixpath.normpath(
                    posixpath.join(posixpath.dirname(name), value["parameters"]["file_path"])
                )
                assert path in files, f"{name} loads missing {path}"
                loaded.append(path)
    policy_files = {n for n in files if n.startswith("policies/")}
    assert set(loaded) == policy_files, "every policy file is deployed exactly from its file"


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_parameter_files_set_every_main_parameter(example: str) -> None:
    main_params = set(parsed(example, "bicep/main.bicep")["parameters"])
    param_files = [n for n in rendered(example) if n.endswith(".bicepparam")]
    assert "bicep/main.bicepparam" in param_files
    for name in param_files:
        text = rendered(example)[name]
        assert "using 'main.bicep'" in text
        assigned = {line.split()[1] for line in text.splitlines() if line.startswith("param ")}
        assert assigned == main_params, name
