"""Template placeholders in hand-written policy files, filled from a folder scenario.

Many published policies are templates that Bicep (``replace(loadTextContent(...), '{tpm}',
...)``) or Terraform (``templatefile``, ``${backend_pool_id}``) fill in before upload. They fill
the raw text, so the simulator does too, before the XML is read: ``{name}`` and ``${name}`` for
each name the scenario gives (``{{name}}``, a named value, is left alone).

A placeholder left unfilled would be refused by the gateway on upload or fail every call
(``backend-id="{backend-id}"``), so it is a located error naming it: any ``${name}``, and any
attribute or element whose whole value is ``{name}`` (a rewrite-uri template, whose ``{name}``
is the operation's parameter, excepted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from apimgen.errors import Location
from apimgen.simulate.policy.reader import PolicyReadError

__all__ = ["fill_placeholders"]

_NAME = r"[A-Za-z_][\w.-]*"
_DOLLAR = re.compile(r"\$\{(" + _NAME + r")\}")
# An attribute (not rewrite-uri's template) or an element text that is a placeholder alone.
_WHOLE_ATTRIBUTE = re.compile(r"(?<![\w-])(?!template=)([\w:-]+)=\"\s*\{(" + _NAME + r")\}\s*\"")
_WHOLE_TEXT = re.compile(r">\s*\{(" + _NAME + r")\}\s*<")


def fill_placeholders(text: str, values: Mapping[str, str], file: str) -> str:
    """``text`` with the scenario's placeholders filled; an unfilled one is a located error."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
        bare = re.compile(r"(?<!\{)\{" + re.escape(name) + r"\}(?!\})")
        text = bare.sub(value.replace("\\", "\\\\"), text)  # the value as it is written
    for pattern, group in ((_DOLLAR, 1), (_WHOLE_ATTRIBUTE, 2), (_WHOLE_TEXT, 1)):
        found = pattern.search(text)
        if found is not None:
            start = found.start(group) - 1  # the opening brace
            if pattern is _DOLLAR:
                start -= 1
            line = text.count("\n", 0, start) + 1
            column = start - text.rfind("\n", 0, start)
            shown = text[start : found.end(group) + 1]
            raise PolicyReadError(
                f"placeholder '{shown}' is not filled",
                hint=(
                    f"this file is a template: give it a value in the scenario's "
                    f"policies.placeholders, e.g. {{{found.group(group)}: ...}}"
                ),
                location=Location(file, line, column),
            )
    return text
