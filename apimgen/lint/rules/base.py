"""What every lint rule shares: the documents it reads, the findings it yields, the walk over a
policy's statements and texts, and the registry each rule family declares its rules in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from apimgen.errors import Severity
from apimgen.lint.catalogue import catalogue
from apimgen.simulate.policy.reader import PolicyElement

__all__ = [
    "SECTIONS",
    "Finding",
    "Knowledge",
    "LintDocument",
    "Rule",
    "document_texts",
    "every_statement",
    "finding",
    "registered",
    "rule",
    "sections_of",
    "statements_in",
    "texts_of",
]

SECTIONS = ("inbound", "backend", "outbound", "on-error")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    element: PolicyElement | None
    message: str
    hint: str = ""
    file: str = ""


@dataclass
class Knowledge:
    """What is known about the gateway around the policies (from a spec, when linting one)."""

    known: bool = False  # backends are known (linting a spec)
    backends: dict[str, int] = field(default_factory=dict)  # id → pool size (1 for singles)
    fragments: set[str] | None = None  # known fragment ids, when a folder or spec says
    openai_backends: set[str] = field(default_factory=set)
    # What every document linted together stores in each variable: a global or product policy
    # sets what an API policy reads.
    variables: dict[str, set[str | None]] | None = None
    whole_gateway: bool = False  # a spec or a policies folder: every setter is in view


@dataclass(frozen=True)
class LintDocument:
    root: PolicyElement
    kind: str  # global, product, api, operation, fragment
    file: str


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    rationale: str
    check: Callable[[LintDocument, Knowledge], Iterator[Finding]]


Check = Callable[["LintDocument", "Knowledge"], Iterator["Finding"]]
_REGISTRY: dict[str, Rule] = {}


def rule(rule_id: str, name: str, severity: Severity, rationale: str) -> Callable[[Check], Check]:
    """Declare the rule a check reports, next to the check; one check may report several
    rules (``attributes``: unknown, missing and invalid ones)."""

    def register(check: Check) -> Check:
        if rule_id in _REGISTRY:
            raise ValueError(f"lint rule {rule_id} is declared twice")
        _REGISTRY[rule_id] = Rule(rule_id, name, severity, rationale, check)
        return check

    return register


def registered() -> tuple[Rule, ...]:
    """Every declared rule, by id: the order ``--rules`` lists them and checks run in."""
    return tuple(_REGISTRY[rule_id] for rule_id in sorted(_REGISTRY))


def sections_of(document: LintDocument) -> Iterator[tuple[str, tuple[PolicyElement, ...]]]:
    if document.kind == "fragment":
        yield "fragment", document.root.children
        return
    for child in document.root.children:
        if child.name in SECTIONS:
            yield child.name, child.children


def statements_in(elements: tuple[PolicyElement, ...]) -> Iterator[PolicyElement]:
    """Policy statements, including those inside choose branches and retry."""
    for element in elements:
        yield element
        if element.name == "choose":
            for branch in element.children:
                yield from statements_in(branch.children)
        elif element.name == "retry":
            yield from statements_in(element.children)


def every_statement(document: LintDocument) -> Iterator[tuple[str, PolicyElement]]:
    for section, elements in sections_of(document):
        for statement in statements_in(elements):
            yield section, statement


def finding(rule: str, element: PolicyElement, message: str, hint: str = "") -> Finding:
    return Finding(rule, _REGISTRY[rule].severity, element, message, hint)


def texts_of(element: PolicyElement) -> Iterator[tuple[PolicyElement, str]]:
    """The attribute values and texts of a statement and of its parts that are not
    statements themselves (a choose's conditions, a header's values)."""
    for value in element.attributes.values():
        yield element, value
    if element.text:
        yield element, element.text
    for child in element.children:
        if child.name not in catalogue():
            yield from texts_of(child)


def document_texts(document: LintDocument) -> Iterator[tuple[PolicyElement, str]]:
    """Every attribute value and text of every statement in the document."""
    for _, statement in every_statement(document):
        yield from texts_of(statement)
