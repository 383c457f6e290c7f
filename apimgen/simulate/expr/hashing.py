"""``System.Security.Cryptography`` hashes and HMACs, and ``BitConverter.ToString``: policies
hash prompts into cache keys and sign calls to other services with them. Byte arrays are lists
of ints here, as ``Encoding.UTF8.GetBytes`` gives them."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from apimgen.simulate.expr.typesystem import CSharpObject, StaticType
from apimgen.simulate.expr.values import CSharpError

__all__ = ["hashing_types"]

# .NET's algorithm types, by the hashlib name of their digest.
_HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512"}


def _bytes(value: Any, what: str) -> bytes:
    if value is None:
        raise CSharpError("ArgumentNullException", f"Value cannot be null. (Parameter '{what}')")
    if isinstance(value, list | tuple) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value)
    raise CSharpError("ArgumentException", f"{what} must be a byte[]")


class HashAlgorithm(CSharpObject):
    """A ``HashAlgorithm`` (``SHA256.Create()``) or a ``KeyedHashAlgorithm`` (``new
    HMACSHA256(key)``): ``ComputeHash`` gives the digest; ``Hash`` the last one."""

    csharp_name = "HashAlgorithm"

    def __init__(self, algorithm: str, digest: str, key: bytes | None = None) -> None:
        self.algorithm = algorithm  # the .NET class it was made as: SHA256, HMACSHA256
        self._digest = digest
        self._key = key
        self.Hash: list[int] | None = None

    def ComputeHash(self, data: Any, offset: int = 0, count: int | None = None) -> list[int]:
        message = _bytes(data, "buffer")
        message = message[offset : None if count is None else offset + count]
        if self._key is None:
            digest = hashlib.new(self._digest, message).digest()
        else:
            digest = hmac.new(self._key, message, self._digest).digest()
        self.Hash = list(digest)
        return list(digest)

    @property
    def Key(self) -> list[int]:
        if self._key is None:
            raise CSharpError("InvalidOperationException", f"{self.algorithm} has no key")
        return list(self._key)

    @property
    def HashSize(self) -> int:
        return hashlib.new(self._digest).digest_size * 8

    def ToString(self) -> str:
        return self.algorithm

    def Dispose(self) -> None:
        """Nothing to free: ``using`` blocks and explicit calls are accepted as written."""

    def Clear(self) -> None:
        """``Clear()`` disposes, as in .NET."""


def _hash_type(name: str, digest: str) -> StaticType:
    return StaticType(name, {"Create": lambda *_: HashAlgorithm(name, digest)})


def _managed_type(name: str, digest: str) -> StaticType:
    return StaticType(name, {}, construct=lambda: HashAlgorithm(name, digest))


def _hmac_type(name: str, digest: str) -> StaticType:
    def make(key: Any = None) -> HashAlgorithm:
        if key is None:  # .NET draws a random key; a simulation must stay reproducible
            raise CSharpError("NotSupportedException", f"new {name}() without a key")
        return HashAlgorithm(name, digest, _bytes(key, "key"))

    return StaticType(name, {}, construct=make)


def _bit_converter_string(value: Any, start: int = 0, length: int | None = None) -> str:
    """``BitConverter.ToString(bytes)``: upper-case hex pairs joined by dashes."""
    data = _bytes(value, "value")[start : None if length is None else start + length]
    return "-".join(f"{b:02X}" for b in data)


def hashing_types() -> dict[str, StaticType]:
    """The static types of this module, by the names expressions use."""
    types: dict[str, StaticType] = {}
    for name, digest in _HASHES.items():
        types[name] = _hash_type(name, digest)
        types[f"HMAC{name}"] = _hmac_type(f"HMAC{name}", digest)
        if name != "MD5":  # .NET has no MD5Managed
            types[f"{name}Managed"] = _managed_type(f"{name}Managed", digest)
    types["BitConverter"] = StaticType("BitConverter", {"ToString": _bit_converter_string})
    return types
