"""Retries over backends and pools: counts that cannot reach every member, bodies not buffered for
a second attempt, conditions that retry what a pool refuses, retries that skip the first try."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

from apimgen.errors import Severity
from apimgen.lint.rules.base import (
    Finding,
    Knowledge,
    LintDocument,
    every_statement,
    finding,
    rule,
    statements_in,
)
from apimgen.simulate.context import Context, Response
from apimgen.simulate.expr.compiler import compile_expression
from apimgen.simulate.expr.parser import is_expression
from apimgen.simulate.expr.statics import static_types
from apimgen.simulate.policy.handlers.routing import pool_unavailable_reason

__all__ = [
    "retry_first_attempt",
    "retry_on_pool_unavailable",
    "retry_over_pool",
    "retry_without_buffered_body",
]


@rule(
    "APIM013",
    "retry-count",
    Severity.WARNING,
    ("Retrying more often than a pool has other members resends to members that just failed."),
)
def retry_over_pool(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    if not knowledge.known:
        return
    for _, statement in every_statement(document):
        if statement.name != "retry":
            continue
        pools = [
            c.attributes.get("backend-id", "")
            for c in statements_in(statement.children)
            if c.name == "set-backend-service"
        ]
        count_text = statement.attributes.get("count", "")
        for pool in pools:
            size = knowledge.backends.get(pool)
            if size is None or size < 2 or not count_text.isdigit():
                continue
            if int(count_text) > size - 1:
                yield finding(
                    "APIM013",
                    statement,
                    f"retry count {count_text} exceeds the {size} members of pool '{pool}' "
                    "minus one: the extra retries hit members that already failed",
                    f'use count="{size - 1}"',
                )


@rule(
    "APIM019",
    "retry-unbuffered-body",
    Severity.WARNING,
    (
        "forward-request buffers the request body for reuse on retry only with "
        'buffer-request-body="true" (Learn: forward-request); a retried chat completion '
        "needs its body again."
    ),
)
def retry_without_buffered_body(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """A set-body earlier in the retry gives each attempt a new body, so nothing needs to be
    buffered for it."""
    for _, statement in every_statement(document):
        if statement.name != "retry":
            continue
        body_set = False
        for inner in statements_in(statement.children):
            body_set = body_set or inner.name == "set-body"
            buffered = inner.attributes.get("buffer-request-body", "false").lower() == "true"
            if inner.name == "forward-request" and not buffered and not body_set:
                yield finding(
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


@rule(
    "APIM018",
    "retry-on-pool-unavailable",
    Severity.WARNING,
    (
        "When every pool member is tripped the gateway answers 503 itself; a retry on 503 "
        "that does not exclude it only re-asks the exhausted pool."
    ),
)
def retry_on_pool_unavailable(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """The condition is evaluated against the gateway's own 503 for an exhausted pool."""
    pools = [
        backend
        for _, statement in every_statement(document)
        if statement.name == "set-backend-service"
        and (backend := statement.attributes.get("backend-id", ""))
        and not is_expression(backend)
        and (knowledge.backends.get(backend, 0) >= 2 if knowledge.known else True)
    ]
    if not pools:
        return
    pool = pools[0]
    for _, statement in every_statement(document):
        if statement.name != "retry":
            continue
        if not any(c.name == "forward-request" for c in statements_in(statement.children)):
            continue
        condition = statement.attributes.get("condition", "")
        if is_expression(condition) and _holds(condition, _pool_exhausted_context(pool)):
            scope = f"pool '{pool}'" if knowledge.known else f"'{pool}' (when it is a pool)"
            yield finding(
                "APIM018",
                statement,
                f"retry also fires on the gateway's own 503 for {scope} with every member "
                "tripped: it re-selects a pool that has nothing to offer and delays the answer",
                'add && !context.Response.StatusReason.Contains("Backend pool") to the 503 test',
            )


@rule(
    "APIM025",
    "retry-first-attempt",
    Severity.WARNING,
    (
        "context.Response is never null: before the backend answers it is the gateway's "
        "own 200 OK, so a retry body that tests only for a response reroutes on the first "
        "attempt too."
    ),
)
def retry_first_attempt(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """A ``when`` in a retry body, before its forward-request, that holds for the gateway's own
    200: the response is never null, so it runs on the first attempt too."""
    retries = (statement for _, statement in every_statement(document) if statement.name == "retry")
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
                yield finding(
                    "APIM025",
                    when,
                    "this condition holds before the first attempt too: context.Response "
                    "is never null, it is the gateway's own 200 OK until the backend answers",
                    "test the status the retry waits for, e.g. context.Response.StatusCode == 429",
                )
