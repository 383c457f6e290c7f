"""The user guide says what apimgen does: every command it shows runs, page by page, the way
a reader would type it (plan/apply against the local ARM fake), and every error message it
quotes still exists."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from apimgen.scaffold import Answers
from tests.conftest import ROOT
from tests.deploy.conftest import SECRETS, SUBSCRIPTION, Live

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def _commands(page: Path) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    assert {p.name for p in PAGES} == set(re.findall(r"(\S+\.md)", nav))


@pytest.fixture
def instances(live: Live) -> Live:
    """The instances the pages deploy to: a fresh `init` project and the production example."""
    new = Answers().checked()
    for group, service, insights in (
        (new.resource_group, new.name, f"{new.name}-insights"),
        ("rg-fabrikam-ai-stg", "fabrikam-ai-gateway-stg", "fabrikam-ai-gateway-insights"),
    ):
        live.state.add_service(SUBSCRIPTION, group, service)
        component = (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
            f"Microsoft.Insights/components/{insights}"
        )
        live.state.external[component.lower()] = {"properties": {"InstrumentationKey": "k"}}
    for name in SECRETS:
        live.env.pop(name)
    return live


@pytest.mark.parametrize("page", [p for p in PAGES if _commands(p)], ids=lambda p: p.stem)
def test_every_command_on_the_page_runs(
    page: Path, instances: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for command in _commands(page):
        words = shlex.split(command)
        if words[0] == "cd":
            monkeypatch.chdir(Path.cwd() / words[1])
            continue
        assert words[0] == "apimgen", f"{page.name}: only apimgen and cd lines: {command}"
        result = instances.run(*words[1:])
        assert result.exit_code == 0, f"{page.name}: {command}\n{result.output}"


def _quoted_messages(page: Path) -> list[str]:
    rows = re.findall(r"^\| `([^`]+)`", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return [row for row in rows if not re.fullmatch(r"APIM\d{3}", row)]


def test_every_message_the_troubleshooting_page_quotes_exists() -> None:
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "apimgen").rglob("*.py")]
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.err")]
    sources.append((ROOT / "tests" / "fakes" / "arm_apim.py").read_text())  # ARM error codes
    text = "\n".join(sources)
    messages = _quoted_messages(DOCS / "troubleshooting.md")
    assert len(messages) >= 20
    for message in messages:
        for fragment in message.split("…"):
            assert fragment.strip() in text, f"not an apimgen message any more: {message!r}"


def test_the_simulator_page_lists_exactly_the_policies_it_runs() -> None:
    from apimgen.simulate.policy.handlers.base import registry

    page = (DOCS / "simulator.md").read_text(encoding="utf-8")
    section = page.split("## Policies it runs", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z][a-z-]*)`", section)) - {"include-fragment", "id"}
    assert listed == set(registry())
