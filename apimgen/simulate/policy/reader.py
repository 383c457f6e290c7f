"""Read policy XML the way APIM does: real policies are often not well-formed XML.

APIM accepts raw ``"``, ``<``, ``>`` and ``&&`` inside ``@(...)``/``@{...}`` expressions in
attribute values and element text (Microsoft's own samples do it). The reader first escapes
exactly those expression bodies — counting parentheses and braces and skipping C# string
literals — then parses with expat, with DTDs refused (so no entity expansion and no external
entities). Escaping never adds or removes a newline, so every element keeps its line number.

A document is bounded as APIM bounds it: no larger than its documented 256 KiB, and nested no
deeper than :data:`~apimgen.limits.POLICY_MAX_DEPTH` elements, so every walk over the tree
(lint, the compiler) stays far from Python's recursion limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from xml.parsers import expat

from apimgen.errors import ApimgenError, Location
from apimgen.limits import POLICY_MAX_BYTES, POLICY_MAX_DEPTH

__all__ = ["PolicyElement", "PolicyReadError", "escape_expressions", "read_policy"]


class PolicyReadError(ApimgenError):
    """Policy XML that APIM would refuse to load."""


@dataclass(frozen=True)
class PolicyElement:
    """One policy statement (or section, or document root) with where it was written."""

    name: str
    attributes: dict[str, str]
    children: tuple[PolicyElement, ...] = ()
    text: str | None = None
    file: str = "<policy>"
    line: int = 0
    column: int = 0
    attribute_order: tuple[str, ...] = field(default=())

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.column)

    def child(self, name: str) -> PolicyElement | None:
        return next((c for c in self.children if c.name == name), None)


_ENTITIES = {"&quot;": '"', "&apos;": "'", "&lt;": "<", "&gt;": ">", "&amp;": "&"}
_ENTITY_RE = re.compile(r"&(?:quot|apos|lt|gt|amp|#\d+|#x[0-9a-fA-F]+);")


def _char_at(text: str, index: int) -> tuple[str, int]:
    """The character at ``index`` (an XML entity counts as the character it stands for)."""
    if text[index] == "&":
        entity = _ENTITY_RE.match(text, index)
        if entity:
            return _ENTITIES.get(entity.group(0), "?"), len(entity.group(0))
    return text[index], 1


def _scan_expression(text: str, start: int) -> int:
    """Index just past the expression starting at ``text[start]`` (``@(`` or ``@{``), or -1.

    Parentheses and braces are counted outside C# comments and string and char literals;
    quotes may be raw (APIM's lenient form) or written as entities. A comment is skipped
    whole: an apostrophe or a brace in ``// don't {`` opens nothing.
    """
    depth = 0
    index = start + 1
    in_string: str | None = None
    verbatim = False
    while index < len(text):
        if not in_string and text.startswith(("//", "/*"), index):
            end = text.find("\n" if text[index + 1] == "/" else "*/", index + 2)
            if end < 0:
                return -1
            index = end + (1 if text[index + 1] == "/" else 2)
            continue
        ch, step = _char_at(text, index)
        if in_string:
            if ch == "\\" and not verbatim:
                index += step
                if index < len(text):
                    index += _char_at(text, index)[1]
                continue
            if ch == in_string:
                in_string = None
        elif ch in "\"'":
            in_string = ch
            verbatim = ch == '"' and text[index - 1] == "@"
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
            if depth == 0:
                return index + step
        index += step
    return -1


# An XML parser turns a line break in an attribute into a space, which would run a // comment
# on over the rest of a multi-line @{ } block; a character reference keeps it. The line break
# itself stays too, so every line after the block keeps its number (the parser makes it a
# space after the reference, which _attribute_value takes out again).
_KEPT_WHITESPACE = {"\n": "&#10;\n", "\r": "&#13;", "\t": "&#9;"}


def _escape_body(body: str, quote: str | None) -> str:
    out: list[str] = []
    index = 0
    while index < len(body):
        entity = _ENTITY_RE.match(body, index) if body[index] == "&" else None
        if entity:
            out.append(entity.group(0))
            index += len(entity.group(0))
            continue
        ch = body[index]
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif quote and ch == quote:
            out.append("&quot;" if quote == '"' else "&apos;")
        elif quote and ch in _KEPT_WHITESPACE:
            out.append(_KEPT_WHITESPACE[ch])
        else:
            out.append(ch)
        index += 1
    return "".join(out)


_ATTRIBUTE_EXPRESSION = re.compile(r"""=\s*(["'])\s*(?=@[({])""")
_TEXT_EXPRESSION = re.compile(r">(\s*)(?=@[({])")


def escape_expressions(text: str) -> str:
    """``text`` with every expression body XML-escaped; other text is left as written."""
    out: list[str] = []
    index = 0
    length = len(text)
    while index < length:
        if text.startswith("<!--", index):
            end = text.find("-->", index)
            end = length if end < 0 else end + 3
            out.append(text[index:end])
            index = end
            continue
        if text.startswith("<![CDATA[", index):
            end = text.find("]]>", index)
            end = length if end < 0 else end + 3
            out.append(text[index:end])
            index = end
            continue
        attribute = _ATTRIBUTE_EXPRESSION.match(text, index)
        element_text = None if attribute else _TEXT_EXPRESSION.match(text, index)
        match = attribute or element_text
        if match is None:
            out.append(text[index])
            index += 1
            continue
        out.append(match.group(0))
        start = match.end()
        quote = attribute.group(1) if attribute else None
        end = _scan_expression(text, start)
        if end < 0:
            out.append(text[start:])  # unbalanced: let the XML parser report the position
            break
        out.append(_escape_body(text[start:end], quote))
        index = end
    return "".join(out)


class _TreeBuilder:
    def __init__(
        self,
        parser: expat.XMLParserType,
        file: str,
        substitute: Callable[[str], str] | None = None,
    ) -> None:
        self.parser = parser
        self.file = file
        self.substitute = substitute
        self.stack: list[tuple[str, dict[str, str], list[PolicyElement], list[str], int, int]] = []
        self.root: PolicyElement | None = None

    @staticmethod
    def _attribute_value(value: str) -> str:
        """An expression's line breaks as written (see _KEPT_WHITESPACE)."""
        return value.replace("\n ", "\n") if value.lstrip().startswith("@") else value

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if len(self.stack) >= POLICY_MAX_DEPTH:
            raise PolicyReadError(
                f"<{name}> is nested more than {POLICY_MAX_DEPTH} elements deep",
                hint="see the limits table in docs/limits.md",
                location=Location(
                    self.file, self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber + 1
                ),
            )
        self.stack.append(
            (
                name,
                {key: self._attribute_value(value) for key, value in attributes.items()},
                [],
                [],
                self.parser.CurrentLineNumber,
                self.parser.CurrentColumnNumber + 1,
            )
        )

    def end(self, _: str) -> None:
        name, attributes, children, text, line, column = self.stack.pop()
        joined = "".join(text)
        if self.substitute is not None:
            attributes = {key: self.substitute(value) for key, value in attributes.items()}
            joined = self.substitute(joined)
        element = PolicyElement(
            name=name,
            attributes=attributes,
            children=tuple(children),
            text=joined.strip() if joined.strip() else None,
            file=self.file,
            line=line,
            column=column,
            attribute_order=tuple(attributes),
        )
        if self.stack:
            self.stack[-1][2].append(element)
        else:
            self.root = element

    def data(self, content: str) -> None:
        if self.stack:
            self.stack[-1][3].append(content)


def _refuse_doctype(*_: object) -> None:
    raise PolicyReadError("DTDs are not allowed in policy XML")


_NAMED_VALUE = re.compile(r"\{\{([^{}]+)\}\}")


def check_named_values(text: str, values: Mapping[str, str], file: str) -> None:
    """Refuse a ``{{name}}`` the scenario does not define, located in the file's text."""
    for match in _NAMED_VALUE.finditer(text):
        if match.group(1).strip() not in values:
            line = text.count("\n", 0, match.start()) + 1
            raise PolicyReadError(
                f"named value '{match.group(0)}' is not defined",
                hint="define it in the scenario's named_values",
                location=Location(file, line, match.start() - text.rfind("\n", 0, match.start())),
            )


def _substituter(values: Mapping[str, str]) -> Callable[[str], str]:
    """Replaces ``{{name}}`` in a parsed attribute value or element text.

    APIM puts a named value into the policy after reading its XML, so a value may hold what
    XML would refuse in an attribute: a JSON load-balancer configuration with its quotes, a
    ``<`` or ``&``. Substituting into the raw text first would break the document."""

    def substitute(text: str) -> str:
        if "{{" not in text:
            return text
        return _NAMED_VALUE.sub(lambda match: values[match.group(1).strip()], text)

    return substitute


def _comment_hint(text: str, line: int, offset: int) -> str:
    """XML forbids "--" inside a comment; the parser only says "invalid token", and APIM's
    refusal does not mention comments either, so say so when that is what stopped it."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return ""
    before = "\n".join([*lines[: line - 1], lines[line - 1][:offset]])
    in_comment = before.rfind("<!--") > before.rfind("-->")
    return (
        "a comment cannot contain '--' (XML forbids it)"
        if in_comment and "--" in lines[line - 1][max(offset - 2, 0) : offset + 2]
        else ""
    )


_CLOSING_TAG = re.compile(r"</\s*([^\s>]+)")


def _describe_error(error: expat.ExpatError, text: str, builder: _TreeBuilder) -> str:
    """expat's message, and for a closing tag that closes the wrong element, both tags."""
    message = expat.errors.messages[error.code]
    if message != expat.errors.XML_ERROR_TAG_MISMATCH or not builder.stack:
        return message
    lines = text.splitlines()
    line = lines[error.lineno - 1] if 0 < error.lineno <= len(lines) else ""
    closing = _CLOSING_TAG.search(line, max(error.offset - 2, 0))
    opened, opened_line = builder.stack[-1][0], builder.stack[-1][4]
    written = f"</{closing.group(1)}>" if closing else "this closing tag"
    return f"{written} does not close <{opened}> (opened on line {opened_line})"


def read_policy(
    text: str, file: str = "<policy>", named_values: Mapping[str, str] | None = None
) -> PolicyElement:
    """The element tree of one policy document (``<policies>`` or ``<fragment>``).

    Raises:
        PolicyReadError: malformed XML (with line and column), a DTD, an unknown named value.
    """
    size = len(text.encode("utf-8"))
    if size > POLICY_MAX_BYTES:
        raise PolicyReadError(
            f"the policy document is {size // 1024} KiB; APIM refuses documents over "
            f"{POLICY_MAX_BYTES // 1024} KiB",
            hint="move shared parts into policy fragments",
            location=Location(file, 1, 1),
        )
    substitute: Callable[[str], str] | None = None
    if named_values is not None:
        check_named_values(text, named_values, file)
        substitute = _substituter(named_values)
    escaped = escape_expressions(text)
    parser = expat.ParserCreate()
    builder = _TreeBuilder(parser, file, substitute)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(escaped, True)
    except expat.ExpatError as error:
        raise PolicyReadError(
            f"not well-formed policy XML: {_describe_error(error, escaped, builder)}",
            hint=_comment_hint(escaped, error.lineno, error.offset),
            location=Location(file, error.lineno, error.offset + 1),
        ) from None
    except PolicyReadError as error:
        error.location = error.location or Location(file, parser.CurrentLineNumber, 1)
        raise
    assert builder.root is not None
    return builder.root
