"""Turn pydantic's validation errors into located diagnostics a person can act on.

Pydantic knows the key path, the YAML source knows the line; this module joins them, rewords
pydantic's messages for YAML authors, and suggests the closest key or value for typos.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from apimgen.errors import Diagnostic
from apimgen.spec.paths import format_path
from apimgen.spec.yaml_source import KeyPath, YamlSource

__all__ = ["diagnostics_from_validation", "did_you_mean", "model_at"]


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    """A hint naming the closest choice, or '' when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else ""


def _model_classes(annotation: Any) -> list[type[BaseModel]]:
    """Model classes reachable from a field annotation (through Optional, Annotated, unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_classes(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found: list[type[BaseModel]] = []
        for arg in typing.get_args(annotation):
            found.extend(_model_classes(arg))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _item_annotation(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _item_annotation(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if (
                typing.get_origin(arg) is list
                or typing.get_origin(
                    typing.get_args(arg)[0] if typing.get_origin(arg) is typing.Annotated else None
                )
                is list
            ):
                return _item_annotation(arg)
        return None
    if origin is list:
        return typing.get_args(annotation)[0]
    return None


def _field_keys(model: type[BaseModel]) -> dict[str, Any]:
    """YAML key (alias when set) → annotation."""
    return {(info.alias or name): info.annotation for name, info in model.model_fields.items()}


def model_at(root: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """The model class that validates the mapping found at ``path``."""
    annotation: Any = root
    for part in path:
        if isinstance(part, int):
            annotation = _item_annotation(annotation)
            if annotation is None:
                return None
            continue
        models = _model_classes(annotation)
        for model in models:
            keys = _field_keys(model)
            if part in keys:
                annotation = keys[part]
                break
        else:
            return None
    models = _model_classes(annotation)
    return models[0] if models else None


def _split_loc(data: Any, loc: tuple[Any, ...]) -> tuple[KeyPath, list[Any]]:
    """The part of ``loc`` that exists in the YAML, and what is left (missing key, union tags)."""
    path: list[str | int] = []
    rest: list[Any] = []
    node = data
    for part in loc:
        if rest:
            rest.append(part)
            continue
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        else:
            rest.append(part)
    return tuple(path), rest


def _value_at(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        node = node[part]
    return node


def _clean(message: str) -> str:
    message = re.sub(r"^(Value|Assertion) error, ", "", message)
    return message[:1].lower() + message[1:] if message[:1].isupper() else message


def _show(value: Any) -> str:
    text = (
        repr(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )
    return text if len(text) <= 40 else text[:37] + "..."


def _value_hint(err: Any, value: Any) -> str:
    expected = (err.get("ctx") or {}).get("expected")
    if isinstance(value, str) and isinstance(expected, str):
        return did_you_mean(value, re.findall(r"'([^']*)'", expected))
    if err.get("type") == "string_type" and isinstance(value, bool | int | float):
        # YAML reads true, 5 and 1.0 as a boolean and numbers: text needs quotes
        return f'quote it to keep it text: "{_show(value)}"'
    return ""


def diagnostics_from_validation(
    exc: ValidationError, source: YamlSource, root: type[BaseModel]
) -> list[Diagnostic]:
    """One diagnostic per problem; union branches failing on one value are merged into one."""
    merged: dict[tuple[KeyPath, str], Diagnostic] = {}
    for err in exc.errors(include_url=False):
        kind = err["type"]
        path, rest = _split_loc(source.data, tuple(err["loc"]))
        if kind == "missing" and rest and isinstance(rest[0], str):
            key = rest[0]
            location = source.locate(path)
            diagnostic = Diagnostic(
                location, format_path((*path, key)), f"missing required key '{key}'"
            )
        elif kind == "extra_forbidden":
            key = str(path[-1]) if path else str(rest[-1] if rest else "")
            parent = path[:-1]
            model = model_at(root, parent)
            allowed = list(_field_keys(model)) if model else []
            hint = did_you_mean(key, allowed)
            if not hint and allowed:
                hint = "allowed keys: " + ", ".join(allowed)
            diagnostic = Diagnostic(
                source.locate(path, prefer_key=True),
                format_path(path),
                f"unknown key '{key}'",
                hint=hint,
            )
        else:
            value = _value_at(source.data, path)
            message = _clean(err["msg"])
            scalar = not isinstance(value, dict | list)
            if scalar and kind not in ("value_error", "assertion_error") and "got" not in message:
                message += f" (got {_show(value)})"
            diagnostic = Diagnostic(
                source.locate(path),
                format_path(path),
                message,
                hint=_value_hint(err, value),
            )
        if kind in ("missing", "extra_forbidden"):
            merged[(path, f"{kind}:{diagnostic.key_path}")] = diagnostic
            continue
        group = (path, "value")
        previous = merged.get(group)
        if previous is None:
            merged[group] = diagnostic
        elif diagnostic.message not in previous.message:
            merged[group] = Diagnostic(
                previous.location,
                previous.key_path,
                f"{previous.message}; or {diagnostic.message}",
                hint=previous.hint or diagnostic.hint,
            )
    # `api:` instead of `apis:` yields "unknown key 'api'" and "missing key 'apis'"; the first,
    # with its "did you mean 'apis'?", says it all.
    suggested = {
        (d.key_path.rpartition(".")[0], d.hint.split("'")[1])
        for key, d in merged.items()
        if key[1].startswith("extra_forbidden:") and d.hint.startswith("did you mean")
    }
    kept = [
        d
        for key, d in merged.items()
        if not (
            key[1].startswith("missing:")
            and (d.key_path.rpartition(".")[0], d.key_path.rpartition(".")[2]) in suggested
        )
    ]
    return sorted(kept, key=lambda d: (d.location.line, d.location.column, d.key_path))
