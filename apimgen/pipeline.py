"""The spec → gateway → artifacts pipeline as the commands use it."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from apimgen.model.gateway import Gateway
from apimgen.model.resolve import resolve
from apimgen.render.artifacts import FORMATS, render_artifacts
from apimgen.spec.load import LoadedSpec, load_spec

__all__ = ["build_gateway", "render_spec"]


def build_gateway(loaded: LoadedSpec) -> Gateway:
    return resolve(loaded.spec, loaded.fragment_texts, loaded.kept_policies)


def render_spec(
    path: Path, formats: Collection[str] = FORMATS
) -> tuple[LoadedSpec, dict[str, str]]:
    """Load, resolve and render ``path``; raises ApimgenError on invalid input."""
    loaded = load_spec(path)
    return loaded, render_artifacts(build_gateway(loaded), formats)
