"""Value types shared by the spec models: ids, durations, expressions, status ranges.

Each type validates with a message written for the person editing the YAML, and advertises the
same rule in the JSON Schema so editors can flag it before apimgen runs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

__all__ = [
    "AZURE_REGION_RE",
    "ApimId",
    "AzureRegion",
    "Duration",
    "Expression",
    "HeaderName",
    "LiteralText",
    "ServiceName",
    "SpecModel",
    "StatusRange",
    "VariableName",
    "parse_duration",
]


class SpecModel(BaseModel):
    """Base for everything users write: immutable, and unknown keys are errors."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=False,
        use_attribute_docstrings=False,
        str_strip_whitespace=False,
    )


# 1-80 chars, letters/digits with inner '-' or '_': safe for every APIM child entity,
# policy fragments included (iac-mapping §3).
_APIM_ID_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,78}[A-Za-z0-9])?$")
_SERVICE_NAME_RE = re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9-]{0,48}[a-zA-Z0-9])?$")
AZURE_REGION_RE = re.compile(r"^[a-z][a-z0-9]{2,40}$")
# RFC 9110 token characters; no quotes or spaces, so a header name can sit inside a C# string.
_HEADER_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


def _check_apim_id(value: str) -> str:
    if not _APIM_ID_RE.match(value):
        raise ValueError(
            f"'{value}' is not a valid API Management id: use 1-80 letters, digits, '-' or '_',"
            " starting and ending with a letter or digit"
        )
    return value


def _check_service_name(value: str) -> str:
    if not _SERVICE_NAME_RE.match(value):
        raise ValueError(
            f"'{value}' is not a valid API Management service name: 1-50 letters, digits or '-',"
            " starting with a letter and not ending with '-'"
        )
    return value


def _check_region(value: str) -> str:
    if not AZURE_REGION_RE.match(value):
        compact = re.sub(r"[^a-z0-9]", "", value.lower())
        raise ValueError(
            f"'{value}' is not an Azure region name; use the short form, "
            f"e.g. '{compact or 'swedencentral'}'"
        )
    return value


def _check_header(value: str) -> str:
    if not _HEADER_RE.match(value):
        raise ValueError(f"'{value}' is not a valid HTTP header name")
    return value


def _check_variable(value: str) -> str:
    if not _VARIABLE_RE.match(value):
        raise ValueError(
            f"'{value}' is not a valid variable name: start with a letter or '_', then letters,"
            " digits, '_', '-' or '.'"
        )
    return value


def _check_expression(value: str) -> str:
    text = value.strip()
    single = text.startswith("@(") and text.endswith(")")
    block = text.startswith("@{") and text.endswith("}")
    if not (single or block):
        raise ValueError("a policy expression must be written as @(...) or @{ ... return ...; }")
    return text


def _check_literal(value: str) -> str:
    """Plain text that lands in a policy where APIM would treat `@` or `{{` specially."""
    if value.startswith("@"):
        raise ValueError("expressions are not allowed here; write a plain value")
    if "{{" in value or "}}" in value:
        raise ValueError("named-value references ({{...}}) are not allowed here")
    if any(ord(ch) < 0x20 for ch in value):
        raise ValueError("control characters (newlines, tabs) are not allowed here")
    return value


ApimId = Annotated[
    str,
    AfterValidator(_check_apim_id),
    WithJsonSchema({"type": "string", "pattern": _APIM_ID_RE.pattern}),
]
ServiceName = Annotated[
    str,
    AfterValidator(_check_service_name),
    WithJsonSchema({"type": "string", "pattern": _SERVICE_NAME_RE.pattern}),
]
AzureRegion = Annotated[
    str,
    AfterValidator(_check_region),
    WithJsonSchema({"type": "string", "pattern": AZURE_REGION_RE.pattern}),
]
HeaderName = Annotated[
    str,
    AfterValidator(_check_header),
    WithJsonSchema({"type": "string", "pattern": _HEADER_RE.pattern}),
]
VariableName = Annotated[
    str,
    AfterValidator(_check_variable),
    WithJsonSchema({"type": "string", "pattern": _VARIABLE_RE.pattern}),
]
Expression = Annotated[
    str,
    AfterValidator(_check_expression),
    WithJsonSchema({"type": "string", "pattern": r"^\s*@[({][\s\S]*[)}]\s*$"}),
]
LiteralText = Annotated[
    str,
    AfterValidator(_check_literal),
    WithJsonSchema({"type": "string", "not": {"pattern": r"^@|\{\{|\}\}"}}),
]

_DURATION_RE = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_ISO_DURATION_RE = re.compile(
    r"^PT(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?$", re.IGNORECASE
)


def parse_duration(value: Any) -> int:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h30m"`` or ISO-8601 ``"PT5M"``."""
    if isinstance(value, bool):
        raise ValueError("a duration must be seconds or a string such as '30s', '5m', '1h'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        match = _DURATION_RE.match(text) or _ISO_DURATION_RE.match(text)
        if text and text.upper() != "PT" and match:
            hours, minutes, seconds = (int(match.group(g) or 0) for g in ("h", "m", "s"))
            return hours * 3600 + minutes * 60 + seconds
    raise ValueError(f"'{value}' is not a duration: use seconds (60) or '30s', '5m', '1h', 'PT1M'")


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^(\d+h)?(\d+m)?(\d+s)?$|^PT(\d+H)?(\d+M)?(\d+S)?$"},
            ],
            "description": "seconds, or a string such as '30s', '5m', '1h', 'PT1M'",
        }
    ),
]


def _parse_status_range(value: Any) -> tuple[int, int]:
    if isinstance(value, bool):
        raise ValueError("a status code must be a number such as 429 or a range '500-599'")
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{3}\s*(-\s*\d{3}\s*)?", value):
        parts = [int(p) for p in value.split("-")]
        low, high = parts[0], parts[-1]
    else:
        raise ValueError(f"'{value}' is not a status code or range such as 429 or '500-599'")
    if not (200 <= low <= high <= 599):
        raise ValueError(f"'{value}': status codes must lie within 200-599, low before high")
    return low, high


StatusRange = Annotated[
    tuple[int, int],
    BeforeValidator(_parse_status_range),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "integer", "minimum": 200, "maximum": 599},
                {"type": "string", "pattern": r"^\d{3}(-\d{3})?$"},
            ]
        }
    ),
]
