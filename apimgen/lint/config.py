"""Per-rule configuration: disable rules or change their severity, from a YAML file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from apimgen.errors import Diagnostic, Severity, SpecError
from apimgen.lint.rules import RULES
from apimgen.spec.document import LintSettings
from apimgen.spec.paths import format_path
from apimgen.spec.validation_errors import diagnostics_from_validation
from apimgen.spec.yaml_source import KeyPath, YamlSource, load_yaml

__all__ = ["LintConfig", "config_from_settings", "load_lint_config"]


@dataclass(frozen=True)
class LintConfig:
    """Which rules run, and at which severity (the spec's or a lint file's settings)."""

    disabled: frozenset[str] = frozenset()
    severities: Mapping[str, Severity] = field(default_factory=dict)


def load_lint_config(path: Path | None) -> LintConfig:
    if path is None:
        return LintConfig()
    source = load_yaml(path)
    try:
        settings = LintSettings.model_validate(source.data or {})
    except ValidationError as exc:
        raise SpecError(diagnostics_from_validation(exc, source, LintSettings)) from None
    return config_from_settings(settings, source)


def config_from_settings(
    settings: LintSettings, source: YamlSource, prefix: KeyPath = ()
) -> LintConfig:
    """Check rule ids and build the config; problems are located in ``source``."""
    known = {rule.id for rule in RULES}
    problems = []
    for index, rule in enumerate(settings.disable):
        if rule not in known:
            problems.append(
                Diagnostic(
                    source.locate(("disable", index)), f"disable[{index}]", f"unknown rule '{rule}'"
                )
            )
    severities: dict[str, Severity] = {}
    for rule, level in settings.severity.items():
        if rule not in known:
            problems.append(
                Diagnostic(
                    source.locate((*prefix, "severity", rule)),
                    format_path((*prefix, "severity", rule)),
                    f"unknown rule '{rule}'",
                )
            )
        else:
            severities[rule] = Severity.ERROR if level == "error" else Severity.WARNING
    if problems:
        raise SpecError(problems)
    return LintConfig(frozenset(settings.disable), severities)
