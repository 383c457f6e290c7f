"""Replace kept policy documents by spec keys where the keys reproduce them exactly.

Each kept document is read into keys (``recognise``); the keys are put in a copy of the spec
in place of its ``policy_file``, the copy is validated and that scope's document rendered, and
the rendering is compared with the live document by meaning (the plan's own comparison). Only
an exact match is taken; otherwise the document stays as written and the summary says why.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from apimgen.deploy.policy_xml import canonical_policy
from apimgen.errors import ApimgenError, Severity
from apimgen.importer.recognise import recognise
from apimgen.importer.summary import Outcome
from apimgen.importer.to_spec import ImportedSpec
from apimgen.model.gateway import PolicyScope
from apimgen.model.policy_layout import policy_documents
from apimgen.render.policies import render_policy_document
from apimgen.simulate.policy.reader import read_policy
from apimgen.spec.checks import check_spec
from apimgen.spec.document import Retry, Spec
from apimgen.spec.yaml_source import YamlSource

__all__ = ["map_policies"]

Where = tuple[str | int, ...]


def _scopes(spec: dict[str, Any]) -> Iterator[tuple[str, PolicyScope, Where]]:
    """(kind, scope, key path) of every scope of the spec data that keeps a document."""
    if "policy_file" in spec.get("global", {}):
        yield "global", PolicyScope("global"), ("global",)
    for i, product in enumerate(spec.get("products", [])):
        if "policy_file" in product:
            yield "product", PolicyScope("product", product=product["name"]), ("products", i)
    for i, api in enumerate(spec.get("apis", [])):
        for j, operation in enumerate(api.get("operations") or []):
            if "policy_file" in operation:
                scope = PolicyScope("operation", api=api["name"], operation=operation["name"])
                yield "operation", scope, ("apis", i, "operations", j)
        if "policy_file" in api:
            yield "api", PolicyScope("api", api=api["name"]), ("apis", i)


def _at(spec: dict[str, Any], where: Where) -> dict[str, Any]:
    node: Any = spec
    for step in where:
        node = node[step]
    assert isinstance(node, dict)
    return node


def _label(where: Where) -> str:
    text = ""
    for step in where:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _candidate(spec: dict[str, Any], kind: str, where: Where, text: str) -> dict[str, Any]:
    """A copy of ``spec`` with the scope's keys in place of its kept document."""
    found = recognise(read_policy(text.replace("\r\n", "\n"), "live"), kind)
    candidate = copy.deepcopy(spec)
    scope = _at(candidate, where)
    del scope["policy_file"]
    scope.update(found.keys)
    if kind == "api":
        pools = {pool["name"] for pool in candidate.get("pools", [])}
        if found.api.get("backend"):
            scope["backend"] = found.api["backend"]
        if "retry" in found.api:
            retry = _tidy_retry(found.api["retry"], candidate, scope["backend"])
            if retry:
                scope["retry"] = retry
        elif scope["backend"] in pools:
            scope["retry"] = {"enabled": False}
        if found.family and found.family != candidate["gateway"].get("policy_family", "llm"):
            scope["policy_family"] = found.family
    elif kind == "operation" and found.family:
        api = _at(candidate, where[:2])
        if (
            api.get("policy_family", candidate["gateway"].get("policy_family", "llm"))
            != found.family
        ):
            raise ValueError("its policy family differs from its API's")
    elif found.family and found.family != candidate["gateway"].get("policy_family", "llm"):
        raise ValueError(f"it uses the {found.family}-* policies, the gateway's others")
    return candidate


def _tidy_retry(retry: dict[str, Any], spec: dict[str, Any], backend: str) -> dict[str, Any]:
    """The retry keys that differ from the defaults (``count: auto`` is the pool's size less
    one); the render check confirms the result."""
    pool = next((p for p in spec.get("pools", []) if p["name"] == backend), None)
    tidy = dict(retry)
    if pool is not None and tidy.get("count") == max(1, len(pool["members"]) - 1):
        del tidy["count"]
    if tidy.get("on_status") == list(
        Retry.model_fields["on_status"].get_default(call_default_factory=True)
    ):
        del tidy["on_status"]
    if tidy.get("interval") == 0:
        del tidy["interval"]
    return tidy


def _renders_as(candidate: dict[str, Any], files: dict[str, str], scope: PolicyScope) -> str:
    spec = Spec.model_validate(candidate)
    errors = [
        d
        for d in check_spec(spec, YamlSource("<import>", candidate))
        if d.severity is Severity.ERROR
    ]
    if errors:
        raise ValueError(f"the keys would not be a valid spec: {errors[0].message}")
    kept = {
        path.path: files[_at(candidate, where)["policy_file"]]
        for _, path, where in _scopes(candidate)
    }
    (document,) = [d for d in policy_documents(spec, kept) if d.scope == scope]
    return render_policy_document(document)


_FAMILY_POLICY = re.compile(
    r"<(llm|azure-openai)-(?:token-limit|emit-token-metric|semantic-cache-(?:lookup|store))\b"
)


def _gateway_family(imported: ImportedSpec) -> None:
    """The gateway's default family: azure-openai when every GenAI policy kept uses it."""
    texts = [
        imported.files[_at(imported.spec, w)["policy_file"]] for _, _, w in _scopes(imported.spec)
    ]
    families = {family for text in texts for family in _FAMILY_POLICY.findall(text)}
    if families == {"azure-openai"}:
        imported.spec["gateway"]["policy_family"] = "azure-openai"


def map_policies(imported: ImportedSpec) -> None:
    """Replace each kept document the spec's keys reproduce; note why the others stay."""
    _gateway_family(imported)
    reasons: dict[str, str] = {}
    for kind, scope, where in list(_scopes(imported.spec)):
        file = _at(imported.spec, where)["policy_file"]
        text = imported.files[file]
        try:
            candidate = _candidate(imported.spec, kind, where, text)
            rendered = _renders_as(candidate, imported.files, scope)
        except (ValueError, ValidationError, ApimgenError) as error:
            reasons[file] = f"kept as written: {str(error).splitlines()[0]}"
            continue
        if canonical_policy(rendered) != canonical_policy(text, file):
            reasons[file] = (
                "kept as written: the spec's keys would generate a different document "
                "(statements or their order differ)"
            )
            continue
        if kind == "global" and not candidate["global"]:
            del candidate["global"]
        imported.spec = candidate
        del imported.files[file]
        reasons[file] = ""
        outcomes = imported.summary.outcomes
        for index, outcome in enumerate(outcomes):
            if outcome.where == file:
                outcomes[index] = Outcome(outcome.path, "mapped", _label(where))
    for index, outcome in enumerate(imported.summary.outcomes):
        if outcome.fate == "kept" and reasons.get(outcome.where):
            imported.summary.outcomes[index] = Outcome(
                outcome.path, "kept", outcome.where, reasons[outcome.where]
            )
