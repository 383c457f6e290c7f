"""Identity and keys: limits counted on a key the caller controls, managed identity asking for the
wrong audience."""

from __future__ import annotations

import re
from collections.abc import Iterator

from apimgen.errors import Severity
from apimgen.lint.rules.base import Finding, Knowledge, LintDocument, every_statement, finding, rule
from apimgen.simulate.expr.parser import is_expression

__all__ = ["managed_identity_audience", "unauthenticated_key"]


_CALLER_CONTROLLED = re.compile(r"Request\.(Headers|Url\.Query|Body)|Url\.Query")


_AUTHENTICATING = ("validate-jwt", "validate-azure-ad-token")


@rule(
    "APIM016",
    "unauthenticated-counter-key",
    Severity.WARNING,
    ("A counter key from a header or query value lets callers pick a fresh counter."),
)
def unauthenticated_key(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    authenticated = False
    for _, statement in every_statement(document):
        if statement.name in _AUTHENTICATING:
            authenticated = True
        if not statement.name.endswith("token-limit") or authenticated:
            continue
        key = statement.attributes.get("counter-key", "")
        uses_jwt = "AsJwt" in key or "TryParseJwt" in key
        if _CALLER_CONTROLLED.search(key) and not uses_jwt:
            yield finding(
                "APIM016",
                statement,
                "the counter key comes from a header or query value callers set freely: a "
                "caller can get a fresh limit by changing it",
                "key on the subscription or a validated token claim",
            )


def _forwarded_header_values(document: LintDocument) -> str:
    """The text of every set-header on the forwarded request (those inside send-request
    build another request, and ``every_statement`` does not descend into it)."""
    return "\n".join(
        value.text or ""
        for _, statement in every_statement(document)
        if statement.name == "set-header"
        for value in statement.children
        if value.name == "value"
    )


@rule(
    "APIM017",
    "managed-identity-audience",
    Severity.WARNING,
    ("Azure OpenAI accepts tokens for https://cognitiveservices.azure.com only."),
)
def managed_identity_audience(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if knowledge.known and not knowledge.openai_backends:
        return
    forwarded: str | None = None
    for _, statement in every_statement(document):
        if statement.name != "authentication-managed-identity":
            continue
        resource = statement.attributes.get("resource", "")
        if is_expression(resource):
            continue
        variable = statement.attributes.get("output-token-variable-name")
        if variable:
            # A token kept in a variable goes where the policy puts it: only one set on the
            # forwarded request reaches Azure OpenAI (one for Graph may feed a send-request).
            if forwarded is None:
                forwarded = _forwarded_header_values(document)
            if f'"{variable}"' not in forwarded:
                continue
        if resource.rstrip("/") != "https://cognitiveservices.azure.com":
            yield finding(
                "APIM017",
                statement,
                f"managed identity requests a token for '{resource}', not the Cognitive Services "
                "audience Azure OpenAI accepts",
                'use resource="https://cognitiveservices.azure.com"',
            )
