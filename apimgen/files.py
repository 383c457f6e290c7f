"""Reading the files users name: bounded in size, and confined to the tree they belong to.

A spec or scenario names other files — fragments, prompts, JSON Schemas, the spec a scenario
renders, a policy folder. In CI those names come from whoever opened the pull request, so a
reference may not leave the referring file's tree: ``../../../../etc/hostname`` or a symlink to
``~/.azure`` is refused before anything is opened, as copier refuses includes outside its
template. The tree is the referring file's own folder, or the nearest folder above it that holds
a ``.apimgen-root`` marker (a repository commits one where its specs and scenarios share files),
plus any folder the user allows with ``--allow-path`` or ``APIMGEN_ALLOW_PATH``. Paths are
compared after symlinks are resolved.

Every read is bounded by :data:`apimgen.limits.FILE_MAX_BYTES`, so a named ``/dev/zero`` or a
multi-gigabyte file ends in an error, not in memory exhaustion.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from apimgen.limits import FILE_MAX_BYTES

__all__ = [
    "ALLOW_PATH_ENV",
    "ROOT_MARKER",
    "FileTooLargeError",
    "OutsideRootError",
    "allowed_paths",
    "confine",
    "read_bounded",
    "reference_roots",
]

ROOT_MARKER = ".apimgen-root"
ALLOW_PATH_ENV = "APIMGEN_ALLOW_PATH"

_ALLOWED: ContextVar[tuple[Path, ...]] = ContextVar("apimgen_allowed_paths", default=())


class OutsideRootError(ValueError):
    """A referenced file lies outside every folder the referring file may reach (named by
    its own tree, the one a user would widen)."""

    def __init__(self, written: str, root: Path) -> None:
        super().__init__(f"'{written}' is outside {root}")

    @property
    def hint(self) -> str:
        return (
            f"keep referenced files inside that folder, put a {ROOT_MARKER} file in a folder "
            f"above both files, or allow another with --allow-path DIR ({ALLOW_PATH_ENV})"
        )


class FileTooLargeError(ValueError):
    """A file past :data:`FILE_MAX_BYTES`."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(f"{path} is larger than {limit // (1024 * 1024)} MiB")


@contextmanager
def allowed_paths(paths: Sequence[Path]) -> Iterator[None]:
    """Let references reach ``paths`` too while the block runs (the CLI's ``--allow-path``)."""
    token = _ALLOWED.set(tuple(Path(path).resolve() for path in paths))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def reference_roots(base_dir: Path) -> tuple[Path, ...]:
    """The folders that files named relative to ``base_dir`` (the referring file's folder)
    may lie in, that folder's own tree first."""
    folder = base_dir.resolve()
    own = next(
        (
            candidate
            for candidate in (folder, *folder.parents)
            if (candidate / ROOT_MARKER).is_file()
        ),
        folder,
    )
    from_env = [
        Path(entry).resolve()
        for entry in os.environ.get(ALLOW_PATH_ENV, "").split(os.pathsep)
        if entry
    ]
    return (own, *_ALLOWED.get(), *from_env)


def confine(base_dir: Path, written: str | Path) -> Path:
    """``written`` (relative to ``base_dir``, the referring file's folder, or absolute) once
    it is known to stay inside that folder's roots.

    Raises:
        OutsideRootError: the path, symlinks resolved, leaves every root.
    """
    target = (base_dir / written).resolve()
    roots = reference_roots(base_dir)
    if not any(target == root or target.is_relative_to(root) for root in roots):
        raise OutsideRootError(str(written), roots[0])
    return target


def read_bounded(path: Path, limit: int = FILE_MAX_BYTES) -> bytes:
    """The bytes of ``path``, refusing a file past ``limit`` without reading all of it.

    Raises:
        OSError: the file cannot be opened or read.
        FileTooLargeError: it holds more than ``limit`` bytes.
    """
    with path.open("rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(path, limit)
    return data
