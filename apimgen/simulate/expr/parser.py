"""Parse policy expressions with the grammar in ``csharp.lark``; the only module importing lark.

``parse_expression`` takes the text of an attribute or element (``@(...)`` or ``@{...}``) and
returns the syntax tree; parse results are cached, so an expression used by many requests or
many policies is parsed once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from apimgen.limits import EXPRESSION_MAX_DEPTH
from apimgen.simulate.expr import ast

__all__ = ["ExpressionSyntaxError", "parse_expression", "shifted"]


class ExpressionSyntaxError(Exception):
    """A policy expression that does not parse; positions are within the expression text."""

    def __init__(self, message: str, text: str, line: int, column: int) -> None:
        self.message = message
        self.text = text
        self.line = line
        self.column = column
        lines = text.splitlines() or [""]
        excerpt = lines[min(line, len(lines)) - 1]
        caret = " " * max(column - 1, 0) + "^"
        super().__init__(f"{message} at {line}:{column}\n    {excerpt}\n    {caret}")


@cache
def _parser() -> Lark:
    from apimgen.cache import cache_dir

    grammar = resources.files("apimgen.simulate.expr").joinpath("csharp.lark").read_text()
    directory = cache_dir()
    # Building the LALR tables takes longer than most simulations; lark keeps them keyed by
    # the grammar's hash and rebuilds them when the file is missing or does not match.
    cache: str | bool = str(directory / "csharp-lark.cache") if directory is not None else False
    return Lark(
        grammar,
        parser="lalr",
        start=["start_expr", "start_block"],
        propagate_positions=True,
        maybe_placeholders=True,
        cache=cache,
    )


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "0": "\0",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _unescape(body: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(body):
        ch = body[index]
        if ch != "\\":
            out.append(ch)
            index += 1
            continue
        code = body[index + 1]
        if code == "u":
            digits = body[index + 2 : index + 6]
            if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                raise ExpressionSyntaxError(
                    "\\u in a string takes four hex digits", body, 1, index + 1
                )
            out.append(chr(int(digits, 16)))
            index += 6
            continue
        out.append(_ESCAPES.get(code, code))
        index += 2
    return "".join(out)


_UNQUALIFIED = re.compile(r"^(?:System\.(?:Collections\.Generic\.)?|Newtonsoft\.Json\.Linq\.)")


def _pos(meta: Any) -> tuple[int, int]:
    return getattr(meta, "line", 1), getattr(meta, "column", 1)


def _token_pos(token: Token) -> tuple[int, int]:
    return token.line or 1, token.column or 1


def _split_generic(text: str) -> tuple[str, tuple[str, ...]]:
    """``As<Newtonsoft.Json.Linq.JObject>`` as ``As`` and ``("JObject",)``."""
    name, _, rest = text.partition("<")
    return name, tuple(_UNQUALIFIED.sub("", part.strip()) for part in rest.rstrip(">").split(","))


def _outside_strings(text: str) -> Iterator[tuple[int, str, int]]:
    """Each character outside string and char literals, with the bracket depth it stands at
    (an opening bracket counts itself)."""
    depth, quote = 0, ""
    for position, char in enumerate(text):
        if quote:
            if char == quote and text[position - 1] != "\\":
                quote = ""
            continue
        if char in "\"'":
            quote = char
            continue
        if char in "([{":
            depth += 1
        yield position, char, depth
        if char in ")]}":
            depth -= 1


def _hole(text: str) -> ast.Node:
    """An interpolation hole: its expression, then ``,width`` and ``:format`` found outside
    brackets and strings (C# ends the expression at the first such ``:``, which is why a
    conditional in a hole needs parentheses)."""
    comma, colon = -1, -1
    for position, char, depth in _outside_strings(text):
        if depth == 0 and char == "," and comma < 0:
            comma = position
        elif depth == 0 and char == ":":
            colon = position
            break
    end = colon if colon >= 0 else len(text)
    expression_end = comma if 0 <= comma < end else end
    value = _parse_cached(text[:expression_end].strip(), "start_expr")
    if expression_end == end and colon < 0:
        return value
    width = None
    if 0 <= comma < end:
        written = text[comma + 1 : end].strip()
        if not re.fullmatch(r"-?\d+", written):
            # C# takes a constant there; a name or an expression is a compile error
            raise ExpressionSyntaxError(
                f"an interpolation's alignment is a whole number, not '{written}'",
                text,
                1,
                comma + 2,
            )
        width = int(written)
    spec = text[colon + 1 :] if colon >= 0 else None
    return ast.FormattedHole(value.line, value.column, value, width, spec)


def _interpolation_parts(raw: str) -> tuple[str | ast.Node, ...]:
    verbatim = raw.startswith("$@")
    body = raw[3:-1] if verbatim else raw[2:-1]
    parts: list[str | ast.Node] = []
    literal: list[str] = []
    index = 0
    while index < len(body):
        ch = body[index]
        if body.startswith("{{", index) or body.startswith("}}", index):
            literal.append(ch)
            index += 2
            continue
        if ch == "{":
            depth, end, in_string = 1, index + 1, False
            while end < len(body) and depth:
                c = body[end]
                if c == '"' and body[end - 1] != "\\":
                    in_string = not in_string
                elif not in_string:
                    depth += {"{": 1, "}": -1}.get(c, 0)
                end += 1
            hole = body[index + 1 : end - 1]
            if literal:
                text = "".join(literal)
                parts.append(text.replace('""', '"') if verbatim else _unescape(text))
                literal = []
            parts.append(_hole(hole))
            index = end
            continue
        literal.append(ch)
        index += 1
    if literal:
        text = "".join(literal)
        parts.append(text.replace('""', '"') if verbatim else _unescape(text))
    return tuple(parts)


@v_args(meta=True)
class _ToAst(Transformer[Token, ast.Node]):
    """lark tree → frozen AST nodes with positions."""

    # -- literals
    def string(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Literal(*_pos(meta), _unescape(str(c[0])[1:-1]))

    def verbatim_string(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Literal(*_pos(meta), str(c[0])[2:-1].replace('""', '"'))

    def char(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Literal(*_pos(meta), _unescape(str(c[0])[1:-1]))

    def number(self, meta: Any, c: list[Token]) -> ast.Node:
        text = str(c[0]).replace("_", "")  # 1_000_000: digit separators
        if text[:2] in ("0x", "0X"):
            return ast.Literal(*_pos(meta), int(text[2:].rstrip("uUlL"), 16))
        suffix = text[-1].lower() if text[-1].isalpha() else ""
        digits = text.rstrip("lLdDfFmMuU")
        is_real = suffix in ("d", "f", "m") or any(ch in digits for ch in ".eE")
        return ast.Literal(*_pos(meta), float(digits) if is_real else int(digits))

    def true(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Literal(*_pos(meta), True)

    def false(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Literal(*_pos(meta), False)

    def null(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Literal(*_pos(meta), None)

    def interpolated(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Interpolated(*_pos(meta), _interpolation_parts(str(c[0])))

    # -- names, members, calls
    def name(self, meta: Any, c: list[Token]) -> ast.Node:
        return ast.Name(*_pos(meta), str(c[0]).lstrip("@"))

    # A member sits where its name is written (``.ToLower`` in ``x.Trim().ToLower()``), so an
    # error about it points there rather than at the start of the chain.
    def member(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Member(*_token_pos(c[1]), c[0], str(c[1]))

    def member_nc(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Member(*_token_pos(c[1]), c[0], str(c[1]), null_conditional=True)

    def args(self, meta: Any, c: list[Any]) -> tuple[ast.Node, ...]:
        return tuple(x for x in c if x is not None)

    def call(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Call(*_pos(meta), c[0], c[1])

    def _generic(self, meta: Any, c: list[Any], null_conditional: bool) -> ast.Node:
        name, type_args = _split_generic(str(c[1]))
        target = ast.Member(*_token_pos(c[1]), c[0], name, null_conditional)
        return ast.Call(*_pos(meta), target, c[2], type_args)

    def generic_call(self, meta: Any, c: list[Any]) -> ast.Node:
        return self._generic(meta, c, False)

    def generic_call_nc(self, meta: Any, c: list[Any]) -> ast.Node:
        return self._generic(meta, c, True)

    def generic_function(self, meta: Any, c: list[Any]) -> ast.Node:
        name, type_args = _split_generic(str(c[0]))
        line, column = _pos(meta)
        return ast.Call(line, column, ast.Name(line, column, name), c[1], type_args)

    def index(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Index(*_pos(meta), c[0], c[1])

    def index_nc(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Index(*_pos(meta), c[0], c[1], null_conditional=True)

    def named_arg(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.NamedArg(*_pos(meta), str(c[0]), c[1])

    def out_arg(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.OutArg(*_pos(meta), str(c[-1]))

    # -- operators
    def _op(self, tree_or_token: Any) -> str:
        return (
            str(tree_or_token.children[0])
            if hasattr(tree_or_token, "children")
            else str(tree_or_token)
        )

    def binary(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Binary(*_pos(meta), self._op(c[1]), c[0], c[2])

    def or_(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Binary(*_pos(meta), "||", c[0], c[1])

    def and_(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Binary(*_pos(meta), "&&", c[0], c[1])

    def binary_or(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Binary(*_pos(meta), "|", c[0], c[1])

    def binary_xor(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Binary(*_pos(meta), "^", c[0], c[1])

    def binary_and(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Binary(*_pos(meta), "&", c[0], c[1])

    def coalesce(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Binary(*_pos(meta), "??", c[0], c[1])

    def conditional(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Conditional(*_pos(meta), c[0], c[1], c[2])

    def unary(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Unary(*_pos(meta), self._op(c[0]), c[1])

    def cast(self, meta: Any, c: list[Any]) -> ast.Node:
        # (Newtonsoft.Json.Linq.JObject)x is (JObject)x: the namespace names the same type
        written = str(c[0])[1:-1].rstrip("?")
        return ast.Cast(*_pos(meta), _UNQUALIFIED.sub("", written), c[1])

    def is_type(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.TypeTest(*_pos(meta), c[0], c[1], as_cast=False)

    def is_pattern(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.TypeTest(*_pos(meta), c[0], c[1], as_cast=False, variable=str(c[2]))

    def as_type(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.TypeTest(*_pos(meta), c[0], c[1], as_cast=True)

    def type_ref(self, meta: Any, c: list[Any]) -> str:
        return ".".join(str(x) for x in c if x is not None and str(x) != "[]") + (
            "[]" if any(str(x) == "[]" for x in c if x is not None) else ""
        )

    def generic_type(self, meta: Any, c: list[Any]) -> str:
        return ".".join(str(part) for part in c)  # System.Collections.Generic.List<int>

    def lambda_(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Lambda(*_pos(meta), (str(c[0]),), c[1])

    def lambda_params(self, meta: Any, c: list[Any]) -> ast.Node:
        inside = str(c[0]).split("(", 1)[1].rsplit(")", 1)[0]
        names = tuple(part.split()[-1] for part in inside.split(",") if part.strip())
        return ast.Lambda(*_pos(meta), names, c[1])

    def local_function(self, meta: Any, c: list[Any]) -> ast.Node:
        # c: return type, [ARRAY], name, the parameters (None when there are none), body
        c = [x for x in c if not (isinstance(x, Token) and x.type == "ARRAY")]
        params = tuple(p for p in c[2:-1] if p is not None)
        return ast.LocalFunction(*_pos(meta), str(c[1]), params, c[-1])

    def parameter(self, meta: Any, c: list[Any]) -> str:
        return str(c[1])

    # -- object creation
    def new_object(self, meta: Any, c: list[Any]) -> ast.Node:
        type_name, type_args = _split_generic(c[0]) if "<" in c[0] else (c[0], ())
        items, members = c[2] if len(c) > 2 and c[2] is not None else ((), ())
        return ast.New(*_pos(meta), type_name, type_args, c[1], items, members)

    def new_object_init(self, meta: Any, c: list[Any]) -> ast.Node:
        type_name, type_args = _split_generic(c[0]) if "<" in c[0] else (c[0], ())
        items, members = c[1]
        if type_name.endswith("[]") and not members:  # new string[] { "a", "b" }
            return ast.ArrayCreate(*_pos(meta), items)
        return ast.New(*_pos(meta), type_name, type_args, (), items, members)

    def new_array(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.ArrayCreate(*_pos(meta), tuple(x for x in c if x is not None))

    def new_sized_array(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.SizedArray(*_pos(meta), str(c[0]), c[1])

    def new_anonymous(self, meta: Any, c: list[Any]) -> ast.Node:
        members = tuple(x for x in c if x is not None)
        return ast.New(*_pos(meta), "<anonymous>", (), (), (), members)

    def initializer(self, meta: Any, c: list[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        items = tuple(x for x in c if x is not None and not isinstance(x, tuple))
        members = tuple(x for x in c if isinstance(x, tuple))
        return items, members

    def init_pair(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.New(*_pos(meta), "<pair>", (), (c[0], c[1]))

    def index_init(self, meta: Any, c: list[Any]) -> ast.Node:
        # ["key"] = value sets the entry, as { "key", value } adds it
        return ast.New(*_pos(meta), "<pair>", (), (c[0], c[1]))

    def member_init(self, meta: Any, c: list[Any]) -> tuple[str, ast.Node]:
        return (str(c[0]), c[1])

    # -- statements
    def start_expr(self, meta: Any, c: list[Any]) -> ast.Node:
        return c[0]  # type: ignore[no-any-return]

    def start_block(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Block(*_pos(meta), _statements(c))

    def block(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Block(*_pos(meta), _statements(c))

    def declarator(self, meta: Any, c: list[Any]) -> tuple[str, Any, tuple[int, int]]:
        return str(c[0]), c[1] if len(c) > 1 else None, _pos(meta)

    def declaration(self, meta: Any, c: list[Any]) -> ast.Node:
        """``T x = 1;`` or ``byte[] a, b, c;`` (several at once: explicit types only, as
        C# refuses ``var a = 1, b = 2``)."""
        type_name, rest = str(c[0]), c[1:]
        if rest and isinstance(rest[0], Token) and rest[0].type == "ARRAY":  # string[] parts
            type_name += "[]"
            rest = rest[1:]
        declared = tuple(
            ast.Declare(line, column, name, type_name, value)
            for name, value, (line, column) in rest
        )
        if len(declared) == 1:
            return declared[0]
        if type_name == "var":
            line, column = declared[1].line, declared[1].column
            raise ExpressionSyntaxError(
                "implicitly typed variables cannot have multiple declarators", "", line, column
            )
        return ast.Declarations(*_pos(meta), declared)

    def assign_op(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def assignment(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Assign(*_pos(meta), c[0], c[1], c[2])

    def incdec(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.IncDec(*_pos(meta), c[0], self._op(c[1]))

    def if_else(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.If(*_pos(meta), c[0], c[1], c[2])

    def if_only(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.If(*_pos(meta), c[0], c[1], None)

    def return_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Return(*_pos(meta), c[0] if c else None)

    def foreach_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Foreach(*_pos(meta), str(c[1]), c[2], c[3])

    def for_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Loop(*_pos(meta), c[0], c[1], c[2], c[3])

    def while_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Loop(*_pos(meta), None, c[0], None, c[1])

    def using_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        """``using (var h = ...) body``: the declaration and the body in a block of their own
        (nothing here holds a resource to dispose of)."""
        resource = c[0] if isinstance(c[0], ast.Declare) else ast.ExprStatement(*_pos(meta), c[0])
        return ast.Block(*_pos(meta), (resource, c[1]))

    def do_while_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.DoWhile(*_pos(meta), c[0], c[1])

    def switch_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Switch(*_pos(meta), c[0], tuple(c[1:]))

    def switch_section(
        self, meta: Any, c: list[Any]
    ) -> tuple[tuple[ast.Node | None, ...], tuple[ast.Node, ...]]:
        labels = tuple(item[1] for item in c if isinstance(item, tuple) and item[0] == "label")
        statements = _statements([item for item in c if not isinstance(item, tuple)])
        return labels, statements

    def case_label(self, meta: Any, c: list[Any]) -> tuple[str, ast.Node]:
        return ("label", c[0])

    def case_guarded(self, meta: Any, c: list[Any]) -> tuple[str, ast.Node]:
        return ("label", ast.CaseLabel(*_pos(meta), c[0], None, None, c[2]))

    def case_pattern(self, meta: Any, c: list[Any]) -> tuple[str, ast.Node]:
        # [type, ARRAY?, name, WHEN?, guard?]: the array marker and `when` are tokens
        parts = [item for item in c if not (isinstance(item, Token) and item.type == "WHEN")]
        written = str(parts[0])
        if len(parts) > 1 and isinstance(parts[1], Token) and parts[1].type == "ARRAY":
            written += "[]"
            parts = [parts[0], *parts[2:]]
        guard = parts[2] if len(parts) > 2 else None
        return ("label", ast.CaseLabel(*_pos(meta), None, written, str(parts[1]), guard))

    def default_label(self, meta: Any, c: list[Any]) -> tuple[str, None]:
        return ("label", None)

    def throw_expr(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.ThrowValue(*_token_pos(c[0]), c[1])

    def default_value(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.DefaultValue(*_token_pos(c[0]), str(c[1]))

    def try_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        catches = tuple(item for item in c[1:] if isinstance(item, ast.Catch))
        final = c[-1] if len(c) > 1 and not isinstance(c[-1], ast.Catch) else None
        return ast.Try(*_pos(meta), c[0], catches, final)

    def catch_clause(self, meta: Any, c: list[Any]) -> ast.Node:
        type_name = str(c[0]) if len(c) > 1 else None
        variable = str(c[1]) if len(c) > 2 else None
        return ast.Catch(*_pos(meta), type_name, variable, c[-1])

    def finally_clause(self, meta: Any, c: list[Any]) -> ast.Node:
        return c[0]  # type: ignore[no-any-return]

    def throw_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Throw(*_token_pos(c[0]), c[1] if len(c) > 1 else None)

    def break_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Jump(*_pos(meta), "break")

    def continue_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.Jump(*_pos(meta), "continue")

    def expr_stmt(self, meta: Any, c: list[Any]) -> ast.Node:
        return ast.ExprStatement(*_pos(meta), c[0])


# `lambda` is a Python keyword; the grammar's rule name maps here.
setattr(_ToAst, "lambda", _ToAst.lambda_)


def _describe(error: UnexpectedInput, text: str) -> str:
    if isinstance(error, UnexpectedCharacters):
        if error.char == "'":
            # 'Authorization' written as in JavaScript: C# reads a char, which holds one
            return 'unexpected character "\'": C# strings take double quotes (a char holds one)'
        rest = text[(error.pos_in_stream or 0) + 1 :]
        if error.char == '"' and "\n" in rest and '"' not in rest.split("\n", 1)[0]:
            # An XML character reference (&#xA;) in a string is a real line break by now
            return (
                "a string is not closed on its line: C# strings cannot span lines (write \\n, "
                "not &#xA;, for a line break)"
            )
        return f"unexpected character {error.char!r}"
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return "unexpected end of expression"
        if str(error.token) == "switch" and "SWITCH" not in error.expected:
            return (
                "unexpected switch: `value switch { ... }` is C# 8, and APIM's policy "
                "expressions are C# 7 (write a switch statement in @{ ... })"
            )
        return f"unexpected {error.token!s}"
    return "syntax error"


def _statements(items: list[Any]) -> tuple[ast.Node, ...]:
    """A block's statements, a declaration of several variables as one statement each, in the
    block's own scope."""
    flat: list[ast.Node] = []
    for item in items:
        if isinstance(item, ast.Declarations):
            flat.extend(item.items)
        else:
            flat.append(item)
    return tuple(flat)


_TOO_DEEP = f"the expression is nested more than {EXPRESSION_MAX_DEPTH} levels deep"


def _first_too_deep(text: str) -> tuple[int, int]:
    """Where bracket nesting first passes the limit (string literals skipped), or 1:1 when
    the depth comes from something else, such as a long chain of operators."""
    for position, _, depth in _outside_strings(text):
        if depth > EXPRESSION_MAX_DEPTH // 2:
            return text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)
    return 1, 1


def _check_depth(root: ast.Node) -> None:
    """Refuse a syntax tree deeper than the limit, without recursing (the compiler, the
    evaluator and lint walk trees recursively, so they only ever see bounded ones)."""
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, ast.Node):
            if depth > EXPRESSION_MAX_DEPTH:
                raise ExpressionSyntaxError(_TOO_DEEP, "", value.line, value.column)
            stack.extend((part, depth + 1) for part in vars(value).values())
        elif isinstance(value, tuple):
            stack.extend((part, depth) for part in value)


@lru_cache(maxsize=4096)
def _parse_cached(text: str, start: str) -> ast.Node:
    try:
        tree = _parser().parse(text, start=start)
        node: ast.Node = _ToAst().transform(tree)
    except RecursionError:
        raise ExpressionSyntaxError(_TOO_DEEP, text, *_first_too_deep(text)) from None
    except UnexpectedInput as error:
        raise ExpressionSyntaxError(
            _describe(error, text), text, error.line or 1, error.column or 1
        ) from None
    except VisitError as error:
        found = error.orig_exc
        if isinstance(found, ExpressionSyntaxError):
            raise ExpressionSyntaxError(found.message, text, found.line, found.column) from None
        if isinstance(found, RecursionError):
            raise ExpressionSyntaxError(_TOO_DEEP, text, *_first_too_deep(text)) from None
        raise
    try:
        _check_depth(node)
    except ExpressionSyntaxError as error:
        raise ExpressionSyntaxError(error.message, text, error.line, error.column) from None
    return node


_SINGLE = re.compile(r"^\s*@\((?P<body>[\s\S]*)\)\s*$")
_MULTI = re.compile(r"^\s*@\{(?P<body>[\s\S]*)\}\s*$")


_OPENING = re.compile(r"^\s*@[({]")


def is_expression(text: str) -> bool:
    """True when APIM would evaluate ``text``: it starts with ``@(`` or ``@{``. One that does
    not end with the matching bracket is still an expression, a broken one that
    ``parse_expression`` refuses, not a literal that happens to start that way."""
    return bool(_OPENING.match(text))


def parse_expression(text: str) -> tuple[ast.Node, bool]:
    """The syntax tree of ``@(...)`` or ``@{...}``, and whether it is a statement block.

    Raises:
        ExpressionSyntaxError: with the position inside ``text``.
    """
    single = _SINGLE.match(text)
    if single:
        offset = text.index("@(") + 2
        try:
            return _parse_cached(single.group("body"), "start_expr"), False
        except ExpressionSyntaxError as error:
            raise shifted(error, text, offset) from None
    multi = _MULTI.match(text)
    if multi:
        offset = text.index("@{") + 2
        try:
            return _parse_cached(multi.group("body"), "start_block"), True
        except ExpressionSyntaxError as error:
            raise shifted(error, text, offset) from None
    opening = _OPENING.match(text)
    if opening:
        closing = ")" if opening.group().endswith("(") else "}"
        body = text.rstrip()  # the error points just past its end
        raise ExpressionSyntaxError(
            f"the expression is not closed: it starts with {opening.group().strip()} "
            f"but does not end with {closing}",
            text,
            body.count("\n") + 1,
            len(body) - body.rfind("\n"),
        )
    raise ExpressionSyntaxError("a policy expression starts with @( or @{", text, 1, 1)


def shifted(
    error: ExpressionSyntaxError, text: str, offset: int | None = None
) -> ExpressionSyntaxError:
    """Re-express a position in the body as a position in the whole ``@(...)`` text (the
    body starts ``offset`` characters in: just after the ``@(`` or ``@{`` by default)."""
    if offset is None:
        offset = text.index("@(" if _SINGLE.match(text) else "@{") + 2
    prefix = text[:offset]
    line = error.line + prefix.count("\n")
    column = error.column + (len(prefix) - prefix.rfind("\n") - 1 if error.line == 1 else 0)
    return ExpressionSyntaxError(error.message, text, line, column)
