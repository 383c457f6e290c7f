"""A plan as GitHub/Azure DevOps-flavoured Markdown, for a pull-request comment.

Reviewers see the summary and a table of resources at a glance; policy XML diffs are folded
into ``<details>`` blocks so a large change does not bury the rest of the comment. Values from
the live side are untrusted text: they are escaped so they cannot break the table or inject
markup into the comment.
"""

from __future__ import annotations

import html

from apimgen.deploy.plan import Plan
from apimgen.deploy.view import show_value

__all__ = ["plan_markdown"]

_ACTION = {"create": "🟢 create", "update": "🟡 update", "delete": "🔴 delete"}
_MAX_VALUE = 80


def _code(text: str) -> str:
    """Inline code that survives backticks and pipes inside the value."""
    text = text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plan_markdown(plan: Plan) -> str:
    target = plan.target
    lines = [
        f"### apimgen plan for `{target.service}`",
        "",
        f"**{plan.summary}** · resource group `{target.resource_group}` · "
        f"subscription `{target.subscription_id}`"
        + (f" · environment `{plan.environment}`" if plan.environment else ""),
        "",
    ]
    if not plan.changes:
        lines += ["No changes: the instance matches the spec.", ""]
    else:
        lines += ["| Action | Kind | Resource | Changes |", "|---|---|---|---|"]
        for change in plan.changes:
            details = [
                f"{_code(path)}: {_code(show_value(old, _MAX_VALUE))} → "
                f"{_code(show_value(new, _MAX_VALUE))}"
                for path, old, new in change.differences
            ]
            if change.policy_diff:
                details.append("policy XML (diff below)")
            if change.adopt:
                details.append("adopts a resource apimgen did not create")
            lines.append(
                f"| {_ACTION[change.action]} | {change.kind} | {_code(change.path)} | "
                f"{'<br>'.join(details)} |"
            )
        lines.append("")
    for change in plan.changes:
        if change.policy_diff:
            fence = "````" if "```" in change.policy_diff else "```"
            lines += [
                f"<details><summary>Policy diff: <code>{html.escape(change.path)}</code></summary>",
                "",
                f"{fence}diff",
                change.policy_diff.rstrip("\n"),
                fence,
                "",
                "</details>",
                "",
            ]
    if plan.orphans:
        lines.append(
            "Created by apimgen and no longer in the spec (kept; `--prune` deletes): "
            + ", ".join(_code(p) for p in plan.orphans)
        )
        lines.append("")
    if plan.unmanaged:
        lines += [f"{len(plan.unmanaged)} resource(s) not created by apimgen are left alone.", ""]
    return "\n".join(lines)
