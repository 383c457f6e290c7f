"""Kept policy documents become spec keys only where the keys reproduce them: every shape of
key the spec writes is read back from its rendering, and a document the keys cannot reproduce
stays as written with the reason."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apimgen.importer.policy_keys import map_policies
from apimgen.importer.summary import ImportSummary
from apimgen.importer.to_spec import ImportedSpec
from apimgen.model.policy_layout import policy_documents
from apimgen.render.policies import render_policy_document
from apimgen.spec.document import Spec
from tests.conftest import make_spec

SCOPE_KEYS: list[dict[str, Any]] = [
    {"token_limits": [{"key": "user", "tokens_per_minute": 1000}]},
    {
        "token_limits": [
            {
                "key": {"header": "X-App-Id", "default": "none"},
                "tokens_per_minute": 500,
                "quota": {"tokens": 100000, "period": "monthly"},
                "estimate_prompt_tokens": True,
                "remaining_tokens_header": "x-remaining",
                "tokens_consumed_variable": "consumed",
            },
            {"key": {"jwt_claim": "oid"}, "quota": {"tokens": 5000, "period": "daily"}},
            {"key": {"builtin": "subscription", "default": "keyless"}, "tokens_per_minute": 9},
            {"key": {"expression": '@(context.Request.Headers.GetValueOrDefault("T",""))'},
             "tokens_per_minute": 7},
        ]
    },
    {
        "token_metrics": {
            "namespace": "ai",
            "dimensions": ["api", "client_ip", {"name": "Team", "header": "X-Team"},
                           {"name": "Env", "value": "prod"}],
        }
    },
    {
        "semantic_cache": {
            "score_threshold": 0.05,
            "embeddings_backend": "embeddings",
            "duration": 900,
            "vary_by": ["subscription", {"header": "X-Tenant"}],
            "ignore_system_messages": False,
            "max_message_count": 10,
        },
        "include_fragments": {"inbound": ["guard"], "outbound": ["stamp"]},
    },
]  # fmt: skip


def _spec(api_keys: dict[str, Any], family: str = "llm") -> dict[str, Any]:
    return make_spec(
        gateway={**make_spec()["gateway"], "policy_family": family},
        backends=[
            {"name": "aoai", "url": "https://a.openai.azure.com/openai"},
            {"name": "spill", "url": "https://b.openai.azure.com/openai"},
            {"name": "embeddings", "url": "https://a.openai.azure.com/openai/embeddings"},
        ],
        pools=[
            {"name": "pool", "members": [{"backend": "aoai"}, {"backend": "spill", "priority": 2}]}
        ],
        fragments=[{"name": "guard", "file": "guard.xml"}, {"name": "stamp", "file": "stamp.xml"}],
        apis=[{"name": "openai", "path": "openai", "backend": "pool", **api_keys}],
        redis={"name": "cache"},
        observability={"app_insights": {"name": "insights"}},
    )  # fmt: skip


def _imported(spec: dict[str, Any]) -> ImportedSpec:
    """The import of a gateway deployed from ``spec``: every document kept as written."""
    model = Spec.model_validate(spec)
    kept = copy.deepcopy(spec)
    files: dict[str, str] = {}
    summary = ImportSummary("test")
    for document in policy_documents(model):
        file = f"policies/{document.scope.path}"
        files[file] = render_policy_document(document)
        scope = document.scope
        if scope.kind == "global":
            holder = kept.setdefault("global", {})
        else:
            holder = next(a for a in kept["apis"] if a["name"] == scope.api)
        for key in (
            "token_limits",
            "token_metrics",
            "semantic_cache",
            "include_fragments",
            "retry",
        ):
            holder.pop(key, None)
        holder["policy_file"] = file
        summary.kept(file, file, "kept")
    return ImportedSpec(kept, files, summary)


@pytest.mark.parametrize("keys", SCOPE_KEYS, ids=["user", "keys", "metrics", "cache"])
@pytest.mark.parametrize("family", ["llm", "azure-openai"])
def test_every_key_the_spec_writes_is_read_back_from_its_rendering(
    keys: dict[str, Any], family: str
) -> None:
    spec = _spec(keys, family)
    imported = _imported(spec)
    map_policies(imported)
    assert imported.files == {}, imported.summary.lines("x")
    api = imported.spec["apis"][0]
    original = Spec.model_validate(spec)
    assert Spec.model_validate(imported.spec).apis[0] == original.apis[0], api
    assert imported.summary.counts() == {"mapped": 2, "kept": 0, "skipped": 0}


def test_a_document_the_keys_cannot_reproduce_is_kept_with_the_reason() -> None:
    imported = _imported(_spec(SCOPE_KEYS[0]))
    api_file = "policies/apis/openai.xml"
    extra = '<set-header name="X-Extra" exists-action="override"><value>1</value></set-header>'
    imported.files[api_file] = imported.files[api_file].replace("<base />", f"<base />{extra}", 1)
    map_policies(imported)
    assert api_file in imported.files
    (outcome,) = [o for o in imported.summary.outcomes if o.where == api_file]
    assert outcome.fate == "kept"
    assert outcome.reason == "kept as written: <set-header> has no spec key"
    assert imported.spec["apis"][0]["policy_file"] == api_file
    assert "global" not in imported.spec  # the global document became keys (none)
