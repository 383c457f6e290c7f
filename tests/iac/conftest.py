"""Rendered examples shared by the IaC tests (rendered once per session)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from apimgen.pipeline import render_spec
from tests.conftest import EXAMPLES

SPECS = sorted(EXAMPLES.glob("*/gateway.yaml"))
EXAMPLE_IDS = [p.parent.name for p in SPECS]


@cache
def rendered(example: str) -> dict[str, str]:
    return render_spec(EXAMPLES / example / "gateway.yaml")[1]


def write_rendered(example: str, root: Path) -> Path:
    for name, text in rendered(example).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root
