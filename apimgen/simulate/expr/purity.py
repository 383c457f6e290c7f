"""Which expressions depend only on who is calling, so their value can be kept per caller.

Counter keys and metric dimensions are nearly always of the form
``@(context.Subscription?.Id ?? "anonymous")``: they read only the parts of the context that
describe the caller (its subscription, product, user, the API and operation, the gateway's
deployment), which no policy can change. Such an expression gives the same value for every
request of a caller, so the simulator may evaluate it once per caller instead of once per
request. This module decides, from the syntax tree alone and conservatively, which expressions
qualify: anything it does not know to be pure (a method it has not vetted, a lambda, a block,
the request, variables, time) disqualifies the expression.
"""

from __future__ import annotations

from apimgen.simulate.expr import ast

__all__ = ["CALLER_PARTS", "caller_parts"]

# Context properties fixed for a caller: no policy can change them during a request.
CALLER_PARTS = frozenset({"Subscription", "Product", "User", "Api", "Operation", "Deployment"})

# String methods whose result depends only on their target and arguments.
_PURE_METHODS = frozenset(
    {
        "ToLower", "ToUpper", "ToLowerInvariant", "ToUpperInvariant", "Trim", "TrimStart",
        "TrimEnd", "ToString", "Substring", "Replace", "Contains", "StartsWith", "EndsWith",
        "IndexOf", "Equals",
    }
)  # fmt: skip

# Operators that compute from their operands and nothing else.
_PURE_OPERATORS = frozenset({"??", "+", "==", "!=", "&&", "||", "!"})


def caller_parts(node: ast.Node) -> frozenset[str] | None:
    """The caller parts ``node`` reads when its value depends on nothing else, else None.

    An empty set means a constant expression."""
    if isinstance(node, ast.Literal):
        return frozenset()
    if isinstance(node, ast.Member):
        return _member_parts(node)
    if isinstance(node, ast.Binary):
        if node.op not in _PURE_OPERATORS:
            return None
        return _union(caller_parts(node.left), caller_parts(node.right))
    if isinstance(node, ast.Unary):
        return caller_parts(node.operand) if node.op in _PURE_OPERATORS else None
    if isinstance(node, ast.Conditional):
        return _union(
            caller_parts(node.condition), caller_parts(node.then), caller_parts(node.otherwise)
        )
    if isinstance(node, ast.Interpolated):
        return _union(*(caller_parts(p) for p in node.parts if isinstance(p, ast.Node)))
    if isinstance(node, ast.Call):
        target = node.target
        if not isinstance(target, ast.Member) or target.name not in _PURE_METHODS:
            return None
        if node.type_args or any(not _plain_argument(arg) for arg in node.args):
            return None
        return _union(caller_parts(target.target), *(caller_parts(arg) for arg in node.args))
    return None


def _member_parts(node: ast.Member) -> frozenset[str] | None:
    """``context.Part.A?.B``: {Part} when Part describes the caller."""
    root, reads = ast.member_reads(node)
    if isinstance(root, ast.Name):
        if root.id == "context" and reads[0].name in CALLER_PARTS:
            return frozenset({reads[0].name})
        return None
    # A property of a pure value (a string's Length, say) is pure too.
    return caller_parts(root)


def _plain_argument(arg: ast.Node) -> bool:
    return not isinstance(arg, ast.NamedArg | ast.OutArg | ast.Lambda)


def _union(*parts: frozenset[str] | None) -> frozenset[str] | None:
    result: frozenset[str] = frozenset()
    for part in parts:
        if part is None:
            return None
        result |= part
    return result
