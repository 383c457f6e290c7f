"""APIM027: regular expressions in policy expressions that can backtrack without end.

.NET's ``Regex`` is a backtracking engine: a quantified group whose body can itself match a
varying number of characters (``^(a+)+$``, ``(\\w+\\s?)*``) tries exponentially many ways to
split an input that almost matches, and the gateway then spends the match timeout on every such
request before ``RegexMatchTimeoutException`` ends it. The simulator's engine sidesteps some of
these patterns, so lint is where they are caught: the pattern is read with Python's own regular
expression parser and a repeat with no upper bound around a variable-length repeat is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# The parser behind ``re`` (private, but stable since ``sre_parse`` moved there in 3.11).
from re import _constants as _sre_constants
from re import _parser as _sre_parser
from typing import Any

from apimgen.lint.variable_types import expression_nodes
from apimgen.simulate.expr import ast
from apimgen.simulate.expr.regexes import REGEX_METHODS, python_pattern

__all__ = ["nested_quantifiers", "regex_patterns"]

_REPEATS = {
    _sre_constants.MAX_REPEAT,
    _sre_constants.MIN_REPEAT,
    *([_sre_constants.POSSESSIVE_REPEAT] if hasattr(_sre_constants, "POSSESSIVE_REPEAT") else []),
}
_UNBOUNDED = _sre_constants.MAXREPEAT


def regex_patterns(text: str) -> Iterator[str]:
    """The literal patterns ``Regex.IsMatch(input, "...")`` and its siblings use in ``text``."""
    for node in expression_nodes(text):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.target, ast.Member)
            and isinstance(node.target.target, ast.Name)
            and node.target.target.id in ("Regex", "System.Text.RegularExpressions.Regex")
            and node.target.name in REGEX_METHODS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Literal)
            and isinstance(node.args[1].value, str)
        ):
            yield node.args[1].value


def nested_quantifiers(pattern: str) -> bool:
    """Whether ``pattern`` repeats, without an upper bound, a part that itself matches a
    varying number of characters through a quantifier. A pattern that does not parse is left
    to the simulator, which reports it as .NET's ArgumentException."""
    try:
        parsed = _sre_parser.parse(python_pattern(pattern))
    except (re.error, RecursionError, OverflowError):
        return False
    return _has_nested(list(parsed), inside_unbounded=False)


def _has_nested(items: list[tuple[Any, Any]], *, inside_unbounded: bool) -> bool:
    for op, argument in items:
        if op in _REPEATS:
            low, high, body = argument
            if inside_unbounded and low != high:
                return True
            if _has_nested(list(body), inside_unbounded=inside_unbounded or high == _UNBOUNDED):
                return True
        else:
            for part in _parts(op, argument):
                if _has_nested(part, inside_unbounded=inside_unbounded):
                    return True
    return False


def _parts(op: Any, argument: Any) -> Iterator[list[tuple[Any, Any]]]:
    """The sub-patterns under a group, an alternation or an assertion."""
    if op is _sre_constants.SUBPATTERN:
        yield list(argument[-1])
    elif op is _sre_constants.BRANCH:
        for branch in argument[1]:
            yield list(branch)
    elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
        yield list(argument[1])
    elif op is getattr(_sre_constants, "ATOMIC_GROUP", None):
        yield list(argument)
