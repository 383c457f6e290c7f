"""The lint rules: each catches one trap that APIM would accept or only refuse at deployment.

Every rule has an id, a default severity and a rationale (shown by ``apimgen lint --rules``),
declared with ``@rule`` next to the check that yields its findings for one policy document.
The checks live by family: ``shape`` (what APIM refuses to save), ``expressions``, ``genai``,
``retries`` and ``security``; importing them here registers their rules.
"""

from __future__ import annotations

from apimgen.lint.rules import expressions, genai, retries, security, shape
from apimgen.lint.rules.base import Finding, Knowledge, LintDocument, Rule, registered
from apimgen.lint.rules.expressions import gateway_variables

__all__ = ["RULES", "Finding", "Knowledge", "LintDocument", "Rule", "gateway_variables"]

# The families register their rules when imported (above); named so the import is kept.
FAMILIES = (expressions, genai, retries, security, shape)
RULES: tuple[Rule, ...] = registered()
