"""The lint rules: each catches one trap that APIM would accept or only refuse at deployment.

Every rule has an id, a default severity and a rationale (shown by ``apimgen lint --rules``);
its function yields findings for one policy document.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apimgen.errors import Severity
from apimgen.lint.body_reads import consuming_body_reads
from apimgen.lint.catalogue import catalogue
from apimgen.lint.expression_types import is_allowed_name
from apimgen.lint.regex_patterns import nested_quantifiers, regex_patterns
from apimgen.lint.variable_types import (
    expression_nodes,
    guarded_variables,
    indexed_reads,
    reference_comparisons,
    refusal,
    stored_types,
    variable_casts,
)
from apimgen.simulate.context import Context, Response
from apimgen.simulate.expr import ast
from apimgen.simulate.expr.compiler import (
    ExpressionNotAllowedError,
    ExpressionUnsupportedError,
    compile_expression,
)
from apimgen.simulate.expr.members import static_types
from apimgen.simulate.expr.parser import ExpressionSyntaxError, is_expression
from apimgen.simulate.expr.vocabulary import closest_member
from apimgen.simulate.policy.apim_policies import APIM_POLICIES
from apimgen.simulate.policy.handlers.base import children_hint
from apimgen.simulate.policy.handlers.routing import pool_unavailable_reason
from apimgen.simulate.policy.reader import PolicyElement

__all__ = ["RULES", "Finding", "Knowledge", "LintDocument", "Rule"]

SECTIONS = ("inbound", "backend", "outbound", "on-error")
CONTAINERS = {"choose": ("when", "otherwise"), "retry": ()}
MAX_CUSTOM_DIMENSIONS = 5
DEFAULT_DIMENSIONS = {
    "API ID", "Operation ID", "Product ID", "User ID", "Subscription ID", "Location",
    "Gateway ID", "Backend ID",
}  # fmt: skip


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


def _sections(document: LintDocument) -> Iterator[tuple[str, tuple[PolicyElement, ...]]]:
    if document.kind == "fragment":
        yield "fragment", document.root.children
        return
    for child in document.root.children:
        if child.name in SECTIONS:
            yield child.name, child.children


def _statements(elements: tuple[PolicyElement, ...]) -> Iterator[PolicyElement]:
    """Policy statements, including those inside choose branches and retry."""
    for element in elements:
        yield element
        if element.name == "choose":
            for branch in element.children:
                yield from _statements(branch.children)
        elif element.name == "retry":
            yield from _statements(element.children)


def _all(document: LintDocument) -> Iterator[tuple[str, PolicyElement]]:
    for section, elements in _sections(document):
        for statement in _statements(elements):
            yield section, statement


def _finding(rule: str, element: PolicyElement, message: str, hint: str = "") -> Finding:
    return Finding(rule, RULE_SEVERITY[rule], element, message, hint)


# ----------------------------------------------------------------- policy shape rules


def unknown_policy(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = set(catalogue()) | APIM_POLICIES
    for _, statement in _all(document):
        if statement.name in known or statement.name == "base":
            continue
        close = difflib.get_close_matches(statement.name, sorted(known), n=1)
        yield _finding(
            "APIM001",
            statement,
            f"unknown policy <{statement.name}>",
            f"did you mean <{close[0]}>?" if close else "",
        )


def attributes(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = catalogue()
    for _, statement in _all(document):
        spec = known.get(statement.name)
        if spec is None:
            continue
        names = [a.name for a in spec.attributes]
        for name, value in statement.attributes.items():
            attribute = spec.attribute(name)
            if attribute is None:
                close = difflib.get_close_matches(name, names, n=1)
                yield _finding(
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
                yield _finding("APIM004", statement, f"<{statement.name}> {name} {refusal}")
            elif is_expression(value) and not attribute.expressions:
                yield _finding(
                    "APIM007",
                    statement,
                    f"<{statement.name}> attribute '{name}' does not allow expressions",
                )
        for attribute in spec.attributes:
            if attribute.required and attribute.name not in statement.attributes:
                yield _finding(
                    "APIM003",
                    statement,
                    f"<{statement.name}> needs the attribute '{attribute.name}'",
                )
        for name in spec.required_children:
            if statement.child(name) is None:
                yield _finding("APIM003", statement, f"<{statement.name}> needs <{name}>")


def unknown_elements(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    specs = catalogue()
    for _, statement in _all(document):
        spec = specs.get(statement.name)
        if spec is None or spec.children is None:
            continue
        for child in statement.children:
            if child.name not in spec.children:
                yield _finding(
                    "APIM022",
                    child,
                    f"<{statement.name}> has no element <{child.name}>",
                    children_hint(spec.children),
                )


def wrong_section(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = catalogue()
    for section, statement in _all(document):
        spec = known.get(statement.name)
        if spec is None or section == "fragment" or section in spec.sections:
            continue
        yield _finding(
            "APIM005",
            statement,
            f"<{statement.name}> is not allowed in {section}",
            f"allowed in: {', '.join(spec.sections)}",
        )


def once_per_section(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    known = catalogue()
    for _, elements in _sections(document):
        seen: set[str] = set()
        for statement in _statements(elements):
            spec = known.get(statement.name)
            if spec is None or not spec.once_per_section:
                continue
            if statement.name in seen:
                yield _finding(
                    "APIM006", statement, f"<{statement.name}> may appear once per section"
                )
            seen.add(statement.name)


def _texts(element: PolicyElement) -> Iterator[tuple[PolicyElement, str]]:
    """The attribute values and texts of a statement and of its parts that are not
    statements themselves (a choose's conditions, a header's values)."""
    for value in element.attributes.values():
        yield element, value
    if element.text:
        yield element, element.text
    for child in element.children:
        if child.name not in catalogue():
            yield from _texts(child)


def expressions(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in _all(document):
        for element, text in _texts(statement):
            if not is_expression(text):
                continue
            try:
                compile_expression(text)
            except ExpressionSyntaxError as error:
                yield _finding(
                    "APIM008",
                    element,
                    f"expression does not parse: {error.message} (at {error.line}:{error.column})",
                )
            except ExpressionNotAllowedError as error:
                yield _finding("APIM009", element, str(error))
            except ExpressionUnsupportedError as error:
                named = re.fullmatch(r"the name '([\w.]+)'", error.construct)
                if named and not is_allowed_name(named.group(1)):
                    yield _finding(
                        "APIM009",
                        element,
                        f"{error.construct} is not a type or name APIM allows in expressions",
                    )


def gateway_variables(documents: list[LintDocument]) -> dict[str, set[str | None]]:
    """What the documents linted together store in each variable (APIM020 reads it)."""
    return stored_types([statement for document in documents for _, statement in _all(document)])


def variable_types(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    statements = [statement for _, statement in _all(document)]
    stored = knowledge.variables if knowledge.variables is not None else stored_types(statements)
    for statement in statements:
        for element, text in _texts(statement):
            for cast in variable_casts(text):
                held = refusal(cast, stored.get(cast.variable, set()))
                if held is None:
                    continue
                target = cast.type_name.rstrip("?")
                hint = (
                    f'parse it: {target}.Parse((string)context.Variables["{cast.variable}"]), '
                    'or store it with an expression (value="@(100)")'
                    if held == "string"
                    else f'convert it: context.Variables["{cast.variable}"].ToString()'
                    if target in ("string", "String")
                    else f'convert it: Convert.ToDouble(context.Variables["{cast.variable}"])'
                )
                yield _finding(
                    "APIM020",
                    element,
                    f"{cast.text} throws InvalidCastException: the policies store a {held} "
                    f"in '{cast.variable}'",
                    hint,
                )


def unset_variables(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """Only when the whole gateway is linted: a variable set by a policy elsewhere (the global
    policy, a fragment) is set for this document too."""
    if not knowledge.whole_gateway or knowledge.variables is None:
        return
    statements = [statement for _, statement in _all(document)]
    texts = [(element, text) for statement in statements for element, text in _texts(statement)]
    guarded = {name for _, text in texts for name in guarded_variables(text)}
    reported: set[str] = set()
    for element, text in texts:
        for name in indexed_reads(text):
            if name in knowledge.variables or name in guarded or name in reported:
                continue
            reported.add(name)
            yield _finding(
                "APIM026",
                element,
                f"context.Variables[\"{name}\"] is read, but no policy sets '{name}': "
                "KeyNotFoundException on every request that reaches it",
                "set it first, or read it with "
                f'context.Variables.GetValueOrDefault<string>("{name}", …)',
            )


def _document_texts(document: LintDocument) -> Iterator[tuple[PolicyElement, str]]:
    """Every attribute value and text of every statement in the document."""
    for _, statement in _all(document):
        yield from _texts(statement)


def unknown_members(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for element, text in _document_texts(document):
        for node in expression_nodes(text):
            if isinstance(node, ast.Member) and (meant := closest_member(node.name)):
                yield _finding(
                    "APIM028",
                    element,
                    f"unknown member '{node.name}': did you mean '{meant}'? "
                    f"(at {node.line}:{node.column})",
                    "C# member names are case-sensitive; the gateway refuses the policy when "
                    "it is saved",
                )


def backtracking_regex(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for element, text in _document_texts(document):
        for pattern in regex_patterns(text):
            if nested_quantifiers(pattern):
                yield _finding(
                    "APIM027",
                    element,
                    f"the pattern '{pattern}' repeats a part that is itself repeated: on an "
                    "input that almost matches, .NET backtracks until the match timeout and "
                    "throws RegexMatchTimeoutException",
                    "make the inner part match one way only, e.g. ^a+$ instead of ^(a+)+$, "
                    "or bound the repeat",
                )


def reference_equality(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for element, text in _document_texts(document):
        for written in reference_comparisons(text):
            yield _finding(
                "APIM023",
                element,
                f"{written} compares references, not text: the variable is an object "
                "(C# warns CS0252), so equal text read from a request or set as a literal "
                "compares unequal",
                'cast it first: (string)context.Variables[...] == "...", or use '
                "GetValueOrDefault<string>(...)",
            )


_BODY_LOSSES = (
    ("Request", ("inbound", "backend", "fragment"), "forward-request then sends none, and "
     "Azure OpenAI answers 400"),
    ("Response", ("outbound", "on-error"), "the caller receives an empty body"),
)  # fmt: skip


def consumed_body(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    statements = list(_all(document))
    for message, sections, loss in _BODY_LOSSES:
        reading = [statement for section, statement in statements if section in sections]
        if any(statement.name == "set-body" for statement in reading):
            continue  # a set-body may be reading the body to replace it, as Learn shows
        for statement in reading:
            for element, text in _texts(statement):
                for written in consuming_body_reads(text, message):
                    yield _finding(
                        "APIM024",
                        element,
                        f"{written} without preserveContent: true uses up the "
                        f"{message.lower()} body: {loss}",
                        "read it with As<JObject>(preserveContent: true)",
                    )


# ----------------------------------------------------------------- GenAI traps


def _family_cache(name: str) -> str | None:
    for suffix in ("-semantic-cache-lookup", "-semantic-cache-store"):
        if name.endswith(suffix):
            return suffix
    return None


def response_cache_on_llm(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    statements = [statement for _, statement in _all(document)]
    if not any(s.name.startswith(("llm-", "azure-openai-")) for s in statements):
        return
    for statement in statements:
        if statement.name in ("cache-lookup", "cache-store"):
            yield _finding(
                "APIM021",
                statement,
                f"<{statement.name}> caches GET responses only: the inference calls this "
                "document governs are POST, so it never answers from the cache",
                "cache prompts with llm-semantic-cache-lookup and llm-semantic-cache-store",
            )


def score_threshold(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in _all(document):
        if not statement.name.endswith("-semantic-cache-lookup"):
            continue
        text = statement.attributes.get("score-threshold", "")
        try:
            value = float(text)
        except ValueError:
            continue
        if value > 0.2:
            yield _finding(
                "APIM010",
                statement,
                f"score-threshold {text} is a distance: above 0.2 unrelated prompts share answers",
                "start near 0.05 and measure hits with apimgen simulate",
            )


def dimensions(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in _all(document):
        if not statement.name.endswith("emit-token-metric"):
            continue
        custom = [
            d for d in statement.children
            if d.name == "dimension" and d.attributes.get("name") not in DEFAULT_DIMENSIONS
        ]  # fmt: skip
        if len(custom) > MAX_CUSTOM_DIMENSIONS:
            yield _finding(
                "APIM011",
                statement,
                f"{len(custom)} custom dimensions: APIM keeps {MAX_CUSTOM_DIMENSIONS} and "
                "silently drops the rest",
            )


def cache_pairs(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if document.kind == "fragment":
        return
    lookups = [s for _, s in _all(document) if s.name.endswith("-semantic-cache-lookup")]
    stores = [s for _, s in _all(document) if s.name.endswith("-semantic-cache-store")]
    for lookup in lookups if not stores else []:
        yield _finding(
            "APIM012",
            lookup,
            "semantic-cache lookup without a store: nothing is ever cached",
            "add the matching *-semantic-cache-store in outbound",
        )
    for store in stores if not lookups else []:
        yield _finding(
            "APIM012",
            store,
            "semantic-cache store without a lookup: cached answers are never used",
        )


def retry_over_pool(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if not knowledge.known:
        return
    for _, statement in _all(document):
        if statement.name != "retry":
            continue
        pools = [
            c.attributes.get("backend-id", "")
            for c in _statements(statement.children)
            if c.name == "set-backend-service"
        ]
        count_text = statement.attributes.get("count", "")
        for pool in pools:
            size = knowledge.backends.get(pool)
            if size is None or size < 2 or not count_text.isdigit():
                continue
            if int(count_text) > size - 1:
                yield _finding(
                    "APIM013",
                    statement,
                    f"retry count {count_text} exceeds the {size} members of pool '{pool}' "
                    "minus one: the extra retries hit members that already failed",
                    f'use count="{size - 1}"',
                )


def retry_without_buffered_body(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """A set-body earlier in the retry gives each attempt a new body, so nothing needs to be
    buffered for it."""
    for _, statement in _all(document):
        if statement.name != "retry":
            continue
        body_set = False
        for inner in _statements(statement.children):
            body_set = body_set or inner.name == "set-body"
            buffered = inner.attributes.get("buffer-request-body", "false").lower() == "true"
            if inner.name == "forward-request" and not buffered and not body_set:
                yield _finding(
                    "APIM019",
                    inner,
                    '<forward-request> inside <retry> without buffer-request-body="true": '
                    "the request body is kept for another attempt only when buffered",
                    'add buffer-request-body="true"',
                )


def _pool_exhausted_context(pool: str) -> Context:
    reason = pool_unavailable_reason(pool)
    return Context(Response=Response(StatusCode=503, StatusReason=reason))


def _holds(condition: str, context: Context) -> bool:
    """Whether a condition is true in ``context``; False when it cannot be decided statically
    (it reads variables, headers or anything else the synthetic context lacks)."""
    try:
        compiled = compile_expression(condition)
        statics = static_types(lambda: datetime(2026, 1, 1, tzinfo=UTC), lambda: "0" * 32)
        return compiled.evaluate(context, statics) is True
    except Exception:
        return False


def retry_on_pool_unavailable(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """The condition is evaluated against the gateway's own 503 for an exhausted pool."""
    pools = [
        backend
        for _, statement in _all(document)
        if statement.name == "set-backend-service"
        and (backend := statement.attributes.get("backend-id", ""))
        and not is_expression(backend)
        and (knowledge.backends.get(backend, 0) >= 2 if knowledge.known else True)
    ]
    if not pools:
        return
    pool = pools[0]
    for _, statement in _all(document):
        if statement.name != "retry":
            continue
        if not any(c.name == "forward-request" for c in _statements(statement.children)):
            continue
        condition = statement.attributes.get("condition", "")
        if is_expression(condition) and _holds(condition, _pool_exhausted_context(pool)):
            scope = f"pool '{pool}'" if knowledge.known else f"'{pool}' (when it is a pool)"
            yield _finding(
                "APIM018",
                statement,
                f"retry also fires on the gateway's own 503 for {scope} with every member "
                "tripped: it re-selects a pool that has nothing to offer and delays the answer",
                'add && !context.Response.StatusReason.Contains("Backend pool") to the 503 test',
            )


