"""Key paths as users read them: ``apis[0].token_limits[1].key``."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["format_path"]


def format_path(path: Iterable[str | int]) -> str:
    """Join a pydantic/YAML location into the dotted-and-indexed form used in messages."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
