"""Shared test helpers: a CLI runner with fixed width and no colour, and spec factories."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from apimgen.cli.app import _hoist_global_flags, app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin terminal width and colour so CLI output is comparable byte for byte."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("APIMGEN_DEBUG", raising=False)
    # Tests write scenarios into temporary folders that name the examples' specs: outside a
    # scenario's own tree, which a user allows the same way (--allow-path). Tests of the
    # confinement itself remove it.
    monkeypatch.setenv("APIMGEN_ALLOW_PATH", str(EXAMPLES))


def run_cli(*args: str) -> Any:
    """Invoke the CLI in-process, global flags hoisted exactly as the console script does."""
    return CliRunner().invoke(app, _hoist_global_flags(list(args)))


_BASE_SPEC: dict[str, Any] = {
    "apimgen": 1,
    "gateway": {
        "name": "test-gw",
        "resource_group": "rg-test",
        "location": "swedencentral",
        "publisher_name": "Test",
        "publisher_email": "test@example.com",
    },
    "backends": [{"name": "aoai", "url": "https://test.openai.azure.com/openai"}],
    "apis": [{"name": "openai", "path": "openai", "backend": "aoai"}],
}


def make_spec(**overrides: Any) -> dict[str, Any]:
    """A minimal valid spec as data; top-level keys are replaced by ``overrides``."""
    spec = copy.deepcopy(_BASE_SPEC)
    for key, value in overrides.items():
        spec[key.rstrip("_")] = value
    return spec


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