def retry_first_attempt(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """A ``when`` in a retry body, before its forward-request, that holds for the gateway's own
    200: the response is never null, so it runs on the first attempt too."""
    retries = (statement for _, statement in _all(document) if statement.name == "retry")
    for retry in retries:
        before = itertools.takewhile(lambda c: c.name != "forward-request", retry.children)
        whens = (w for c in before if c.name == "choose" for w in c.children if w.name == "when")
        for when in whens:
            condition = when.attributes.get("condition", "")
            if (
                is_expression(condition)
                and "context.Response" in condition
                and _holds(condition, Context())
            ):
                yield _finding(
                    "APIM025",
                    when,
                    "this condition holds before the first attempt too: context.Response "
                    "is never null, it is the gateway's own 200 OK until the backend answers",
                    "test the status the retry waits for, e.g. context.Response.StatusCode == 429",
                )


def undefined_references(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in _all(document):
        if statement.name == "include-fragment":
            fragment = statement.attributes.get("fragment-id", "")
            if knowledge.fragments is not None and fragment not in knowledge.fragments:
                yield _finding("APIM014", statement, f"fragment '{fragment}' is not defined")
        if not knowledge.known:
            continue
        if statement.name == "set-backend-service":
            backend = statement.attributes.get("backend-id")
            if backend and not is_expression(backend) and backend not in knowledge.backends:
                yield _finding("APIM014", statement, f"backend '{backend}' is not defined")
        elif statement.name.endswith("-semantic-cache-lookup"):
            backend = statement.attributes.get("embeddings-backend-id")
            if backend and backend not in knowledge.backends:
                yield _finding(
                    "APIM014", statement, f"embeddings backend '{backend}' is not defined"
                )


def missing_base(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if document.kind in ("global", "fragment"):
        return
    for child in document.root.children:
        if child.name in SECTIONS and not any(c.name == "base" for c in child.children):
            if child.name == "backend" and any(c.name == "retry" for c in child.children):
                continue  # the documented pool idiom replaces <base/> on purpose
            yield _finding(
                "APIM015",
                child,
                f"<{child.name}> has no <base />: the parent scopes' {child.name} policies "
                "do not run here",
                "add <base /> unless dropping inheritance is intended",
            )


_CALLER_CONTROLLED = re.compile(r"Request\.(Headers|Url\.Query|Body)|Url\.Query")
_AUTHENTICATING = ("validate-jwt", "validate-azure-ad-token")


def unauthenticated_key(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    authenticated = False
    for _, statement in _all(document):
        if statement.name in _AUTHENTICATING:
            authenticated = True
        if not statement.name.endswith("token-limit") or authenticated:
            continue
        key = statement.attributes.get("counter-key", "")
        uses_jwt = "AsJwt" in key or "TryParseJwt" in key
        if _CALLER_CONTROLLED.search(key) and not uses_jwt:
            yield _finding(
                "APIM016",
                statement,
                "the counter key comes from a header or query value callers set freely: a "
                "caller can get a fresh limit by changing it",
                "key on the subscription or a validated token claim",
            )


def _forwarded_header_values(document: LintDocument) -> str:
    """The text of every set-header on the forwarded request (those inside send-request
    build another request, and ``_all`` does not descend into it)."""
    return "\n".join(
        value.text or ""
        for _, statement in _all(document)
        if statement.name == "set-header"
        for value in statement.children
        if value.name == "value"
    )


def managed_identity_audience(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if knowledge.known and not knowledge.openai_backends:
        return
    forwarded: str | None = None
    for _, statement in _all(document):
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
            yield _finding(
                "APIM017",
                statement,
                f"managed identity requests a token for '{resource}', not the Cognitive Services "
                "audience Azure OpenAI accepts",
                'use resource="https://cognitiveservices.azure.com"',
            )


RULES: tuple[Rule, ...] = (
    Rule(
        "APIM001",
        "unknown-policy",
        Severity.ERROR,
        (
            "APIM refuses to save a policy it does not know; a typo in a policy name is found "
            "only at deployment."
        ),
        unknown_policy,
    ),
    Rule(
        "APIM002",
        "unknown-attribute",
        Severity.ERROR,
        (
            "APIM refuses unknown attributes; a misspelt one (estimate-prompt-token) silently "
            "keeps the default in some tools."
        ),
        attributes,
    ),
    Rule(
        "APIM003",
        "missing-attribute",
        Severity.ERROR,
        ("Required attributes and elements must be present or APIM refuses the policy."),
        attributes,
    ),
    Rule(
        "APIM004",
        "invalid-value",
        Severity.ERROR,
        ("Enumerated attributes (quota periods, exists-action) accept only their listed values."),
        attributes,
    ),
    Rule(
        "APIM005",
        "wrong-section",
        Severity.ERROR,
        ("Each policy is allowed only in some sections (a token limit only in inbound)."),
        wrong_section,
    ),
    Rule(
        "APIM006",
        "repeated-policy",
        Severity.ERROR,
        ("Semantic-cache lookup and store may appear once per section."),
        once_per_section,
    ),
    Rule(
        "APIM007",
        "expression-not-allowed",
        Severity.ERROR,
        ("Some attributes (header and variable names, durations) take literals only."),
        attributes,
    ),
    Rule(
        "APIM008",
        "expression-syntax",
        Severity.ERROR,
        (
            "APIM checks expressions only partly at save time; a broken one fails every "
            "request at runtime."
        ),
        expressions,
    ),
    Rule(
        "APIM009",
        "expression-type",
        Severity.ERROR,
        ("Expressions may use only the .NET types APIM allows."),
        expressions,
    ),
    Rule(
        "APIM010",
        "cache-threshold",
        Severity.WARNING,
        (
            "score-threshold is a distance: 0.8 caches nearly everything, so unrelated "
            "prompts share answers."
        ),
        score_threshold,
    ),
    Rule(
        "APIM011",
        "too-many-dimensions",
        Severity.ERROR,
        ("APIM keeps at most 5 custom metric dimensions and silently drops the rest."),
        dimensions,
    ),
    Rule(
        "APIM012",
        "cache-pair",
        Severity.WARNING,
        ("A semantic-cache lookup without a store (or the reverse) never caches anything."),
        cache_pairs,
    ),
    Rule(
        "APIM013",
        "retry-count",
        Severity.WARNING,
        ("Retrying more often than a pool has other members resends to members that just failed."),
        retry_over_pool,
    ),
    Rule(
        "APIM014",
        "undefined-reference",
        Severity.ERROR,
        ("A backend or fragment that does not exist makes APIM refuse the policy at deployment."),
        undefined_references,
    ),
    Rule(
        "APIM015",
        "missing-base",
        Severity.WARNING,
        ("A section without <base/> silently drops the parent scopes' policies."),
        missing_base,
    ),
    Rule(
        "APIM016",
        "unauthenticated-counter-key",
        Severity.WARNING,
        ("A counter key from a header or query value lets callers pick a fresh counter."),
        unauthenticated_key,
    ),
    Rule(
        "APIM017",
        "managed-identity-audience",
        Severity.WARNING,
        ("Azure OpenAI accepts tokens for https://cognitiveservices.azure.com only."),
        managed_identity_audience,
    ),
    Rule(
        "APIM018",
        "retry-on-pool-unavailable",
        Severity.WARNING,
        (
            "When every pool member is tripped the gateway answers 503 itself; a retry on 503 "
            "that does not exclude it only re-asks the exhausted pool."
        ),
        retry_on_pool_unavailable,
    ),
    Rule(
        "APIM019",
        "retry-unbuffered-body",
        Severity.WARNING,
        (
            "forward-request buffers the request body for reuse on retry only with "
            'buffer-request-body="true" (Learn: forward-request); a retried chat completion '
            "needs its body again."
        ),
        retry_without_buffered_body,
    ),
    Rule(
        "APIM020",
        "variable-cast",
        Severity.WARNING,
        (
            "set-variable's literal values are strings and the limit policies store numbers; "
            "casting a variable to another type throws on every request that reads it."
        ),
        variable_types,
    ),
    Rule(
        "APIM021",
        "response-cache-on-llm",
        Severity.WARNING,
        (
            "API Management looks up and stores responses to GET requests only (Learn: "
            "cache-lookup); chat completions and embeddings are POST, so the response cache "
            "never serves them and every call spends tokens."
        ),
        response_cache_on_llm,
    ),
    Rule(
        "APIM022",
        "unknown-element",
        Severity.ERROR,
        (
            "A policy holds only its documented elements; one copied from a look-alike policy "
            "(<vary-by-header> in a semantic-cache lookup, <dimensions>) is refused on saving."
        ),
        unknown_elements,
    ),
    Rule(
        "APIM023",
        "variable-reference-equality",
        Severity.WARNING,
        (
            "context.Variables holds objects: comparing one with a string literal by == "
            "compares references, which differ for text read from a request or set-variable."
        ),
        reference_equality,
    ),
    Rule(
        "APIM024",
        "consumed-body",
        Severity.WARNING,
        (
            "Body.As<T>() without preserveContent: true uses up the body (Learn: "
            "IMessageBody): read before forward-request, the backend gets none; read in "
            "outbound, the caller does."
        ),
        consumed_body,
    ),
    Rule(
        "APIM025",
        "retry-first-attempt",
        Severity.WARNING,
        (
            "context.Response is never null: before the backend answers it is the gateway's "
            "own 200 OK, so a retry body that tests only for a response reroutes on the first "
            "attempt too."
        ),
        retry_first_attempt,
    ),
    Rule(
        "APIM026",
        "unset-variable",
        Severity.WARNING,
        (
            'context.Variables["x"] throws KeyNotFoundException when no policy set x; read '
            "with GetValueOrDefault or test with ContainsKey where it may be missing."
        ),
        unset_variables,
    ),
    Rule(
        "APIM027",
        "backtracking-regex",
        Severity.WARNING,
        (
            "A Regex pattern with nested quantifiers (^(a+)+$) backtracks exponentially on "
            "inputs that almost match; the gateway spends the match timeout on each such "
            "request, then throws RegexMatchTimeoutException."
        ),
        backtracking_regex,
    ),
    Rule(
        "APIM028",
        "unknown-member",
        Severity.WARNING,
        (
            "A member name close to one the expression runtime knows, but not it "
            "(.ToLowerr(), GetValueOrDefaul): APIM compiles expressions when a policy is "
            "saved and refuses the policy; the simulator fails every call that reaches it."
        ),
        unknown_members,
    ),
)

RULE_SEVERITY = {rule.id: rule.severity for rule in RULES}
