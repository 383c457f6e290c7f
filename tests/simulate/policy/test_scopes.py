"""Scope inheritance with <base/>, fragments, and reading a rendered policies folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from apimgen.pipeline import render_spec
from apimgen.render.writer import write_tree
from apimgen.simulate.policy.reader import PolicyReadError, read_policy
from apimgen.simulate.policy.scopes import effective_pipeline, load_policy_folder
from tests.conftest import EXAMPLES


def _doc(inbound: str, outbound: str = "<base />") -> str:
    return (
        f"<policies><inbound>{inbound}</inbound><backend><base /></backend>"
        f"<outbound>{outbound}</outbound><on-error><base /></on-error></policies>"
    )


def _names(pipeline_section: tuple[object, ...]) -> list[str]:
    return [
        getattr(s, "attributes", {}).get("name", getattr(s, "name", "")) for s in pipeline_section
    ]


GLOBAL = read_policy(
    '<policies><inbound><set-header name="g" /></inbound><backend><forward-request /></backend>'
    "<outbound /><on-error /></policies>"
)


def test_base_pulls_in_the_parent_section_at_its_position() -> None:
    api = read_policy(_doc('<set-header name="before" /><base /><set-header name="after" />'))
    pipeline = effective_pipeline([GLOBAL, None, api, None], {})
    assert _names(pipeline.section("inbound")) == ["before", "g", "after"]
    assert [s.name for s in pipeline.section("backend")] == ["forward-request"]


def test_missing_base_drops_inheritance_for_that_section_only() -> None:
    api = read_policy(_doc('<set-header name="only" />'))
    pipeline = effective_pipeline([GLOBAL, None, api, None], {})
    assert _names(pipeline.section("inbound")) == ["only"]
    assert [s.name for s in pipeline.section("backend")] == ["forward-request"]


def test_four_scopes_nest_in_order() -> None:
    product = read_policy(_doc('<base /><set-header name="product" />'))
    api = read_policy(_doc('<base /><set-header name="api" />'))
    operation = read_policy(_doc('<set-header name="op" /><base />'))
    pipeline = effective_pipeline([GLOBAL, product, api, operation], {})
    assert _names(pipeline.section("inbound")) == ["op", "g", "product", "api"]


def test_fragments_are_inlined_recursively_and_cycles_refused() -> None:
    fragments = {
        "outer": read_policy(
            '<fragment><set-header name="o" /><include-fragment fragment-id="inner" /></fragment>'
        ),
        "inner": read_policy('<fragment><set-header name="i" /></fragment>'),
        "loop": read_policy('<fragment><include-fragment fragment-id="loop" /></fragment>'),
    }
    api = read_policy(_doc('<base /><include-fragment fragment-id="outer" />'))
    pipeline = effective_pipeline([GLOBAL, None, api, None], fragments)
    assert _names(pipeline.section("inbound")) == ["g", "o", "i"]
    looping = read_policy(_doc('<include-fragment fragment-id="loop" />'))
    with pytest.raises(PolicyReadError, match="includes itself"):
        effective_pipeline([GLOBAL, None, looping, None], fragments)
    unknown = read_policy(_doc('<include-fragment fragment-id="nope" />'))
    with pytest.raises(PolicyReadError, match="'nope' is not defined"):
        effective_pipeline([GLOBAL, None, unknown, None], fragments)


def test_base_nested_in_a_policy_is_refused() -> None:
    api = read_policy(_doc('<choose><when condition="@(true)"><base /></when></choose>'))
    with pytest.raises(PolicyReadError, match="directly inside a section"):
        effective_pipeline([GLOBAL, None, api, None], {})


def test_rendered_example_folder_loads_and_merges(tmp_path: Path) -> None:
    _, files = render_spec(EXAMPLES / "production" / "gateway.yaml", ("policies",))
    write_tree(files, tmp_path / "out")
    policies = load_policy_folder(tmp_path / "out" / "policies")
    assert set(policies.products) == {"free", "premium"}
    assert set(policies.apis) == {"azure-openai"}
    assert set(policies.fragments) == {"openai-backend-unavailable"}
    pipeline = policies.pipeline("azure-openai", "chat-completions", "free")
    inbound = [s.name for s in pipeline.section("inbound")]
    assert inbound == [
        "azure-openai-token-limit",
        "azure-openai-emit-token-metric",
        "set-backend-service",
        "authentication-managed-identity",
    ]
    assert [s.name for s in pipeline.section("backend")] == ["retry"]
    assert [s.name for s in pipeline.section("on-error")] == ["choose"]


def test_a_folder_without_a_global_policy_gets_apims_default(tmp_path: Path) -> None:
    """An API policy exported on its own forwards through its backend section's <base/>, as on
    a gateway whose global policy was never edited."""
    (tmp_path / "apis").mkdir()
    (tmp_path / "apis" / "openai.xml").write_text(_doc('<set-header name="a" />'))
    pipeline = load_policy_folder(tmp_path).pipeline("openai", None, None)
    assert [s.name for s in pipeline.section("backend")] == ["forward-request"]
    assert [s.name for s in pipeline.section("inbound")] == ["set-header"]
    forward = pipeline.section("backend")[0]
    assert "global.xml (APIM's default)" in str(forward.location)


def test_a_global_policy_given_replaces_the_default(tmp_path: Path) -> None:
    (tmp_path / "apis").mkdir()
    (tmp_path / "global.xml").write_text(_doc(""))  # its backend forwards nothing
    (tmp_path / "apis" / "openai.xml").write_text(_doc(""))
    pipeline = load_policy_folder(tmp_path).pipeline("openai", None, None)
    assert pipeline.section("backend") == ()
