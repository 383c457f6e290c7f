"""Plans and apply reports as styled lines of text (the terminal adds colour, nothing else).

The shape follows terraform's, which platform engineers already read fluently: one line per
resource with ``+``/``~``/``-``, then the properties that change as ``old → new``, policy XML as
a unified diff.
"""

from __future__ import annotations

import json
from typing import Any

from apimgen.deploy.apply import ApplyReport
from apimgen.deploy.desired import SecretRef
from apimgen.deploy.plan import Change, Plan

__all__ = ["Line", "apply_lines", "plan_lines", "show_value"]

Line = tuple[str, str]  # (style, text); style "" is plain

_SYMBOL = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
_STATUS_STYLE = {"applied": "green", "failed": "red", "interrupted": "red", "not attempted": ""}


def show_value(value: Any, limit: int = 100) -> str:
    """One short line for a property value; a secret shows where it will come from."""
    if isinstance(value, SecretRef):
        return f"(sensitive, from ${value.env})"
    if isinstance(value, str) and "\n" in value:
        return f"({value.count(chr(10)) + 1} lines)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        found: list[tuple[str, Any]] = []
        for key, item in value.items():
            found += _flatten(item, f"{prefix}.{key}" if prefix else key)
        return found
    return [(prefix, value)]


def change_lines(change: Change, verbose: bool) -> list[Line]:
    symbol, style = _SYMBOL[change.action]
    note = " (adopt: not created by apimgen)" if change.adopt else ""
    lines: list[Line] = [(style, f"  {symbol} {change.kind:<17} {change.path}{note}")]
    if change.action == "create" and verbose and change.properties:
        lines += [("dim", f"        {k} = {show_value(v)}") for k, v in _flatten(change.properties)]
    for path, old, new in change.differences:
        lines.append(("", f"        {path}: {show_value(old)} → {show_value(new)}"))
    for text in change.policy_diff.splitlines():
        colour = {"+": "green", "-": "red", "@": "cyan"}.get(text[:1], "dim")
        if text.startswith(("+++", "---")):
            colour = "bold"
        lines.append((colour, f"        {text}"))
    return lines


def plan_lines(plan: Plan, verbose: bool = False) -> list[Line]:
    lines: list[Line] = [("bold", f"Plan for {plan.target.describe()}: {plan.summary}")]
    for change in plan.changes:
        lines += change_lines(change, verbose)
    if plan.orphans:
        lines.append(("yellow", "Created by apimgen, no longer in the spec (--prune deletes):"))
        lines += [("yellow", f"    {path}") for path in plan.orphans]
    if plan.unmanaged:
        lines.append(("dim", f"Not created by apimgen, left alone: {len(plan.unmanaged)}"))
        if verbose:
            lines += [("dim", f"    {path}") for path in plan.unmanaged]
    if plan.outside and verbose:
        lines.append(("dim", "Deployed by the rendered Bicep/Terraform, not by apply:"))
        lines += [("dim", f"    {name}") for name in plan.outside]
    if not plan.changes:
        lines.append(("green", "No changes: the instance matches the spec."))
    return lines


def apply_lines(report: ApplyReport) -> list[Line]:
    total = len(report.outcomes)
    if report.complete:
        return [("green", f"Apply complete: {total} change(s) applied.")]
    lines: list[Line] = [
        ("red", f"Apply stopped: {report.count('applied')} of {total} change(s) applied.")
    ]
    for outcome in report.outcomes:
        change = outcome.change
        text = f"  {outcome.status:<13} {change.action:<6} {change.path}"
        lines.append((_STATUS_STYLE[outcome.status], text))
        if outcome.message:
            lines.append(("dim", f"                {outcome.message}"))
    return lines
