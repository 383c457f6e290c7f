"""Caller checks: ``validate-jwt``, ``validate-azure-ad-token``, ``ip-filter`` and
``llm-content-safety``.

Tokens come from the scenario (consumers' ``jwt_claims``) and carry no real signature: the
simulator checks what a policy can get wrong — header, scheme, expiry, audiences, issuers,
tenant, client applications, required claims — and treats the signature as valid. Content
Safety is not called; each consumer's ``flagged_share`` decides which prompts it blocks.
"""

from __future__ import annotations

import ipaddress

from apimgen.simulate.expr.jwt import Jwt, parse_jwt
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Value,
    compile_value,
)
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import PolicyError, RequestState, error_body

__all__ = ["ContentSafety", "IpFilter", "ValidateAzureAdToken", "ValidateJwt"]


def _values(element: PolicyElement | None, child: str) -> list[Value]:
    if element is None:
        return []
    return [compile_value(c.text or "", c) for c in element.children if c.name == child]


class _ClaimRule:
    def __init__(self, element: PolicyElement) -> None:
        self.name = element.attributes.get("name", "")
        self.match = element.attributes.get("match", "all")
        self.separator = element.attributes.get("separator")
        self.values = _values(element, "value")

    def holds(self, token: Jwt, state: RequestState) -> bool:
        if not token.Claims.ContainsKey(self.name):
            return False
        actual = token.Claims[self.name]
        if self.separator:
            actual = [part for value in actual for part in value.split(self.separator)]
        wanted = [v.text(state) for v in self.values]
        if not wanted:
            return True
        if self.match == "any":
            return any(w in actual for w in wanted)
        return all(w in actual for w in wanted)


class _TokenCheck(PolicyHandler):
    sections = ("inbound",)

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.audiences = _values(element.child("audiences"), "audience")
        required = element.child("required-claims")
        self.claims = [_ClaimRule(c) for c in required.children] if required else []

    def token_text(self, state: RequestState) -> str | None:
        if self.has("token-value"):
            return self.values["token-value"].text(state)
        if self.has("query-parameter-name"):
            name = self.values["query-parameter-name"].text(state)
            found = state.context.Request.Url.Query.GetValueOrDefault(name)
            return str(found) if found is not None else None
        header = (
            self.values["header-name"].text(state) if self.has("header-name") else "Authorization"
        )
        raw = state.context.Request.Headers.GetValueOrDefault(header)
        if raw is None:
            return None
        value = str(raw)
        scheme = self.literal("require-scheme") or ("Bearer" if header == "Authorization" else None)
        if scheme:
            prefix = f"{scheme} "
            if not value.startswith(prefix):
                return None
            return value[len(prefix) :]
        return value

    def fail(self, state: RequestState, reason: str) -> None:
        status = int(self.literal("failed-validation-httpcode") or 401)
        message = self.literal("failed-validation-error-message") or reason
        response = state.respond(
            status,
            "Unauthorized" if status == 401 else "",
            {"Content-Type": "application/json"},
            error_body(status, message),
        )
        raise PolicyError("TokenValidationFailed", reason, self.element, response=response)

    def common_checks(self, state: RequestState) -> Jwt:
        text = self.token_text(state)
        token = parse_jwt(text) if text else None
        if token is None:
            self.fail(state, "JWT not present or malformed")
        assert token is not None
        expiry = token.ExpirationTime
        skew = float(self.literal("clock-skew") or 0)
        if expiry is None and (self.literal("require-expiration-time") or "true") == "true":
            self.fail(state, "JWT has no expiration time")
        if expiry is not None and expiry.timestamp() + skew < state.services.utc_now().timestamp():
            self.fail(state, "JWT has expired")
        wanted = [a.text(state) for a in self.audiences]
        if wanted and not set(wanted) & set(token.Audiences):
            self.fail(state, "JWT audience is not allowed")
        for rule in self.claims:
            if not rule.holds(token, state):
                self.fail(state, f"JWT claim '{rule.name}' does not match")
        variable = self.literal("output-token-variable-name")
        if variable:
            state.context.Variables.values[variable] = token
        return token


