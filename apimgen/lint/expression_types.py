"""The .NET types APIM lets policy expressions use (Learn: api-management-policy-expressions,
".NET Framework types allowed in policy expressions"), by full name.

The simulator models a subset; lint must not call a type APIM allows an error just because the
simulator lacks it (the simulator says so itself, naming the construct, when it meets one).
"""

from __future__ import annotations

__all__ = ["ALLOWED_TYPES", "is_allowed_name"]

ALLOWED_TYPES = frozenset(
    {
        "Newtonsoft.Json.Formatting", "Newtonsoft.Json.JsonConvert",
        "Newtonsoft.Json.Linq.Extensions", "Newtonsoft.Json.Linq.JArray",
        "Newtonsoft.Json.Linq.JConstructor", "Newtonsoft.Json.Linq.JContainer",
        "Newtonsoft.Json.Linq.JObject", "Newtonsoft.Json.Linq.JProperty",
        "Newtonsoft.Json.Linq.JRaw", "Newtonsoft.Json.Linq.JToken",
        "Newtonsoft.Json.Linq.JTokenType", "Newtonsoft.Json.Linq.JValue",
        "System.Array", "System.BitConverter", "System.Boolean", "System.Byte", "System.Char",
        "System.Collections.Generic.Dictionary", "System.Collections.Generic.HashSet",
        "System.Collections.Generic.ICollection", "System.Collections.Generic.IDictionary",
        "System.Collections.Generic.IEnumerable", "System.Collections.Generic.IEnumerator",
        "System.Collections.Generic.IList", "System.Collections.Generic.IReadOnlyCollection",
        "System.Collections.Generic.IReadOnlyDictionary", "System.Collections.Generic.ISet",
        "System.Collections.Generic.KeyValuePair", "System.Collections.Generic.List",
        "System.Collections.Generic.Queue", "System.Collections.Generic.Stack",
        "System.Convert", "System.DateTime", "System.DateTimeKind", "System.DateTimeOffset",
        "System.Decimal", "System.Double", "System.Exception", "System.Guid", "System.Int16",
        "System.Int32", "System.Int64", "System.IO.StringReader", "System.IO.StringWriter",
        "System.Linq.Enumerable", "System.Math", "System.MidpointRounding",
        "System.Net.IPAddress", "System.Net.WebUtility", "System.Nullable", "System.Random",
        "System.SByte",
        "System.Security.Cryptography.AsymmetricAlgorithm",
        "System.Security.Cryptography.CipherMode", "System.Security.Cryptography.HashAlgorithm",
        "System.Security.Cryptography.HashAlgorithmName", "System.Security.Cryptography.HMAC",
        "System.Security.Cryptography.HMACMD5", "System.Security.Cryptography.HMACSHA1",
        "System.Security.Cryptography.HMACSHA256", "System.Security.Cryptography.HMACSHA384",
        "System.Security.Cryptography.HMACSHA512",
        "System.Security.Cryptography.KeyedHashAlgorithm", "System.Security.Cryptography.MD5",
        "System.Security.Cryptography.Oid", "System.Security.Cryptography.PaddingMode",
        "System.Security.Cryptography.RNGCryptoServiceProvider",
        "System.Security.Cryptography.RSA", "System.Security.Cryptography.RSAEncryptionPadding",
        "System.Security.Cryptography.RSASignaturePadding", "System.Security.Cryptography.SHA1",
        "System.Security.Cryptography.SHA1Managed", "System.Security.Cryptography.SHA256",
        "System.Security.Cryptography.SHA256Managed", "System.Security.Cryptography.SHA384",
        "System.Security.Cryptography.SHA384Managed", "System.Security.Cryptography.SHA512",
        "System.Security.Cryptography.SHA512Managed",
        "System.Security.Cryptography.SymmetricAlgorithm",
        "System.Security.Cryptography.X509Certificates.PublicKey",
        "System.Security.Cryptography.X509Certificates.RSACertificateExtensions",
        "System.Security.Cryptography.X509Certificates.X500DistinguishedName",
        "System.Security.Cryptography.X509Certificates.X509Certificate",
        "System.Security.Cryptography.X509Certificates.X509Certificate2",
        "System.Security.Cryptography.X509Certificates.X509ContentType",
        "System.Security.Cryptography.X509Certificates.X509NameType",
        "System.Single", "System.String", "System.StringComparer", "System.StringComparison",
        "System.StringSplitOptions", "System.Text.Encoding",
        "System.Text.RegularExpressions.Capture",
        "System.Text.RegularExpressions.CaptureCollection",
        "System.Text.RegularExpressions.Group", "System.Text.RegularExpressions.GroupCollection",
        "System.Text.RegularExpressions.Match", "System.Text.RegularExpressions.Regex",
        "System.Text.RegularExpressions.RegexOptions", "System.Text.StringBuilder",
        "System.TimeSpan", "System.TimeZone", "System.TimeZoneInfo",
        "System.TimeZoneInfo.AdjustmentRule", "System.TimeZoneInfo.TransitionTime", "System.Tuple",
        "System.UInt16", "System.UInt32", "System.UInt64", "System.Uri", "System.UriPartial",
        "System.Xml.Linq.Extensions", "System.Xml.Linq.XAttribute", "System.Xml.Linq.XCData",
        "System.Xml.Linq.XComment", "System.Xml.Linq.XContainer", "System.Xml.Linq.XDeclaration",
        "System.Xml.Linq.XDocument", "System.Xml.Linq.XDocumentType", "System.Xml.Linq.XElement",
        "System.Xml.Linq.XName", "System.Xml.Linq.XNamespace", "System.Xml.Linq.XNode",
        "System.Xml.Linq.XNodeDocumentOrderComparer", "System.Xml.Linq.XNodeEqualityComparer",
        "System.Xml.Linq.XObject", "System.Xml.Linq.XProcessingInstruction",
        "System.Xml.Linq.XText", "System.Xml.XmlNodeType",
    }
)  # fmt: skip

_SIMPLE_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in ALLOWED_TYPES)


def is_allowed_name(dotted: str) -> bool:
    """Whether ``dotted`` (``StringBuilder``, ``System.Text.StringBuilder.Append``...) starts
    with a type APIM allows, named on its own or with its namespace."""
    parts = dotted.split(".")
    if parts[0] in _SIMPLE_NAMES:
        return True
    return any(".".join(parts[:count]) in ALLOWED_TYPES for count in range(2, len(parts) + 1))
