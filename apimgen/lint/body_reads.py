"""APIM024: a message body read without ``preserveContent: true`` where it is still needed.

Learn (policy expressions, IMessageBody): ``Body.As<T>()`` "uses the original message body
stream" and "renders it unavailable after it returns" unless ``preserveContent`` is true. Read
that way before the call to the backend, the body is gone: forward-request sends none, and
Azure OpenAI answers 400. In outbound the same read takes the response body from the caller
(Learn, set-body: "the original message body is lost and must be set by returning the body
back"). A ``set-body`` that reads the body to rewrite it is the documented exception — what it
returns becomes the body — so a section with one is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator

from apimgen.lint.variable_types import expression_nodes
from apimgen.simulate.expr import ast

__all__ = ["consuming_body_reads"]


def consuming_body_reads(text: str, message: str = "Request") -> Iterator[str]:
    """How each ``context.Request.Body.As<T>(...)`` (or ``Response``) in ``text`` that consumes
    the body is written (a read whose preserveContent is not literally false is given the
    benefit)."""
    for node in expression_nodes(text):
        if (
            isinstance(node, ast.Call)
            and ast.is_context_path(node.target, message, "Body", "As")
            and _consumes(node)
        ):
            yield f"context.{message}.Body.As<{', '.join(node.type_args) or 'string'}>()"


def _consumes(call: ast.Call) -> bool:
    """No preserveContent argument, or one that is literally false."""
    for arg in call.args:
        value = arg.value if isinstance(arg, ast.NamedArg) else arg
        if isinstance(arg, ast.NamedArg) and arg.name != "preserveContent":
            continue
        return isinstance(value, ast.Literal) and value.value is False
    return True
