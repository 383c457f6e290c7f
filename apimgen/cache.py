"""The per-user cache: data apimgen derives from its own files and can rebuild at any time.

Building the expression parser's tables and reading the tokenizer's 200,000 ranks take about
half a second at each start; kept here, ``apimgen simulate`` starts that much sooner on the
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

__all__ = ["cache_dir", "cached_pickle"]


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
    ``build`` returns would (put the source's hash in it). The file is replaced atomically, so
    concurrent runs never read half of one; one that does not load is rebuilt."""
    directory = cache_dir()
    path = directory / name if directory is not None else None
    if path is not None and path.is_file():
        # Damaged, cut short or written by another Python: rebuilt below.
        with contextlib.suppress(Exception), path.open("rb") as stream:
            return pickle.load(stream)
    value = build()
    if path is not None:
        _write_atomically(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return value


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError:
        return