class ValidateJwt(_TokenCheck):
    element_names = ("validate-jwt",)
    child_elements = (
        "openid-config",
        "issuer-signing-keys",
        "decryption-keys",
        "audiences",
        "issuers",
        "required-claims",
    )
    attributes = (
        Attribute("header-name"),
        Attribute("query-parameter-name"),
        Attribute("token-value"),
        Attribute("failed-validation-httpcode", expressions=False, kind="whole"),
        Attribute("failed-validation-error-message", expressions=False),
        Attribute("require-expiration-time", expressions=False, choices=("true", "false")),
        Attribute("require-scheme", expressions=False),
        Attribute("require-signed-tokens", expressions=False, choices=("true", "false")),
        Attribute("clock-skew", expressions=False, kind="number"),
        Attribute("output-token-variable-name", expressions=False),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.issuers = _values(element.child("issuers"), "issuer")

    def run(self, state: RequestState) -> None:
        token = self.common_checks(state)
        wanted = [i.text(state) for i in self.issuers]
        if wanted and token.Issuer not in wanted:
            self.fail(state, "JWT issuer is not allowed")


class ValidateAzureAdToken(_TokenCheck):
    element_names = ("validate-azure-ad-token",)
    child_elements = (
        "client-application-ids",
        "backend-application-ids",
        "audiences",
        "required-claims",
        "decryption-keys",
    )
    attributes = (
        Attribute("tenant-id", required=True),
        Attribute("header-name"),
        Attribute("query-parameter-name"),
        Attribute("token-value"),
        Attribute("failed-validation-httpcode", expressions=False, kind="whole"),
        Attribute("failed-validation-error-message", expressions=False),
        Attribute("output-token-variable-name", expressions=False),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.clients = _values(element.child("client-application-ids"), "application-id")

    def run(self, state: RequestState) -> None:
        token = self.common_checks(state)
        tenant = self.values["tenant-id"].text(state)
        if token.Claims.GetValueOrDefault("tid", "") != tenant:
            self.fail(state, "token is from another tenant")
        wanted = [c.text(state) for c in self.clients]
        app = token.Claims.GetValueOrDefault("appid") or token.Claims.GetValueOrDefault("azp")
        if wanted and app not in wanted:
            self.fail(state, "client application is not allowed")


class ContentSafety(PolicyHandler):
    element_names = ("llm-content-safety",)
    child_elements = ("categories", "blocklists")
    sections = ("inbound",)
    attributes = (
        Attribute("backend-id", required=True),
        Attribute("shield-prompt"),
        Attribute("enforce-on-completions", expressions=False),
        Attribute("window-size", expressions=False, kind="whole"),
        Attribute("window-overlap-size", expressions=False, kind="whole"),
    )

    def run(self, state: RequestState) -> None:
        if state.llm.flagged:
            message = "Request failed content safety check."
            response = state.respond(
                403,
                "Forbidden",
                {"Content-Type": "application/json"},
                error_body(403, message),
            )
            raise PolicyError("ContentSafetyViolation", message, self.element, response=response)

    def explain(self, state: RequestState) -> str:
        return "passed: the scenario does not flag this prompt (flagged_share)"


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> _Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class IpFilter(PolicyHandler):
    """``ip-filter`` (Learn: ip-filter-policy): ``allow`` lets only the listed addresses and
    ranges in, ``forbid`` keeps them out; a refused caller gets 403 and on-error runs. The
    caller's address is the consumer's ``ip`` in the scenario."""

    element_names = ("ip-filter",)
    child_elements = ("address", "address-range")
    sections = ("inbound",)
    attributes = (Attribute("action", required=True, choices=("allow", "forbid")),)

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.addresses = _values(element, "address")
        self.ranges: list[tuple[int, int, int]] = []  # IP version, first and last address
        for child in element.children:
            if child.name != "address-range":
                continue
            low, high = (_address(child.attributes.get(end, "")) for end in ("from", "to"))
            if low is None or high is None or low.version != high.version or int(low) > int(high):
                raise PolicyConfigError(
                    "<address-range> needs from and to addresses of one kind, from not above to",
                    location=child.location,
                )
            self.ranges.append((low.version, int(low), int(high)))
        if not self.addresses and not self.ranges:
            raise PolicyConfigError(
                "<ip-filter> needs at least one <address> or <address-range>",
                location=element.location,
            )

    def _listed(self, caller: _Address, state: RequestState) -> bool:
        number = int(caller)
        if any(v == caller.version and low <= number <= high for v, low, high in self.ranges):
            return True
        return any(_address(value.text(state)) == caller for value in self.addresses)

    def run(self, state: RequestState) -> None:
        action = self.values["action"].text(state)
        if action not in ("allow", "forbid"):
            raise PolicyError(
                "ExpressionValueEvaluationFailure",
                f"<ip-filter> action gave '{action}', not allow or forbid",
                self.element,
            )
        raw = state.context.Request.IpAddress
        caller = _address(raw)
        if caller is None:
            raise PolicyError(
                "FailedToParseCallerIP", f"Failed to parse caller IP address '{raw}'", self.element
            )
        listed = self._listed(caller, state)
        if listed == (action == "allow"):
            return
        message = f"Caller IP address {raw} is not allowed. Access denied."
        response = state.respond(
            403, "Forbidden", {"Content-Type": "application/json"}, error_body(403, message)
        )
        reason = "CallerIpNotAllowed" if action == "allow" else "CallerIpBlocked"
        raise PolicyError(reason, message, self.element, response=response)
