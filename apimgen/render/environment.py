"""The one Jinja environment every artifact is rendered with, and its escaping filters.

Strict undefined (a typo in a template fails loudly), trailing newline kept, autoescape off:
each target language has its own explicit escaping filter instead (``xml_attr``, ``xml_text``).
"""

from __future__ import annotations

from functools import cache

import jinja2

from apimgen.resources import template_dir

__all__ = ["environment", "xml_attr", "xml_attribute", "xml_text"]

# Characters Python's str.splitlines() treats as line breaks are written as references, so
# re-indenting a rendered statement can never split a value in two.
_LINE_BREAKS = {"\x85": "&#133;", "\u2028": "&#8232;", "\u2029": "&#8233;"}
_TEXT_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", **_LINE_BREAKS}
_CONTROL_ESCAPES = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def xml_text(value: object) -> str:
    """Element text: ``&``, ``<`` and ``>`` (plus Unicode line separators) are escaped."""
    return "".join(_TEXT_ESCAPES.get(ch, ch) for ch in str(value))


def xml_attr(value: object) -> str:
    """An attribute value with its quotes: ``"..."``, or ``'...'`` when that avoids ``&quot;``.

    Policy expressions are full of double quotes; single-quoting them keeps the XML readable
    (``value='@(context.Request.Headers.GetValueOrDefault("X", ""))'``) while staying well-formed.
    """
    text = str(value).lower() if isinstance(value, bool) else str(value)
    quote = "'" if '"' in text and "'" not in text else '"'
    escaped = []
    for ch in text:
        if ch in _TEXT_ESCAPES:
            escaped.append(_TEXT_ESCAPES[ch])
        elif ch in _CONTROL_ESCAPES:
            escaped.append(_CONTROL_ESCAPES[ch])
        elif ch == quote:
            escaped.append("&quot;" if quote == '"' else "&apos;")
        else:
            escaped.append(ch)
    return f"{quote}{''.join(escaped)}{quote}"


def xml_attribute(name: str, value: object) -> str:
    """`` name="value"``, or nothing when the value is None (an optional attribute left out)."""
    if value is None:
        return ""
    return f" {name}={xml_attr(value)}"


def _template_error(message: str) -> None:
    raise jinja2.TemplateRuntimeError(message)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["xml_text"] = xml_text
    env.filters["xml_attr"] = xml_attr
    env.globals["attr"] = xml_attribute
    env.globals["raise"] = _template_error
    return env
