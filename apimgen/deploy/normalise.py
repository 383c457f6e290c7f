"""One comparable form per meaning, so that a plan right after an apply is empty.

API Management answers with more than it was sent and spells some of it differently: server-only
fields (revisions, provisioning state, Key Vault refresh status), full ARM ids where a relative
one was sent, enum values in another casing, durations as ``PT60S`` for ``PT1M``, policy XML
reformatted. Only the properties apimgen decides are compared (a kind's ``managed`` list); a
property that is missing compares equal to an empty one; secrets are never compared because
they are never returned.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from apimgen.deploy.kinds import Kind
from apimgen.deploy.policy_xml import canonical_policy
from apimgen.errors import ApimgenError

__all__ = [
    "comparable",
    "differences",
    "digest",
    "duration_seconds",
    "normalised",
    "path_under_service",
]

# Enumerations whose casing API Management does not preserve.
_CASE_FOLDED = frozenset(
    {
        "alwaysLog",
        "httpCorrelationProtocol",
        "loggerType",
        "method",
        "protocol",
        "protocols",
        "samplingType",
        "state",
        "type",
        "useFromLocation",
        "verbosity",
    }
)
_SERVER_ONLY = frozenset({"lastStatus", "provisioningState"})
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_SERVICE_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ApiManagement/service/[^/]+",
    re.IGNORECASE,
)
_ARM_ID = re.compile(r"^/subscriptions/[^/]+/", re.IGNORECASE)


def duration_seconds(text: str) -> float | None:
    """An ISO-8601 duration as ARM writes it (PT1M30S) in seconds; None for anything else."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT"):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _is_empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _normalise(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        cleaned = {k: _normalise(v, k) for k, v in sorted(value.items()) if k not in _SERVER_ONLY}
        return {k: v for k, v in cleaned.items() if not _is_empty(v)}
    if isinstance(value, list):
        return [_normalise(item, key) for item in value]
    if isinstance(value, str):
        sibling = path_under_service(value)
        if sibling is not None:
            # A reference to a sibling: relative, so that the service's own id spelling is moot.
            return "~/" + sibling.lower()
        if _ARM_ID.match(value):
            return value.lower()
        seconds = duration_seconds(value)
        if seconds is not None:
            return {"duration_seconds": seconds}
        return value.casefold() if key in _CASE_FOLDED else value
    return value


def path_under_service(arm_id: str) -> str | None:
    """``products/premium`` for the id of a child of any API Management service, else None."""
    if not _SERVICE_ID.match(arm_id):
        return None
    return _SERVICE_ID.sub("", arm_id).strip("/")


def normalised(value: Any) -> Any:
    """``value`` with ids, durations and empties normalised (no key-specific rules)."""
    return _normalise(value)


def _canonical_xml(text: str, path: str) -> str:
    try:
        return canonical_policy(text, path)
    except ApimgenError as error:
        raise ApimgenError(
            f"{path}: the policy XML cannot be read: {error.message}",
            hint="fix the policy in the portal or delete it; apimgen compares policies by meaning",
        ) from error


def comparable(kind: Kind, properties: dict[str, Any], path: str) -> dict[str, Any]:
    """The managed, normalised properties of one resource (live or desired)."""
    result: dict[str, Any] = {}
    for key in kind.managed:
        value = properties.get(key)
        if kind.policy_text and key == "format":
            continue  # the live side says "xml" for what was sent as "rawxml"; the text decides
        if kind.policy_text and key == "value" and isinstance(value, str):
            value = _canonical_xml(value, path)
        normalised = _normalise(value, key)
        if not _is_empty(normalised):
            result[key] = normalised
    return result


def digest(form: dict[str, Any]) -> str:
    """A short fingerprint of a comparable form (to notice that the live side moved)."""
    text = json.dumps(form, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differences(live: dict[str, Any], desired: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted path, live value, desired value) for every leaf that differs."""
    found: list[tuple[str, Any, Any]] = []

    def walk(old: Any, new: Any, path: str) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                walk(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        elif old != new:
            found.append((path, old, new))

    walk(live, desired, "")
    return found
