"""Every example renders, parses as XML, is deterministic, and matches its pinned snapshot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from apimgen.pipeline import render_spec
from tests.conftest import EXAMPLES

SPECS = sorted(p for p in EXAMPLES.glob("*/*.yaml") if p.parent.name != "scenarios")


def _name(spec: Path) -> str:
    return f"{spec.parent.name}/{spec.stem}" if spec.stem != "gateway" else spec.parent.name


def _nested(files: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, text in files.items():
        node = tree
        *folders, leaf = name.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = text
    return tree


@pytest.mark.parametrize("spec", SPECS, ids=_name)
def test_example_matches_snapshot(spec: Path, snapshot: Any) -> None:
    _, files = render_spec(spec)
    snapshot.snapshot_dir = Path(__file__).parent / "snapshots" / _name(spec)
    snapshot.assert_match_dir(_nested(files), "rendered")


@pytest.mark.parametrize("spec", SPECS, ids=_name)
def test_every_policy_file_is_well_formed_xml(spec: Path) -> None:
    _, files = render_spec(spec)
    policy_files = [name for name in files if name.endswith(".xml")]
    assert "policies/global.xml" in policy_files
    for name in policy_files:
        root = ET.fromstring(files[name])
        expected_root = "fragment" if "/fragments/" in name else "policies"
        assert root.tag == expected_root, name
        if expected_root == "policies":
            assert [child.tag for child in root] == ["inbound", "backend", "outbound", "on-error"]


@pytest.mark.parametrize("spec", SPECS, ids=_name)
def test_rendering_is_byte_identical_across_runs(spec: Path) -> None:
    assert render_spec(spec)[1] == render_spec(spec)[1]


def test_there_are_at_least_the_two_documented_examples() -> None:
    assert {_name(p) for p in SPECS} >= {"seed", "production", "seed/step1", "seed/step3"}
