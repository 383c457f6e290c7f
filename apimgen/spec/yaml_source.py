"""Read a YAML file into plain data while remembering where every key and value came from.

Pydantic reports errors by key path; users need ``file:line:col``. PyYAML's composed node tree
carries marks for every node, so we build the data from it ourselves and keep a map from key path
to position. Duplicate keys, which PyYAML silently collapses, are reported as errors here.

The files may be hostile (a pull request's spec in CI), so reading is bounded: the file's size,
the nesting depth (checked while composing, before libyaml's recursive composer could overflow
the C stack) and the number of values after aliases and merge keys are expanded (a "billion
laughs" of nine nested aliases is sixty lines). Past a limit the error names the alias, or the
value, that crossed it. The limits live in :mod:`apimgen.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from apimgen.errors import Diagnostic, InputError, Location, SpecError
from apimgen.files import FileTooLargeError, read_bounded
from apimgen.limits import YAML_MAX_DEPTH, YAML_MAX_NODES
from apimgen.spec.paths import format_path

__all__ = ["KeyPath", "YamlSource", "load_yaml", "parse_yaml", "refuse_other_kind"]

KeyPath = tuple[str | int, ...]

_LIMITS_HINT = "see the limits table in docs/limits.md"


class _LimitError(Exception):
    """Raised inside composing or building; turned into a located SpecError by load_yaml."""

    def __init__(self, mark: Mark | None, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.path = path
        self.message = message


class _BoundedComposer(Composer):
    """PyYAML's composer, in Python over the parser's events, with a depth limit; it also
    remembers where each alias was written, so an expansion error can point at it."""

    def __init__(self) -> None:
        Composer.__init__(self)
        self.depth = 0
        self.alias_marks: dict[tuple[int, int], Mark] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]  # the parser's, mixed in
        mark: Mark = event.start_mark
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            if parent is not None and index is not None:
                key = (id(parent), index if isinstance(index, int) else id(index))
                self.alias_marks[key] = mark
            return node
        self.depth += 1
        if self.depth > YAML_MAX_DEPTH:
            raise _LimitError(mark, (), f"YAML nested more than {YAML_MAX_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


try:  # libyaml's parser is several times faster and reports the same marks.
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _Loader(_BoundedComposer, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(  # type: ignore[no-redef]
        Reader, Scanner, Parser, _BoundedComposer, SafeConstructor, Resolver
    ):
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


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

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.values: dict[KeyPath, tuple[int, int]] = {}
        self.keys: dict[KeyPath, tuple[int, int]] = {}
        self.problems: list[Diagnostic] = []
        self.built = 0
        # Where the aliases being expanded were written, outermost first.
        self.aliases: list[Mark] = []

    def _count(self, node: Node, path: KeyPath) -> None:
        """Refuse a document that expands past the node or depth limit."""
        self.built += 1
        if self.built > YAML_MAX_NODES:
            raise _LimitError(
                self.aliases[0] if self.aliases else node.start_mark,
                path,
                f"the document expands to more than {YAML_MAX_NODES:,} values"
                + (" through its aliases" if self.aliases else ""),
            )
        if len(path) > YAML_MAX_DEPTH:
            raise _LimitError(
                self.aliases[0] if self.aliases else node.start_mark,
                path,
                f"YAML nested more than {YAML_MAX_DEPTH} levels deep"
                + (" once its aliases are expanded" if self.aliases else ""),
            )

    def _child(self, parent: Node, index: int | Node, child: Node, path: KeyPath) -> Any:
        """Build a child, remembering the alias it was written as, if any."""
        alias = self.loader.alias_marks.get(
            (id(parent), index if isinstance(index, int) else id(index))
        )
        if alias is None:
            return self.build(child, path)
        self.aliases.append(alias)
        try:
            return self.build(child, path)
        finally:
            self.aliases.pop()

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
        self._count(node, path)
        self.values[path] = _mark(node)
        if isinstance(node, MappingNode):
            skipped = self._duplicate_keys(node, path)
            merged = self._merge_alias(node)
            own = {id(key) for key, _ in node.value}
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
                if merged is not None and id(key_node) not in own:
                    self.aliases.append(merged)
                    try:
                        result[str(key)] = self.build(value_node, child)
                    finally:
                        self.aliases.pop()
                else:
                    result[str(key)] = self._child(node, key_node, value_node, child)
            return result
        if isinstance(node, SequenceNode):
            return [
                self._child(node, index, item, (*path, index))
                for index, item in enumerate(node.value)
            ]
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

    def _merge_alias(self, node: MappingNode) -> Mark | None:
        """Where the first ``<<: *alias`` of this mapping was written, if it has one."""
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                mark = self.loader.alias_marks.get((id(node), id(key_node)))
                if mark is not None:
                    return mark
                if isinstance(value_node, SequenceNode):
                    for index in range(len(value_node.value)):
                        mark = self.loader.alias_marks.get((id(value_node), index))
                        if mark is not None:
                            return mark
        return None


def _read_text(path: Path) -> str:
    display = str(path)
    if not path.exists():
        raise InputError(f"{display}: no such file", hint="check the path you passed")
    if path.is_dir():
        raise InputError(
            f"{display}: is a directory, not a spec file",
            hint="pass the YAML file itself, e.g. examples/seed/gateway.yaml",
        )
    try:
        raw = read_bounded(path)
    except FileTooLargeError as exc:
        raise InputError(str(exc), hint=_LIMITS_HINT) from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
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
    return parse_yaml(_read_text(path), display_name or str(path))


def parse_yaml(text: str, name: str) -> YamlSource:
    """:func:`load_yaml` for text already read; ``name`` is the file errors name."""
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
    except _LimitError as exc:
        line, column = (exc.mark.line + 1, exc.mark.column + 1) if exc.mark else (1, 1)
        raise SpecError(
            [
                Diagnostic(
                    Location(name, line, column),
                    format_path(exc.path),
                    exc.message,
                    hint="aliases may reuse a block, not multiply it; " + _LIMITS_HINT
                    if "values" in exc.message
                    else _LIMITS_HINT,
                )
            ]
        ) from None
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


# What each kind of apimgen file has at its top level that the other lacks, the command that
# takes it, and an example: a spec handed to simulate (or a scenario to validate) is named as
# such instead of failing with a page of unknown keys.
_KINDS = {
    "spec": (
        "gateway",
        "`apimgen validate {}` takes it (so do render, lint, plan and apply)",
        "examples/seed/gateway.yaml",
    ),
    "scenario": (
        "policies",
        "`apimgen simulate {}` takes it",
        "examples/scenarios/seed-step3.yaml",
    ),
}
_FULL_NAMES = {"spec": "spec", "scenario": "simulation scenario"}


def refuse_other_kind(source: YamlSource, expected: str) -> None:
    """Raise a one-line SpecError when ``source`` is the other kind of file than
    ``expected`` ("spec" or "scenario")."""
    (other,) = (kind for kind in _KINDS if kind != expected)
    own_key, _, example = _KINDS[expected]
    other_key, takes, _ = _KINDS[other]
    if not isinstance(source.data, dict) or own_key in source.data or other_key not in source.data:
        return
    raise SpecError(
        [
            Diagnostic(
                source.locate((other_key,), prefer_key=True),
                "",
                f"this is a {_FULL_NAMES[other]}, not a {_FULL_NAMES[expected]}",
                hint=f"{takes.format(source.file)}; this command takes a {expected} such as "
                f"{example}",
            )
        ]
    )
