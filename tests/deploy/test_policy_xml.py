"""Canonical policy XML: APIM's reformatting is no change, a real edit is a readable diff."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apimgen.deploy.policy_xml import canonical_policy, policy_diff
from apimgen.simulate.policy.reader import PolicyReadError, read_policy

RENDERED = sorted((Path(__file__).parents[1] / "render" / "snapshots").rglob("policies/**/*.xml"))


def apim_reformat(text: str) -> str:
    """What a GET gives back: tabs, CRLF, reversed attributes, &quot; in expressions,
    <x></x> for <x />, comments dropped."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    root = read_policy(text)
    lines: list[str] = []

    def write(element, depth):  # type: ignore[no-untyped-def]
        pad = "\t" * depth
        attributes = "".join(
            ' {}="{}"'.format(name, element.attributes[name].replace("&", "&amp;")
                              .replace('"', "&quot;").replace("<", "&lt;"))
            for name in reversed(list(element.attributes))
        )  # fmt: skip
        text_ = (element.text or "").strip().replace("&", "&amp;").replace("<", "&lt;")
        if not element.children:
            lines.append(f"{pad}<{element.name}{attributes}>{text_}</{element.name}>")
            return
        lines.append(f"{pad}<{element.name}{attributes}>")
        for child in element.children:
            write(child, depth + 1)
        lines.append(f"{pad}</{element.name}>")

    write(root, 0)
    return "\r\n".join(lines)


@pytest.mark.parametrize("path", RENDERED, ids=lambda p: str(p.relative_to(p.parents[3])))
def test_apims_reformatting_of_every_rendered_policy_is_no_change(path: Path) -> None:
    ours = path.read_text(encoding="utf-8")
    theirs = apim_reformat(ours)
    assert theirs != ours
    assert canonical_policy(theirs) == canonical_policy(ours)
    assert policy_diff(theirs, ours, "apis/x.xml") == ""


def test_a_real_change_is_a_unified_diff_of_the_changed_line() -> None:
    limit = '<llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="1000" />'
    live = f"<policies><inbound><base />{limit}</inbound></policies>"
    desired = live.replace('"1000"', '"2000"')
    diff = policy_diff(live, desired, "apis/openai.xml")
    assert diff.startswith("--- live/apis/openai.xml\n+++ spec/apis/openai.xml\n")
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")
    ]
    assert len(changed) == 2
    assert 'tokens-per-minute="1000"' in changed[0] and 'tokens-per-minute="2000"' in changed[1]


def test_canonical_form_is_stable_and_malformed_xml_is_located() -> None:
    text = "<policies>\n  <inbound>\n    <base />\n  </inbound>\n</policies>\n"
    assert canonical_policy(canonical_policy(text)) == canonical_policy(text)
    with pytest.raises(PolicyReadError) as raised:
        canonical_policy("<policies><inbound></policies>", "apis/bad.xml")
    assert raised.value.location is not None and raised.value.location.file == "apis/bad.xml"
