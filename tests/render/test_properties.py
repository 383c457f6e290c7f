"""Property tests: any valid spec renders well-formed XML, and no user string escapes its place."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apimgen.errors import SpecError
from apimgen.model.expressions import csharp_string
from apimgen.pipeline import render_spec
from apimgen.render.environment import xml_attr, xml_text
from tests.conftest import make_spec, write_spec

# Characters XML 1.0 can carry at all; the rest cannot appear in any XML document.
XML_CHARS = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\x00\ufffe\uffff",
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)
TRICKY = st.sampled_from(['"', "'", "<", ">", "&", "{{", "}}", "@(", "@{", ")", "]]>", "\n", "\\"])
TEXT = st.lists(st.one_of(TRICKY, st.text(XML_CHARS, max_size=4)), max_size=8).map("".join)

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


@given(TEXT)
def test_xml_attr_round_trips_any_text(text: str) -> None:
    element = ET.fromstring(f"<a x={xml_attr(text)} y='after' />")
    assert element.get("x") == text
    assert element.get("y") == "after"
    assert len(element.attrib) == 2


@given(TEXT)
def test_xml_text_round_trips_any_text(text: str) -> None:
    element = ET.fromstring(f"<a>{xml_text(text)}</a>")
    assert (element.text or "") == text.replace("\r\n", "\n").replace("\r", "\n")


def _render(data: dict[str, Any]) -> dict[str, str] | None:
    """Rendered files, or None when the spec is (correctly) refused."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_spec(Path(folder) / "spec.yaml", data)
        try:
            return render_spec(path)[1]
        except SpecError:
            return None


def _api_root(files: dict[str, str]) -> ET.Element:
    return ET.fromstring(files["policies/apis/openai.xml"])


def _spec_with_metric(dimension: dict[str, Any], namespace: str = "ns") -> dict[str, Any]:
    api = {
        "name": "openai",
        "path": "openai",
        "backend": "aoai",
        "token_metrics": {"namespace": namespace, "dimensions": [dimension]},
    }
    return make_spec(apis=[api], observability={"app_insights": {"name": "ai"}})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, value=TEXT, namespace=TEXT)
def test_metric_strings_cannot_break_out(name: str, value: str, namespace: str) -> None:
    files = _render(_spec_with_metric({"name": name, "value": value}, namespace))
    if files is None:
        return
    metric = _api_root(files).find("inbound/llm-emit-token-metric")
    assert metric is not None
    assert metric.get("namespace") == namespace
    (dimension,) = list(metric)
    assert dimension.attrib == {
        "name": name,
        "value": value.strip() if value.strip().startswith("@") else value,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=TEXT, default=TEXT)
def test_header_key_strings_stay_inside_their_csharp_string(header: str, default: str) -> None:
    api = {
        "name": "openai",
        "path": "openai",
        "backend": "aoai",
        "token_limits": [{"key": {"header": header, "default": default}, "tokens_per_minute": 1}],
    }
    files = _render(make_spec(apis=[api]))
    if files is None:
        return
    limit = _api_root(files).find("inbound/llm-token-limit")
    assert limit is not None
    assert limit.get("counter-key") == (
        f"@(context.Request.Headers.GetValueOrDefault({csharp_string(header)}, "
        f"{csharp_string(default)}))"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=TEXT)
def test_expressions_are_carried_verbatim(expression: str) -> None:
    api = {
        "name": "openai",
        "path": "openai",
        "backend": "aoai",
        "token_limits": [{"key": {"expression": expression}, "tokens_per_minute": 1}],
    }
    files = _render(make_spec(apis=[api]))
    if files is None:
        text = expression.strip()
        shaped = (text.startswith("@(") and text.endswith(")")) or (
            text.startswith("@{") and text.endswith("}")
        )
        assert not shaped, "a well-shaped expression must be accepted"
        return
    limit = _api_root(files).find("inbound/llm-token-limit")
    assert limit is not None
    assert limit.get("counter-key") == expression.strip()


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Specs that pass validation: backends, an optional pool, APIs with random policies."""
    backend_names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    backends = [
        {
            "name": name,
            "url": f"https://{name}.openai.azure.com/openai",
            "circuit_breaker": {"failure_count": draw(st.integers(1, 5))},
        }
        for name in backend_names
    ]
    pools = []
    targets = list(backend_names)
    if len(backend_names) > 1 and draw(st.booleans()):
        pools.append(
            {
                "name": "pool",
                "members": [
                    {
                        "backend": name,
                        "priority": draw(st.integers(1, 3)),
                        "weight": draw(st.integers(1, 100)),
                    }
                    for name in backend_names
                ],
            }
        )
        targets.append("pool")
    key = st.one_of(
        st.sampled_from(["subscription", "product", "user", "ip", "api"]),
        st.builds(lambda h: {"header": h}, st.from_regex(r"X-[A-Za-z]{1,8}", fullmatch=True)),
        st.builds(lambda c: {"jwt_claim": c}, st.sampled_from(["oid", "appid", "sub"])),
    )
    limit = st.fixed_dictionaries(
        {"key": key, "tokens_per_minute": st.integers(1, 10**6)},
        optional={
            "quota": st.fixed_dictionaries(
                {
                    "tokens": st.integers(1, 10**9),
                    "period": st.sampled_from(["hourly", "daily", "weekly", "monthly", "yearly"]),
                }
            ),
            "estimate_prompt_tokens": st.booleans(),
        },
    )
    api_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    apis = []
    for index, name in enumerate(api_names):
        api: dict[str, Any] = {
            "name": name,
            "path": f"p{index}",
            "backend": draw(st.sampled_from(targets)),
            "token_limits": draw(st.lists(limit, max_size=2)),
        }
        if draw(st.booleans()):
            api["token_metrics"] = {
                "dimensions": draw(
                    st.lists(
                        st.sampled_from(["api", "user", "subscription", "client_ip"]),
                        min_size=1,
                        max_size=4,
                        unique=True,
                    )
                )
            }
        if draw(st.booleans()):
            api["semantic_cache"] = {
                "score_threshold": draw(st.floats(0, 0.2)),
                "embeddings_backend": backend_names[0],
                "vary_by": draw(st.lists(key, max_size=2)),
            }
        apis.append(api)
    return make_spec(
        backends=backends,
        pools=pools,
        apis=apis,
        observability={"app_insights": {"name": "ai"}},
        redis={"name": "cache"},
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs())
def test_any_valid_spec_renders_well_formed_policies(data: dict[str, Any]) -> None:
    files = _render(data)
    assert files is not None, "the strategy only builds valid specs"
    for name, text in files.items():
        if name.endswith(".xml"):
            root = ET.fromstring(text)
            assert root.tag in ("policies", "fragment")
    assert len([n for n in files if n.startswith("policies/apis/")]) >= len(data["apis"])
