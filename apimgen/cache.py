"""The per-user cache: data apimgen derives from its own files and can rebuild at any time.

Building the expression parser's tables, reading the tokenizer's 200,000 ranks and building
the tokenizer take most of a second at each start; with the tables, the ranks and the token
counts of prompts seen before kept here, ``apimgen simulate`` starts that much sooner on the
second run. Nothing in it is needed: a missing, unwritable or damaged cache only means the
work is done again. The directory is ``$APIMGEN_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/apimgen``, else ``~/.cache/apimgen``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "cached_pickle", "read_pickle", "write_pickle"]


def cache_dir() -> Path | None:
    """The cache directory, created if need be; None when it cannot be."""
    configured = os.environ.get("APIMGEN_CACHE_DIR")
    if configured:
        directory = Path(configured)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        directory = Path(base) / "apimgen"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory if os.access(directory, os.W_OK) else None


def cached_pickle(name: str, build: Callable[[], Any]) -> Any:
    """``build()``, kept in the cache as ``name``. ``name`` must change whenever what
    ``build`` returns would (put the source's hash in it); one that does not load is rebuilt."""
    value = read_pickle(name)
    if value is None:
        value = build()
        write_pickle(name, value)
    return value


def read_pickle(name: str) -> Any:
    """What the cache holds as ``name``, or None when it holds nothing usable."""
    directory = cache_dir()
    path = directory / name if directory is not None else None
    if path is not None and path.is_file():
        # Damaged, cut short or written by another Python: as good as missing.
        with contextlib.suppress(Exception), path.open("rb") as stream:
            return pickle.load(stream)
    return None


def write_pickle(name: str, value: Any) -> None:
    """Keep ``value`` as ``name``, replacing the file atomically so that concurrent runs never
    read half of one (the last writer wins, which a cache can afford)."""
    directory = cache_dir()
    if directory is not None:
        _write_atomically(directory / name, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError:
        return
