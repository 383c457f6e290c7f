"""``AsJwt()`` and ``AsBasic()``: decode credentials the way APIM's string helpers do.

Tokens are decoded without verifying signatures (that is validate-jwt's job); a string that is
not a JWT gives null, as ``AsJwt()`` does.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from apimgen.simulate.expr.dictionaries import MultiValueDictionary
from apimgen.simulate.expr.typesystem import CSharpObject

__all__ = ["BasicCredentials", "Jwt", "parse_basic", "parse_jwt"]


class Jwt(CSharpObject):
    csharp_name = "Jwt"

    def __init__(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        self.Algorithm = header.get("alg")
        self.Type = header.get("typ")
        self.Claims = MultiValueDictionary(claims)
        self.Subject = claims.get("sub")
        self.Issuer = claims.get("iss")
        self.Id = claims.get("jti")
        audience = claims.get("aud", [])
        self.Audiences = audience if isinstance(audience, list) else [audience]
        self.ExpirationTime = _time(claims.get("exp"))
        self.NotBefore = _time(claims.get("nbf"))
        self.IssuedAt = _time(claims.get("iat"))


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def _segment(text: str) -> dict[str, Any]:
    padded = text + "=" * (-len(text) % 4)
    decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    return decoded


def parse_jwt(text: str) -> Jwt | None:
    token = text.split(" ", 1)[1] if text.lower().startswith("bearer ") else text
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        return Jwt(_segment(parts[0]), _segment(parts[1]))
    except (ValueError, binascii.Error, UnicodeError):
        return None


class BasicCredentials(CSharpObject):
    csharp_name = "BasicAuthCredentials"

    def __init__(self, user: str, password: str) -> None:
        self.UserId = user
        self.Password = password


def parse_basic(text: str) -> BasicCredentials | None:
    value = text.split(" ", 1)[1] if text.lower().startswith("basic ") else text
    try:
        user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return BasicCredentials(user, password)
