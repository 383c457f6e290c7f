"""Everything ``apimgen render`` writes, from one gateway model."""

from __future__ import annotations

from apimgen.model.gateway import Gateway
from apimgen.render.policies import render_policy_files

__all__ = ["render_artifacts"]


def render_artifacts(gateway: Gateway) -> dict[str, str]:
    """Relative path → file text, sorted so output order never depends on dict history."""
    files = render_policy_files(gateway)
    return dict(sorted(files.items()))
