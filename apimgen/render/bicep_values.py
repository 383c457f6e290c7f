"""ARM body values written as Bicep expressions.

Strings are always single-quoted with Bicep's escapes (``\\'``, ``\\\\``, ``\\${``), so no value
from the spec can end a string early or start an interpolation.
"""

from __future__ import annotations

import re

from apimgen.model.arm import ArmValue, Concat, Param, PolicyFile, Ref, RoleDefinition

__all__ = ["POLICY_ROOT_FROM_MODULES", "bicep_ref", "bicep_string", "bicep_value"]

POLICY_ROOT_FROM_MODULES = "../../policies"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}

_REF_ACCESSORS = {
    "id": ".id",
    "name": ".name",
    "principal_id": ".identity.principalId",
    "instrumentation_key": ".properties.InstrumentationKey",
    "redis_host": ".properties.hostName",
    "redis_primary_key": ".listKeys().primaryKey",
}


def _escape(text: str) -> str:
    escaped = "".join(_ESCAPES.get(ch, ch) for ch in text)
    return escaped.replace("${", "\\${")


def bicep_string(text: str) -> str:
    return f"'{_escape(text)}'"


def bicep_ref(ref: Ref) -> str:
    return f"{ref.symbol}{_REF_ACCESSORS[ref.attribute]}"


def _scalar(value: ArmValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Bicep has no decimal literals; json('12.5') is the documented workaround.
        return str(int(value)) if value.is_integer() else f"json('{value!r}')"
    if isinstance(value, str):
        return bicep_string(value)
    if isinstance(value, Ref):
        return bicep_ref(value)
    if isinstance(value, Param):
        return value.name
    if isinstance(value, PolicyFile):
        return f"loadTextContent('{POLICY_ROOT_FROM_MODULES}/{value.path}')"
    if isinstance(value, RoleDefinition):
        return (
            f"subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{value.role_id}')"
        )
    if isinstance(value, Concat):
        parts = []
        for part in value.parts:
            if isinstance(part, str):
                parts.append(_escape(part))
            elif isinstance(part, Ref):
                parts.append("${" + bicep_ref(part) + "}")
            else:
                parts.append("${" + part.name + "}")
        return "'" + "".join(parts) + "'"
    raise TypeError(f"no Bicep form for {value!r}")


def _key(key: str) -> str:
    return key if _IDENTIFIER.match(key) else bicep_string(key)


def bicep_value(value: ArmValue, indent: int = 0) -> str:
    """``value`` as Bicep; nested objects and arrays on their own lines, two-space indent."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [f"{inner}{_key(k)}: {bicep_value(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        lines = [f"{inner}{bicep_value(v, indent + 1)}" for v in value]
        return "[\n" + "\n".join(lines) + f"\n{pad}]"
    return _scalar(value)
