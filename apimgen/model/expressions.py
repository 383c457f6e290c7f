"""Policy expressions apimgen writes for the spec's shorthands (``key: user``, ``header: X``).

Every value the user gave that ends up inside an expression goes through :func:`csharp_string`,
so a header name or default value can never close the C# string it sits in.
"""

from __future__ import annotations

from apimgen.spec.policies import BuiltinKey, CounterKey

__all__ = ["counter_key_expression", "csharp_string", "header_expression"]

_BUILTIN_EXPRESSIONS: dict[BuiltinKey, str] = {
    # Subscription, Product and User are null when a call carries no key or the subscription
    # has no owner; `?.` and `??` keep the expression from throwing (apim-genai-policies §9.2).
    BuiltinKey.SUBSCRIPTION: "@(context.Subscription?.Id ?? {default})",
    BuiltinKey.PRODUCT: "@(context.Product?.Id ?? {default})",
    BuiltinKey.USER: "@(context.User?.Id ?? {default})",
    BuiltinKey.IP: "@(context.Request.IpAddress)",
    BuiltinKey.API: "@(context.Api.Id)",
}


def csharp_string(value: str) -> str:
    """A C# regular string literal holding exactly ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def header_expression(header: str, default: str) -> str:
    return (
        f"@(context.Request.Headers.GetValueOrDefault({csharp_string(header)}, "
        f"{csharp_string(default)}))"
    )


def counter_key_expression(key: CounterKey) -> str:
    """The expression for a counter key or cache partition."""
    if key.builtin is not None:
        return _BUILTIN_EXPRESSIONS[key.builtin].format(default=csharp_string(key.default))
    if key.header is not None:
        return header_expression(key.header, key.default)
    if key.jwt_claim is not None:
        default = csharp_string(key.default)
        return (
            '@(context.Request.Headers.GetValueOrDefault("Authorization", "")'
            ".Split(' ').Last().AsJwt()?.Claims"
            f".GetValueOrDefault({csharp_string(key.jwt_claim)}, {default}) ?? {default})"
        )
    assert key.expression is not None  # guaranteed by the model's validator
    return key.expression
