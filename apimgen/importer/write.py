"""Write an import: the spec as YAML and the files it names, checked by loading them back
before anything reaches the folder, then written all at once by render's writer (the same
rule: never into a folder apimgen did not write)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from apimgen.errors import ApimgenError, SpecError
from apimgen.importer.to_spec import ImportedSpec
from apimgen.render.writer import write_tree

__all__ = ["SPEC_FILE", "imported_files", "write_import"]

SPEC_FILE = "gateway.yaml"
_HEADER = (
    "# Imported by `apimgen import` from {service}. Policies the spec's keys reproduce are\n"
    "# keys; the others, and fragments, are kept as written under policies/. Review, then\n"
    "# `apimgen plan` this file against the same instance: it should change nothing.\n"
)


def imported_files(imported: ImportedSpec) -> dict[str, str]:
    """Every file of the import, by path under its folder."""
    text = yaml.safe_dump(imported.spec, sort_keys=False, allow_unicode=True, width=100)
    header = _HEADER.format(service=imported.summary.service)
    return {SPEC_FILE: header + text, **imported.files}


def write_import(imported: ImportedSpec, folder: Path) -> None:
    """Load the import back as a spec first: one it would refuse is reported, and nothing is
    written."""
    from apimgen.spec.load import load_spec

    files = imported_files(imported)
    with tempfile.TemporaryDirectory(prefix="apimgen-import-") as scratch:
        root = Path(scratch)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        try:
            load_spec(root / SPEC_FILE)
        except SpecError as error:
            problems = "; ".join(
                f"{_live_path(imported, d.key_path)}: {d.message}" for d in error.diagnostics[:5]
            )
            raise ApimgenError(
                f"the instance cannot be written as a valid spec: {problems}",
                hint="nothing was written; the summary (--json) lists what was read",
            ) from None
    write_tree(files, folder)


def _live_path(imported: ImportedSpec, key_path: str) -> str:
    """A spec key as the live resource it came from, when one did: ``backends/wide-pool
    (pools[1].members)``, so the message names what to change in the instance."""
    origins = [
        o
        for o in imported.summary.outcomes
        if o.where
        and key_path.startswith(o.where)
        and key_path[len(o.where) :][:1] in ("", ".", "[")
    ]
    if not origins:
        return key_path
    origin = max(origins, key=lambda o: len(o.where))
    return f"{origin.path} ({key_path})"
