"""The AI gateway's own traps: response caching of model calls, semantic-cache thresholds and
pairs, and token-metric dimensions past APIM's limit."""

from __future__ import annotations

from collections.abc import Iterator

from apimgen.errors import Severity
from apimgen.lint.rules.base import Finding, Knowledge, LintDocument, every_statement, finding, rule

__all__ = ["cache_pairs", "dimensions", "response_cache_on_llm", "score_threshold"]


MAX_CUSTOM_DIMENSIONS = 5


DEFAULT_DIMENSIONS = {
    "API ID", "Operation ID", "Product ID", "User ID", "Subscription ID", "Location",
    "Gateway ID", "Backend ID",
}  # fmt: skip


@rule(
    "APIM021",
    "response-cache-on-llm",
    Severity.WARNING,
    (
        "API Management looks up and stores responses to GET requests only (Learn: "
        "cache-lookup); chat completions and embeddings are POST, so the response cache "
        "never serves them and every call spends tokens."
    ),
)
def response_cache_on_llm(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    statements = [statement for _, statement in every_statement(document)]
    if not any(s.name.startswith(("llm-", "azure-openai-")) for s in statements):
        return
    for statement in statements:
        if statement.name in ("cache-lookup", "cache-store"):
            yield finding(
                "APIM021",
                statement,
                f"<{statement.name}> caches GET responses only: the inference calls this "
                "document governs are POST, so it never answers from the cache",
                "cache prompts with llm-semantic-cache-lookup and llm-semantic-cache-store",
            )


@rule(
    "APIM010",
    "cache-threshold",
    Severity.WARNING,
    (
        "score-threshold is a distance: 0.8 caches nearly everything, so unrelated "
        "prompts share answers."
    ),
)
def score_threshold(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in every_statement(document):
        if not statement.name.endswith("-semantic-cache-lookup"):
            continue
        text = statement.attributes.get("score-threshold", "")
        try:
            value = float(text)
        except ValueError:
            continue
        if value > 0.2:
            yield finding(
                "APIM010",
                statement,
                f"score-threshold {text} is a distance: above 0.2 unrelated prompts share answers",
                "start near 0.05 and measure hits with apimgen simulate",
            )


@rule(
    "APIM011",
    "too-many-dimensions",
    Severity.ERROR,
    ("APIM keeps at most 5 custom metric dimensions and silently drops the rest."),
)
def dimensions(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in every_statement(document):
        if not statement.name.endswith("emit-token-metric"):
            continue
        custom = [
            d for d in statement.children
            if d.name == "dimension" and d.attributes.get("name") not in DEFAULT_DIMENSIONS
        ]  # fmt: skip
        if len(custom) > MAX_CUSTOM_DIMENSIONS:
            yield finding(
                "APIM011",
                statement,
                f"{len(custom)} custom dimensions: APIM keeps {MAX_CUSTOM_DIMENSIONS} and "
                "silently drops the rest",
            )


@rule(
    "APIM012",
    "cache-pair",
    Severity.WARNING,
    ("A semantic-cache lookup without a store (or the reverse) never caches anything."),
)
def cache_pairs(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if document.kind == "fragment":
        return
    lookups = [s for _, s in every_statement(document) if s.name.endswith("-semantic-cache-lookup")]
    stores = [s for _, s in every_statement(document) if s.name.endswith("-semantic-cache-store")]
    for lookup in lookups if not stores else []:
        yield finding(
            "APIM012",
            lookup,
            "semantic-cache lookup without a store: nothing is ever cached",
            "add the matching *-semantic-cache-store in outbound",
        )
    for store in stores if not lookups else []:
        yield finding(
            "APIM012",
            store,
            "semantic-cache store without a lookup: cached answers are never used",
        )
