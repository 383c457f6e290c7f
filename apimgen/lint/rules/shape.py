"""Policy shape: what APIM refuses to save — unknown policies, attributes and elements, a policy in
the wrong section or repeated, references to backends and fragments that do not exist, a missing
``<base />``."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from apimgen.errors import Severity
from apimgen.lint.catalogue import catalogue
from apimgen.lint.rules.base import (
    SECTIONS,
    Finding,
    Knowledge,
    LintDocument,
    every_statement,
    finding,
    rule,
    sections_of,
    statements_in,
)
from apimgen.simulate.expr.parser import is_expression
from apimgen.simulate.policy.apim_policies import APIM_POLICIES
from apimgen.simulate.policy.handlers.base import children_hint

__all__ = [
    "attributes",
    "missing_base",
    "once_per_section",
    "undefined_references",
    "unknown_elements",
    "unknown_policy",
    "wrong_section",
]


@rule(
    "APIM001",
    "unknown-policy",
    Severity.ERROR,
    (
        "APIM refuses to save a policy it does not know; a typo in a policy name is found "
        "only at deployment."
    ),
)
def unknown_policy(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = set(catalogue()) | APIM_POLICIES
    for _, statement in every_statement(document):
        if statement.name in known or statement.name == "base":
            continue
        close = difflib.get_close_matches(statement.name, sorted(known), n=1)
        yield finding(
            "APIM001",
            statement,
            f"unknown policy <{statement.name}>",
            f"did you mean <{close[0]}>?" if close else "",
        )


@rule(
    "APIM002",
    "unknown-attribute",
    Severity.ERROR,
    (
        "APIM refuses unknown attributes; a misspelt one (estimate-prompt-token) silently "
        "keeps the default in some tools."
    ),
)
@rule(
    "APIM003",
    "missing-attribute",
    Severity.ERROR,
    ("Required attributes and elements must be present or APIM refuses the policy."),
)
@rule(
    "APIM004",
    "invalid-value",
    Severity.ERROR,
    ("Enumerated attributes (quota periods, exists-action) accept only their listed values."),
)
@rule(
    "APIM007",
    "expression-not-allowed",
    Severity.ERROR,
    ("Some attributes (header and variable names, durations) take literals only."),
)
def attributes(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = catalogue()
    for _, statement in every_statement(document):
        spec = known.get(statement.name)
        if spec is None:
            continue
        names = [a.name for a in spec.attributes]
        for name, value in statement.attributes.items():
            attribute = spec.attribute(name)
            if attribute is None:
                close = difflib.get_close_matches(name, names, n=1)
                yield finding(
                    "APIM002",
                    statement,
                    f"<{statement.name}> has no attribute '{name}'",
                    f"did you mean '{close[0]}'?" if close else f"attributes: {', '.join(names)}",
                )
            elif (
                not is_expression(value)
                and "{{" not in value  # a named value: known only where it is deployed
                and (refusal := attribute.refuses(value))
            ):
                yield finding("APIM004", statement, f"<{statement.name}> {name} {refusal}")
            elif is_expression(value) and not attribute.expressions:
                yield finding(
                    "APIM007",
                    statement,
                    f"<{statement.name}> attribute '{name}' does not allow expressions",
                )
        for attribute in spec.attributes:
            if attribute.required and attribute.name not in statement.attributes:
                yield finding(
                    "APIM003",
                    statement,
                    f"<{statement.name}> needs the attribute '{attribute.name}'",
                )
        for name in spec.required_children:
            if statement.child(name) is None:
                yield finding("APIM003", statement, f"<{statement.name}> needs <{name}>")


@rule(
    "APIM022",
    "unknown-element",
    Severity.ERROR,
    (
        "A policy holds only its documented elements; one copied from a look-alike policy "
        "(<vary-by-header> in a semantic-cache lookup, <dimensions>) is refused on saving."
    ),
)
def unknown_elements(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    specs = catalogue()
    for _, statement in every_statement(document):
        spec = specs.get(statement.name)
        if spec is None or spec.children is None:
            continue
        for child in statement.children:
            if child.name not in spec.children:
                yield finding(
                    "APIM022",
                    child,
                    f"<{statement.name}> has no element <{child.name}>",
                    children_hint(spec.children),
                )


@rule(
    "APIM005",
    "wrong-section",
    Severity.ERROR,
    ("Each policy is allowed only in some sections (a token limit only in inbound)."),
)
def wrong_section(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = catalogue()
    for section, statement in every_statement(document):
        spec = known.get(statement.name)
        if spec is None or section == "fragment" or section in spec.sections:
            continue
        yield finding(
            "APIM005",
            statement,
            f"<{statement.name}> is not allowed in {section}",
            f"allowed in: {', '.join(spec.sections)}",
        )


@rule(
    "APIM006",
    "repeated-policy",
    Severity.ERROR,
    ("Semantic-cache lookup and store may appear once per section."),
)
def once_per_section(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = catalogue()
    for _, elements in sections_of(document):
        seen: set[str] = set()
        for statement in statements_in(elements):
            spec = known.get(statement.name)
            if spec is None or not spec.once_per_section:
                continue
            if statement.name in seen:
                yield finding(
                    "APIM006", statement, f"<{statement.name}> may appear once per section"
                )
            seen.add(statement.name)


@rule(
    "APIM014",
    "undefined-reference",
    Severity.ERROR,
    ("A backend or fragment that does not exist makes APIM refuse the policy at deployment."),
)
def undefined_references(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in every_statement(document):
        if statement.name == "include-fragment":
            fragment = statement.attributes.get("fragment-id", "")
            if knowledge.fragments is not None and fragment not in knowledge.fragments:
                yield finding("APIM014", statement, f"fragment '{fragment}' is not defined")
        if not knowledge.known:
            continue
        if statement.name == "set-backend-service":
            backend = statement.attributes.get("backend-id")
            if backend and not is_expression(backend) and backend not in knowledge.backends:
                yield finding("APIM014", statement, f"backend '{backend}' is not defined")
        elif statement.name.endswith("-semantic-cache-lookup"):
            backend = statement.attributes.get("embeddings-backend-id")
            if backend and backend not in knowledge.backends:
                yield finding(
                    "APIM014", statement, f"embeddings backend '{backend}' is not defined"
                )


@rule(
    "APIM015",
    "missing-base",
    Severity.WARNING,
    ("A section without <base/> silently drops the parent scopes' policies."),
)
def missing_base(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if document.kind in ("global", "fragment"):
        return
    for child in document.root.children:
        if child.name in SECTIONS and not any(c.name == "base" for c in child.children):
            if child.name == "backend" and any(c.name == "retry" for c in child.children):
                continue  # the documented pool idiom replaces <base/> on purpose
            yield finding(
                "APIM015",
                child,
                f"<{child.name}> has no <base />: the parent scopes' {child.name} policies "
                "do not run here",
                "add <base /> unless dropping inheritance is intended",
            )
