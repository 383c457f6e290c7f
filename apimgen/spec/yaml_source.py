"""Read a YAML file into plain data while remembering where every key and value came from.

Pydantic reports errors by key path; users need ``file:line:col``. PyYAML's composed node tree
carries marks for every node, so we build the data from it ourselves and keep a map from key path
to position. Duplicate keys, which PyYAML silently collapses, are reported as errors here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from apimgen.errors import Diagnostic, InputError, Location, SpecError
from apimgen.spec.paths import format_path

__all__ = ["KeyPath", "YamlSource", "load_yaml"]

KeyPath = tuple[str | int, ...]

# libyaml's parser is several times faster and reports the same marks; fall back when absent.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlSource:
    """Parsed YAML with the position of every value (and of every mapping key)."""

    file: str
    data: Any
    value_positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: KeyPath, *, prefer_key: bool = False) -> Location:
        """The position of ``path``, or of its nearest ancestor that exists in the file."""
        probe = tuple(path)
        while True:
            table = (
                (self.key_positions, self.value_positions)
                if prefer_key
                else (
                    self.value_positions,
                    self.key_positions,
                )
            )
            for positions in table:
                if probe in positions:
                    line, column = positions[probe]
                    return Location(self.file, line, column)
            if not probe:
                return Location(self.file, 1, 1)
            probe = probe[:-1]

    def exists(self, path: KeyPath) -> bool:
        return tuple(path) in self.value_positions


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node tree into Python data, recording positions on the way."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.values: dict[KeyPath, tuple[int, int]] = {}
        self.keys: dict[KeyPath, tuple[int, int]] = {}
        self.problems: list[Diagnostic] = []

    def _duplicate_keys(self, node: MappingNode, path: KeyPath) -> set[int]:
        """Report keys written twice in this mapping (merged-in keys may be overridden)."""
        first_lines: dict[str, int] = {}
        skipped: set[int] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                continue
            text = str(key_node.value)
            line = _mark(key_node)[0]
            if text in first_lines:
                skipped.add(id(key_node))
                self.problems.append(
                    Diagnostic(
                        Location(self.file, *_mark(key_node)),
                        format_path((*path, text)),
                        f"duplicate key '{text}' (first defined on line {first_lines[text]})",
                        hint="remove one of them; YAML keeps only the last",
                    )
                )
            else:
                first_lines[text] = line
        return skipped

    def build(self, node: Node, path: KeyPath) -> Any:
        self.values[path] = _mark(node)
        if isinstance(node, MappingNode):
            skipped = self._duplicate_keys(node, path)
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys; own keys come last
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if id(key_node) in skipped:
                    continue
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.problems.append(
                        Diagnostic(
                            Location(self.file, *_mark(key_node)),
                            format_path(path),
                            "mapping keys must be plain strings",
                        )
                    )
                    continue
                child = (*path, str(key))
                self.keys[child] = _mark(key_node)
                result[str(key)] = self.build(value_node, child)
            return result
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except ValueError as error:
                # A plain scalar YAML resolves as a date (2026-13-05) that is no real date.
                self.problems.append(
                    Diagnostic(
                        Location(self.file, *_mark(node)),
                        format_path(path),
                        f"'{node.value}' reads as a date or time but is not one ({error})",
                        hint="write times as 2026-01-05T09:00:00Z, or quote the value to "
                        "keep it text",
                    )
                )
                return node.value
        raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover


def _read_text(path: Path) -> str:
    display = str(path)
    if not path.exists():
        raise InputError(f"{display}: no such file", hint="check the path you passed")
    if path.is_dir():
        raise InputError(
            f"{display}: is a directory, not a spec file",
            hint="pass the YAML file itself, e.g. examples/seed/gateway.yaml",
        )
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8",
            location=Location(display, line, column),
        ) from None


def load_yaml(path: Path, display_name: str | None = None) -> YamlSource:
    """Parse one YAML document, reporting syntax errors and duplicate keys with positions.

    Raises:
        InputError: the file is missing, a directory or not UTF-8.
        SpecError: the YAML is malformed, empty, or repeats a key.
    """
    name = display_name or str(path)
    text = _read_text(path)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError(
                [
                    Diagnostic(
                        Location(name, 1, 1),
                        "",
                        "file is empty",
                        hint="start from `apimgen schema` or one of the files in examples/",
                    )
                ]
            )
        builder = _Builder(loader, name)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and exc.context_mark is not None:
            problem += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        raise SpecError(
            [Diagnostic(Location(name, line, column), "", f"YAML syntax error: {problem}")]
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        raise SpecError([Diagnostic(Location(name, 1, 1), "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise SpecError(builder.problems)
    return YamlSource(name, data, builder.values, builder.keys)
