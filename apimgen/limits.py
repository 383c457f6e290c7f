"""Every bound apimgen puts on what it reads, in one place.

apimgen runs in CI on pull requests, where specs, scenarios and policies may come from anyone.
Each reader stops at one of these limits with a located error instead of growing without end:
a YAML "billion laughs", a policy nested thousands deep, a regular expression that backtracks
for hours. ``docs/limits.md`` lists them for users; a test keeps that table and this module in
step. Where APIM itself documents a limit (policy document size), the same number is used, so a
document the simulator refuses is one the gateway would refuse too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "EXPRESSION_MAX_DEPTH",
    "FILE_MAX_BYTES",
    "LIMITS",
    "POLICY_MAX_BYTES",
    "POLICY_MAX_DEPTH",
    "REGEX_MATCH_TIMEOUT_SECONDS",
    "YAML_MAX_DEPTH",
    "YAML_MAX_NODES",
    "Limit",
]

#: Any file apimgen reads by itself or by reference: YAML, prompts, schemas, saved plans.
FILE_MAX_BYTES: Final = 16 * 1024 * 1024
#: Values in one YAML document after aliases and merge keys are expanded. A spec with a
#: thousand APIs and ten thousand consumers stays well below it.
YAML_MAX_NODES: Final = 250_000
#: Nesting of mappings and sequences in one YAML document (specs nest about eight deep).
YAML_MAX_DEPTH: Final = 64
#: APIM's own limit on a policy document (Basic, Standard, Premium and the v2 tiers:
#: "Maximum policy document size: 256 KiB", API Management service limits on Learn).
POLICY_MAX_BYTES: Final = 256 * 1024
#: Elements nested in one policy document (policies, section, choose, when, ...).
POLICY_MAX_DEPTH: Final = 64
#: Depth of one policy expression's syntax tree: brackets, operands of a chain of operators,
#: else-if arms. A 50-term string concatenation is 50 deep.
EXPRESSION_MAX_DEPTH: Final = 200
#: A .NET regular expression in a policy expression that runs longer than this throws
#: RegexMatchTimeoutException, as a .NET Regex with a match timeout does.
REGEX_MATCH_TIMEOUT_SECONDS: Final = 0.5


@dataclass(frozen=True)
class Limit:
    """One row of the limits table: what is bounded, the bound, and what happens past it."""

    name: str
    value: str
    applies_to: str
    past_it: str


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count >= 1024 * 1024 else f"{count // 1024} KiB"


LIMITS: Final = (
    Limit(
        "file size",
        _size(FILE_MAX_BYTES),
        "specs, scenarios, lint configs, prompts files, JSON Schemas, saved plans",
        "located error naming the file",
    ),
    Limit(
        "YAML values after expanding aliases",
        f"{YAML_MAX_NODES:,}",
        "every YAML file",
        "located error at the alias (or value) that crossed it",
    ),
    Limit(
        "YAML nesting",
        str(YAML_MAX_DEPTH),
        "every YAML file",
        "located error at the first value past it",
    ),
    Limit(
        "policy document size",
        _size(POLICY_MAX_BYTES),
        "policy XML files and fragments (APIM's own limit)",
        "located error naming the file",
    ),
    Limit(
        "policy element nesting",
        str(POLICY_MAX_DEPTH),
        "policy XML files and fragments",
        "located error at the first element past it",
    ),
    Limit(
        "expression nesting",
        str(EXPRESSION_MAX_DEPTH),
        "`@(...)` and `@{...}` policy expressions (brackets, operator chains, else-if arms)",
        "located error at the part past it",
    ),
    Limit(
        "regular expression match time",
        f"{REGEX_MATCH_TIMEOUT_SECONDS:g} s",
        "`Regex` calls in policy expressions",
        "RegexMatchTimeoutException, handled by `on-error` as on the gateway",
    ),
    Limit(
        "simulation wall-clock time",
        "none, or `--timeout SECONDS`",
        "`apimgen simulate`",
        "the run stops; the partial result is marked as such; exit 1",
    ),
)
