"""The positioned YAML reader: positions, duplicate keys, merge keys, unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest

from apimgen.errors import InputError, SpecError
from apimgen.spec.yaml_source import load_yaml


def _write(tmp_path: Path, text: str | bytes, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_positions_of_values_and_keys(tmp_path: Path) -> None:
    source = load_yaml(_write(tmp_path, "a:\n  b:\n    - x: 1\n      y: two\n"))
    assert source.data == {"a": {"b": [{"x": 1, "y": "two"}]}}
    assert source.locate(("a", "b", 0, "y")).line == 4
    assert source.locate(("a", "b", 0, "y")).column == 10
    assert source.locate(("a", "b", 0, "y"), prefer_key=True).column == 7


def test_locate_falls_back_to_nearest_ancestor(tmp_path: Path) -> None:
    source = load_yaml(_write(tmp_path, "a:\n  b: 1\n"))
    location = source.locate(("a", "missing", 3))
    assert (location.line, location.column) == (2, 3)


def test_duplicate_keys_are_errors_not_silently_collapsed(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(_write(tmp_path, "a: 1\nb: 2\na: 3\n"))
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.location.line == 3
    assert "duplicate key 'a'" in diagnostic.message


def test_a_date_that_is_no_real_date_is_located_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(_write(tmp_path, "a: 1\nwhen: 2026-13-05T10:00:00Z\n"))
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.location.line, diagnostic.location.column) == (2, 7)
    assert diagnostic.key_path == "when"
    assert "'2026-13-05T10:00:00Z' reads as a date or time but is not one" in diagnostic.message
    assert "quote the value" in diagnostic.hint


def test_merge_keys_and_anchors_are_supported(tmp_path: Path) -> None:
    text = "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n"
    source = load_yaml(_write(tmp_path, text))
    assert source.data["child"] == {"x": 1, "y": 3}


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    assert load_yaml(_write(tmp_path, b"\xef\xbb\xbfa: 1\n")).data == {"a": 1}


def test_non_utf8_is_located(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_yaml(_write(tmp_path, b"a: 1\nb: caf\xe9\n"))
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (2, 7)


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_documents(tmp_path: Path, text: str) -> None:
    with pytest.raises(SpecError, match="1 error"):
        load_yaml(_write(tmp_path, text))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="is a directory"):
        load_yaml(tmp_path)


def test_multiple_documents_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(_write(tmp_path, "a: 1\n---\nb: 2\n"))
    assert "YAML syntax error" in info.value.diagnostics[0].message
