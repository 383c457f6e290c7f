"""Lint findings as text lines, one JSON document, or SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import re
from typing import Any

from apimgen import __version__
from apimgen.errors import Severity
from apimgen.lint.rules import RULES, Finding
from apimgen.lint.runner import LintReport

__all__ = ["finding_location", "to_json", "to_sarif", "to_text"]

_LOCATION = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<column>\d+)$")


def finding_location(finding: Finding) -> tuple[str, int, int]:
    if finding.element is not None:
        return finding.file, finding.element.line, finding.element.column
    match = _LOCATION.match(finding.file)
    if match:
        return match.group("file"), int(match.group("line")), int(match.group("column"))
    return finding.file, 0, 0


def to_text(finding: Finding) -> str:
    file, line, column = finding_location(finding)
    where = f"{file}:{line}:{column}" if line else file
    level = "error" if finding.severity is Severity.ERROR else "warning"
    text = f"{where}: {level} {finding.rule}: {finding.message}"
    if finding.hint:
        text += f"\n    hint: {finding.hint}"
    return text


def to_json(report: LintReport) -> dict[str, Any]:
    findings = []
    for finding in report.findings:
        file, line, column = finding_location(finding)
        findings.append(
            {
                "rule": finding.rule,
                "severity": finding.severity.name.lower(),
                "file": file,
                "line": line,
                "column": column,
                "message": finding.message,
                "hint": finding.hint or None,
            }
        )
    return {
        "schema": "apimgen.lint/v1",
        "ok": report.errors == 0,
        "files": report.files,
        "errors": report.errors,
        "findings": findings,
    }


def rules_json() -> list[dict[str, str]]:
    """The rule catalogue, sorted by id, for ``apimgen lint --rules``."""
    return [
        {
            "id": rule.id,
            "name": rule.name,
            "severity": rule.severity.name.lower(),
            "rationale": rule.rationale,
        }
        for rule in sorted(RULES, key=lambda rule: rule.id)
    ]


def to_sarif(report: LintReport) -> dict[str, Any]:
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.name.replace("-", " ")},
            "fullDescription": {"text": rule.rationale},
            "defaultConfiguration": {
                "level": "error" if rule.severity is Severity.ERROR else "warning"
            },
        }
        for rule in RULES
    ]
    index = {rule.id: i for i, rule in enumerate(RULES)}
    results = []
    for finding in report.findings:
        file, line, column = finding_location(finding)
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": "error" if finding.severity is Severity.ERROR else "warning",
            "message": {"text": finding.message + (f" ({finding.hint})" if finding.hint else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": file.split(":policies/")[0]},
                        "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
                    }
                }
            ],
        }
        if finding.rule in index:
            result["ruleIndex"] = index[finding.rule]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "apimgen",
                        "version": __version__,
                        "informationUri": "https://github.com/apimgen/apimgen",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
