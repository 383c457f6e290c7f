"""Output directories are replaced whole or not at all, and never someone else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from apimgen.errors import OutputError
from apimgen.render.writer import MARKER_FILE, diff_tree, write_tree


def test_write_then_diff_is_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = {"policies/global.xml": "<policies />\n", "a/b/c.txt": "x"}
    write_tree(files, out)
    assert (out / MARKER_FILE).is_file()
    assert (out / "a/b/c.txt").read_text() == "x"
    assert diff_tree(files, out).up_to_date


def test_rewrite_removes_files_no_longer_rendered(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree({"old.xml": "1", "keep.xml": "2"}, out)
    write_tree({"keep.xml": "3"}, out)
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER_FILE, "keep.xml"])
    assert (out / "keep.xml").read_text() == "3"
    assert not list(tmp_path.glob(".out.*")), "no staging or retired folders left behind"


def test_diff_reports_missing_changed_and_extra(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree({"a": "1", "b": "2"}, out)
    (out / "extra").write_text("?")
    diff = diff_tree({"a": "1", "b": "changed", "c": "new"}, out)
    assert diff.missing == ("c",)
    assert diff.changed == ("b",)
    assert diff.extra == ("extra",)
    assert not diff.up_to_date


def test_diff_of_a_missing_directory_lists_everything(tmp_path: Path) -> None:
    diff = diff_tree({"a": "1"}, tmp_path / "nope")
    assert diff.missing == (MARKER_FILE, "a")


def test_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("do not delete")
    with pytest.raises(OutputError, match="not written by apimgen"):
        write_tree({"a": "1"}, out)
    assert (out / "precious.txt").read_text() == "do not delete"


def test_refuses_a_file_as_output(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        write_tree({"a": "1"}, target)


def test_empty_existing_directory_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    write_tree({"a": "1"}, out)
    assert (out / "a").read_text() == "1"


def test_failure_while_writing_leaves_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_tree({"a": "old"}, out)
    calls = {"n": 0}
    original = Path.write_bytes

    def failing_write(self: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(OutputError, match="No space left"):
        write_tree({"a": "new", "b": "new"}, out)
    monkeypatch.undo()
    assert (out / "a").read_text() == "old"
    assert not (out / "b").exists()
    assert not list(tmp_path.glob(".out.*"))
