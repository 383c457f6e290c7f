"""The .NET type names an expression may use without declaring them, and the same types
written with their namespaces, as policies copied from .NET code write them. The compiler
reads static members through them and ``new`` creates objects through them."""

from __future__ import annotations

__all__ = ["ALLOWED_MEMBERS", "QUALIFIED_NAMES", "STATIC_NAMES"]

# Names an expression may use without declaring them.
STATIC_NAMES = frozenset(
    {
        "string", "String", "int", "Int32", "long", "Int64", "double", "Double", "bool",
        "Boolean", "Math", "DateTime", "TimeSpan", "JObject", "JArray", "JToken", "JsonConvert",
        "Convert", "Guid", "Encoding", "StringComparison", "StringSplitOptions", "Formatting",
        "Regex", "WebUtility", "Uri", "DateTimeOffset", "DateTimeKind", "JTokenType", "Random",
        "RegexOptions", "TimeZoneInfo", "char", "Char", "Enumerable", "StringComparer", "Array",
        "BitConverter", "MD5", "HMACMD5", "Tuple", "IPAddress",
        *(f"{kind}{bits}" for kind in ("SHA", "HMACSHA") for bits in ("1", "256", "384", "512")),
        *(f"SHA{bits}Managed" for bits in ("1", "256", "384", "512")),
    }
)  # fmt: skip

# Those types with their namespaces.
QUALIFIED_NAMES = {
    "System.String": "String", "System.Int32": "Int32", "System.Int64": "Int64",
    "System.Double": "Double", "System.Boolean": "Boolean", "System.Math": "Math",
    "System.DateTime": "DateTime", "System.TimeSpan": "TimeSpan", "System.Convert": "Convert",
    "System.DateTimeOffset": "DateTimeOffset", "System.DateTimeKind": "DateTimeKind",
    "System.Guid": "Guid", "System.Uri": "Uri", "System.StringComparison": "StringComparison",
    "System.StringSplitOptions": "StringSplitOptions", "System.Text.Encoding": "Encoding",
    "System.Net.WebUtility": "WebUtility", "System.Text.RegularExpressions.Regex": "Regex",
    "Newtonsoft.Json.JsonConvert": "JsonConvert", "Newtonsoft.Json.Formatting": "Formatting",
    "Newtonsoft.Json.Linq.JObject": "JObject", "Newtonsoft.Json.Linq.JArray": "JArray",
    "Newtonsoft.Json.Linq.JToken": "JToken", "Newtonsoft.Json.Linq.JTokenType": "JTokenType",
    "System.Random": "Random",
    "System.Text.RegularExpressions.RegexOptions": "RegexOptions",
    "System.TimeZoneInfo": "TimeZoneInfo", "System.Char": "Char",
    "System.Linq.Enumerable": "Enumerable", "System.StringComparer": "StringComparer",
    "System.Array": "Array", "System.BitConverter": "BitConverter", "System.Tuple": "Tuple",
    "System.Net.IPAddress": "IPAddress",
}  # fmt: skip
QUALIFIED_NAMES.update(
    {
        f"System.Security.Cryptography.{name}": name
        for name in STATIC_NAMES
        if "SHA" in name or "MD5" in name
    }
)

# The types whose members Learn lists one by one (".NET Framework types allowed in policy
# expressions"; every other allowed type allows all its members). APIM refuses any other
# member of these when the policy is saved.
ALLOWED_MEMBERS = {
    "DateTime": frozenset(
        {
            "Add", "AddDays", "AddHours", "AddMilliseconds", "AddMinutes", "AddMonths",
            "AddSeconds", "AddTicks", "AddYears", "Date", "Day", "DayOfWeek", "DayOfYear",
            "DaysInMonth", "Hour", "IsDaylightSavingTime", "IsLeapYear", "MaxValue",
            "Millisecond", "Minute", "MinValue", "Month", "Now", "Parse", "Second", "Subtract",
            "Ticks", "TimeOfDay", "Today", "ToString", "UtcNow", "Year",
        }
    ),
    "DateTimeKind": frozenset({"Utc"}),
    "JsonConvert": frozenset({"SerializeObject", "DeserializeObject"}),
    "Regex": frozenset({"IsMatch", "Match", "Matches", "Replace", "Unescape", "Split"}),
}  # fmt: skip
