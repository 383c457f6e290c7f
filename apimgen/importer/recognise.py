"""The GenAI policies of a live document read back into spec keys, checked by rendering.

A document is read into the keys that would generate it — token limits and quotas with their
counter keys, token metrics and their dimensions, the semantic cache lookup and store, fragment
includes, and at API scope the backend, managed identity and the pool retry — and the keys are
then rendered and compared with the live document by meaning. Only a document the keys
reproduce exactly is replaced by them; any other stays as written, with the first difference
as the reason. So a guess here can make an import less tidy, never wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apimgen.simulate.policy.reader import PolicyElement
from apimgen.spec.policies import BUILTIN_DIMENSIONS, TokenMetrics

__all__ = ["Recognised", "recognise"]

_FAMILIES = ("llm", "azure-openai")
_SECTIONS = {
    "inbound": "inbound",
    "backend": "backend",
    "outbound": "outbound",
    "on-error": "on_error",
}
_HEADER_KEY = re.compile(
    r'^@\(context\.Request\.Headers\.GetValueOrDefault\("((?:[^"\\]|\\.)*)", '
    r'"((?:[^"\\]|\\.)*)"\)\)$'
)
_JWT_KEY = re.compile(
    r'^@\(context\.Request\.Headers\.GetValueOrDefault\("Authorization", ""\)'
    r"\.Split\(' '\)\.Last\(\)\.AsJwt\(\)\?\.Claims"
    r'\.GetValueOrDefault\("((?:[^"\\]|\\.)*)", "((?:[^"\\]|\\.)*)"\) \?\? "(?:[^"\\]|\\.)*"\)$'
)
_DEFAULTED = re.compile(
    r'^@\(context\.(Subscription|Product|User)\?\.Id \?\? "((?:[^"\\]|\\.)*)"\)$'
)
_RETRY_STATUS = re.compile(r"context\.Response\.StatusCode == (\d{3})")
_DIMENSION_BUILTINS = {label: name for name, label in BUILTIN_DIMENSIONS.items()}
_PLAIN_KEYS = {"@(context.Request.IpAddress)": "ip", "@(context.Api.Id)": "api"}


class _Unrecognised(Exception):  # noqa: N818 - a reason to keep the document as written
    pass


@dataclass
class Recognised:
    """The keys for one scope; ``api`` holds the API-only ones (backend, retry, family)."""

    keys: dict[str, Any] = field(default_factory=dict)
    api: dict[str, Any] = field(default_factory=dict)
    family: str | None = None


def _unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\\\", "\\")


def counter_key(expression: str) -> Any:
    """The spec's counter key for an expression apimgen writes, else the expression itself
    (the render check decides whether the guess holds)."""
    text = expression.strip()
    if text in _PLAIN_KEYS:
        return _PLAIN_KEYS[text]
    if match := _DEFAULTED.match(text):
        builtin, default = match.group(1).lower(), _unescape(match.group(2))
        return builtin if default == "anonymous" else {"builtin": builtin, "default": default}
    if match := _JWT_KEY.match(text):
        return _with_default({"jwt_claim": _unescape(match.group(1))}, _unescape(match.group(2)))
    if match := _HEADER_KEY.match(text):
        return _with_default({"header": _unescape(match.group(1))}, _unescape(match.group(2)))
    return {"expression": text}


def _with_default(key: dict[str, Any], default: str) -> dict[str, Any]:
    return key if default == "anonymous" else {**key, "default": default}


def _family(name: str, suffix: str) -> str | None:
    for family in _FAMILIES:
        if name == f"{family}-{suffix}":
            return family
    return None


class _Reader:
    def __init__(self) -> None:
        self.found = Recognised()

    def family(self, family: str) -> None:
        if self.found.family not in (None, family):
            raise _Unrecognised("it mixes the llm-* and azure-openai-* policies")
        self.found.family = family

    def token_limit(self, element: PolicyElement) -> dict[str, Any]:
        a = element.attributes
        limit: dict[str, Any] = {"key": counter_key(a.get("counter-key", ""))}
        if "tokens-per-minute" in a:
            limit["tokens_per_minute"] = int(a["tokens-per-minute"])
        if "token-quota" in a:
            limit["quota"] = {
                "tokens": int(a["token-quota"]),
                "period": a.get("token-quota-period", "").lower(),
            }
        if a.get("estimate-prompt-tokens", "false").lower() == "true":
            limit["estimate_prompt_tokens"] = True
        for attribute, key in (
            ("retry-after-header-name", "retry_after_header"),
            ("retry-after-variable-name", "retry_after_variable"),
            ("remaining-tokens-header-name", "remaining_tokens_header"),
            ("remaining-tokens-variable-name", "remaining_tokens_variable"),
            ("remaining-quota-tokens-header-name", "remaining_quota_tokens_header"),
            ("remaining-quota-tokens-variable-name", "remaining_quota_tokens_variable"),
            ("tokens-consumed-header-name", "tokens_consumed_header"),
            ("tokens-consumed-variable-name", "tokens_consumed_variable"),
        ):
            if attribute in a:
                limit[key] = a[attribute]
        return limit

    def metrics(self, element: PolicyElement) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        namespace = element.attributes.get("namespace")
        if namespace is not None and namespace != TokenMetrics.model_fields["namespace"].default:
            metrics["namespace"] = namespace
        dimensions: list[Any] = []
        for child in element.children:
            name, value = child.attributes.get("name", ""), child.attributes.get("value")
            if value is None and name in _DIMENSION_BUILTINS:
                dimensions.append(_DIMENSION_BUILTINS[name])
            elif name == "Client IP" and value == "@(context.Request.IpAddress)":
                dimensions.append("client_ip")
            elif value is not None and (match := _HEADER_KEY.match(value)):
                dimensions.append(
                    _with_default(
                        {"name": name, "header": _unescape(match.group(1))},
                        _unescape(match.group(2)),
                    )
                )
            elif value is not None:
                dimensions.append({"name": name, "value": value})
            else:
                raise _Unrecognised(f"the dimension '{name}' has no value")
        metrics["dimensions"] = dimensions
        return metrics

    def cache(self, element: PolicyElement) -> dict[str, Any]:
        a = element.attributes
        cache: dict[str, Any] = {
            "score_threshold": float(a.get("score-threshold", "0")),
            "embeddings_backend": a.get("embeddings-backend-id", ""),
        }
        vary = [
            counter_key(child.text or "") for child in element.children if child.name == "vary-by"
        ]
        if vary:
            cache["vary_by"] = vary
        if a.get("ignore-system-messages", "true").lower() == "false":
            cache["ignore_system_messages"] = False
        if "max-message-count" in a:
            cache["max_message_count"] = int(a["max-message-count"])
        return cache

    def read(self, root: PolicyElement, kind: str) -> Recognised:
        keys = self.found.keys
        includes: dict[str, list[str]] = {}
        limits: list[dict[str, Any]] = []
        for section in root.children:
            key = _SECTIONS.get(section.name)
            if key is None:
                raise _Unrecognised(f"<{section.name}> is not a policy section")
            for statement in section.children:
                name = statement.name
                if name == "base":
                    continue
                if name == "include-fragment":
                    includes.setdefault(key, []).append(statement.attributes["fragment-id"])
                elif family := _family(name, "token-limit"):
                    self.family(family)
                    limits.append(self.token_limit(statement))
                elif family := _family(name, "emit-token-metric"):
                    self.family(family)
                    keys["token_metrics"] = self.metrics(statement)
                elif family := _family(name, "semantic-cache-lookup"):
                    self.family(family)
                    keys["semantic_cache"] = self.cache(statement)
                elif family := _family(name, "semantic-cache-store"):
                    self.family(family)
                    duration = statement.attributes.get("duration", "")
                    keys.setdefault("semantic_cache", {})["duration"] = int(duration)
                elif kind == "api" and name == "set-backend-service":
                    self.found.api["backend"] = statement.attributes.get("backend-id", "")
                elif kind == "api" and name == "authentication-managed-identity":
                    continue  # follows from the backend's auth; the render check confirms it
                elif kind == "api" and name == "retry":
                    self.found.api["retry"] = self.retry(statement)
                elif kind == "global" and name == "forward-request" and not statement.attributes:
                    continue
                else:
                    raise _Unrecognised(f"<{name}> has no spec key")
        if limits:
            keys["token_limits"] = limits
        if includes:
            keys["include_fragments"] = includes
        return self.found

    def retry(self, element: PolicyElement) -> dict[str, Any]:
        a = element.attributes
        statuses = sorted({int(code) for code in _RETRY_STATUS.findall(a.get("condition", ""))})
        return {
            "count": int(a.get("count", "1")),
            "on_status": statuses,
            "interval": int(a.get("interval", "0")),
        }


def recognise(root: PolicyElement, kind: str) -> Recognised:
    """The keys that should generate ``root`` at a ``kind`` scope (global, product, api,
    operation); raises ValueError naming what has no key."""
    try:
        return _Reader().read(root, kind)
    except _Unrecognised as reason:
        raise ValueError(str(reason)) from None
    except (KeyError, ValueError) as error:
        raise ValueError(f"an attribute the spec cannot carry: {error}") from None
