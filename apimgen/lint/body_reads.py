"""APIM024: the request body read in inbound without ``preserveContent: true``.

Learn (policy expressions, IMessageBody): ``Body.As<T>()`` "uses the original message body
stream" and "renders it unavailable after it returns" unless ``preserveContent`` is true. Read
that way before the call to the backend, the body is gone: forward-request sends none, and
Azure OpenAI answers 400. A ``set-body`` that reads the body to rewrite it is the documented
exception — what it returns becomes the body — so a document with one is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.parser import ExpressionSyntaxError, is_expression, parse_expression

__all__ = ["consuming_body_reads"]


def consuming_body_reads(text: str) -> Iterator[str]:
    """How each ``context.Request.Body.As<T>(...)`` in ``text`` that consumes the body is
    written (a read whose preserveContent is not literally false is given the benefit)."""
    if not is_expression(text):
        return
    try:
        root, _ = parse_expression(text)
    except ExpressionSyntaxError:
        return  # APIM008 reports it
    for node in ast.walk(root):
        if isinstance(node, ast.Call) and _reads_request_body(node.target) and _consumes(node):
            yield f"context.Request.Body.As<{', '.join(node.type_args) or 'string'}>()"


def _reads_request_body(target: ast.Node) -> bool:
    return (
        isinstance(target, ast.Member)
        and target.name == "As"
        and isinstance(target.target, ast.Member)
        and target.target.name == "Body"
        and isinstance(target.target.target, ast.Member)
        and target.target.target.name == "Request"
        and isinstance(target.target.target.target, ast.Name)
        and target.target.target.target.id == "context"
    )


def _consumes(call: ast.Call) -> bool:
    """No preserveContent argument, or one that is literally false."""
    for arg in call.args:
        value = arg.value if isinstance(arg, ast.NamedArg) else arg
        if isinstance(arg, ast.NamedArg) and arg.name != "preserveContent":
            continue
        return isinstance(value, ast.Literal) and value.value is False
    return True
