"""mkdocs hooks: the reference pages are generated from the code, never written twice.

A page says ``<!-- apimgen:NAME -->`` where a generated section goes:

- ``spec-reference`` and ``scenario-reference``: every model of the spec / scenario JSON Schema
  with its properties, types, defaults and descriptions;
- ``lint-rules``: the lint rule catalogue (id, severity, rationale);
- ``cli-reference``: ``--help`` of every command;
- ``limits``: the bounds every reader keeps (``apimgen.limits.LIMITS``).
"""

from __future__ import annotations

import json
from typing import Any

_MARKER = "<!-- apimgen:{} -->"


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [_type(s) for s in schema[key] if s.get("type") != "null"]
            optional = any(s.get("type") == "null" for s in schema[key])
            return " or ".join(parts) + (" (optional)" if optional else "")
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    return str(kind)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _limits(schema: dict[str, Any]) -> str:
    notes = []
    for key, label in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
    ):
        if key in schema:
            notes.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        notes.append(f"pattern `{schema['pattern']}`")
    return "; ".join(notes)


def _model(name: str, schema: dict[str, Any], heading: str = "###") -> list[str]:
    lines = [f"{heading} {name}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    properties = schema.get("properties", {})
    if "enum" in schema:
        lines += ["One of: " + ", ".join(f"`{v}`" for v in schema["enum"]), ""]
    if not properties:
        return lines
    required = set(schema.get("required", []))
    lines += ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for key, prop in properties.items():
        default = "required" if key in required else ""
        if "default" in prop:
            default = f"`{json.dumps(prop['default'])}`"
        note = _limits(prop)
        description = prop.get("description", "") + (f" ({note})" if note else "")
        lines.append(
            f"| `{key}` | {_cell(_type(prop))} | {_cell(default)} | {_cell(description)} |"
        )
    return [*lines, ""]


def schema_reference(schema: dict[str, Any], root: str) -> str:
    lines = _model(root, schema)
    for name, definition in sorted(schema.get("$defs", {}).items()):
        lines += _model(name, definition)
    return "\n".join(lines)


def _lint_rules() -> str:
    from apimgen.lint.report import rules_json

    lines = ["| Rule | Name | Severity | Why |", "|---|---|---|---|"]
    for rule in rules_json():
        lines.append(
            f"| `{rule['id']}` | {rule['name']} | {rule['severity']} | {_cell(rule['rationale'])} |"
        )
    return "\n".join(lines)


def _limits_table() -> str:
    from apimgen.limits import LIMITS

    lines = ["| What | Limit | Applies to | Past it |", "|---|---|---|---|"]
    for limit in LIMITS:
        lines.append(
            f"| {limit.name} | {limit.value} | {_cell(limit.applies_to)} | {_cell(limit.past_it)} |"
        )
    return "\n".join(lines)


def _cli_reference() -> str:
    import typer

    from apimgen.cli.app import app

    command = typer.main.get_command(app)
    lines = []
    with typer.Context(command, info_name="apimgen", terminal_width=100) as root:
        lines += ["## apimgen", "", "```text", command.get_help(root), "```", ""]
        for name in sorted(command.list_commands(root)):  # type: ignore[attr-defined]
            sub = command.get_command(root, name)  # type: ignore[attr-defined]
            with typer.Context(sub, info_name=name, parent=root, terminal_width=100) as ctx:
                lines += [f"## apimgen {name}", "", "```text", sub.get_help(ctx), "```", ""]
    return "\n".join(lines)


def _section(name: str) -> str:
    if name == "spec-reference":
        from apimgen.spec.schema import spec_json_schema

        return schema_reference(json.loads(spec_json_schema()), "Spec")
    if name == "scenario-reference":
        from apimgen.simulate.scenario import Scenario

        return schema_reference(Scenario.model_json_schema(by_alias=True), "Scenario")
    if name == "lint-rules":
        return _lint_rules()
    if name == "cli-reference":
        return _cli_reference()
    if name == "limits":
        return _limits_table()
    raise ValueError(f"unknown generated section {name!r}")


def on_page_markdown(markdown: str, **_: Any) -> str:
    for name in ("spec-reference", "scenario-reference", "lint-rules", "cli-reference", "limits"):
        marker = _MARKER.format(name)
        if marker in markdown:
            markdown = markdown.replace(marker, _section(name))
    return markdown
