"""Load a spec file: YAML with positions → pydantic models → cross-reference checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from apimgen.errors import Diagnostic, Location, Severity, SpecError
from apimgen.files import confine, read_bounded
from apimgen.model.resolve import used_fragments
from apimgen.resources import builtin_fragment_names, fragment_dir
from apimgen.spec.checks import check_spec
from apimgen.spec.document import Spec
from apimgen.spec.kept_policies import read_kept_policies
from apimgen.spec.paths import format_path
from apimgen.spec.validation_errors import diagnostics_from_validation
from apimgen.spec.yaml_source import YamlSource, load_yaml, refuse_other_kind

__all__ = ["LoadedSpec", "load_spec"]


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec with what was learnt while loading it."""

    spec: Spec
    source: YamlSource
    path: Path
    warnings: tuple[Diagnostic, ...]
    fragment_texts: dict[str, str]
    kept_policies: dict[str, str] = field(default_factory=dict)  # scope path → policy_file text

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the spec (fragment files) are resolved against."""
        return self.path.parent


def load_spec(path: Path) -> LoadedSpec:
    """Read and validate ``path``; every problem in the file is reported in one SpecError.

    Raises:
        InputError: the file cannot be read.
        SpecError: the file is not a valid spec; carries all errors (and warnings) found.
    """
    source = load_yaml(path)
    if not isinstance(source.data, dict):
        raise SpecError(
            [
                Diagnostic(
                    Location(source.file, 1, 1),
                    "",
                    "a spec must be a mapping with keys such as gateway, backends and apis",
                    hint="see `apimgen schema` or examples/",
                )
            ]
        )
    refuse_other_kind(source, "spec")
    try:
        spec = Spec.model_validate(source.data)
    except ValidationError as exc:
        raise SpecError(diagnostics_from_validation(exc, source, Spec)) from None
    findings = check_spec(spec, source, path.parent)
    fragment_texts: dict[str, str] = {}
    kept: dict[str, str] = {}
    if not any(d.severity is Severity.ERROR for d in findings):
        fragment_texts = _read_fragments(spec, source, path.parent, findings)
        kept = read_kept_policies(spec, source, path.parent, findings)
    if any(d.severity is Severity.ERROR for d in findings):
        raise SpecError(findings)
    return LoadedSpec(spec, source, path, tuple(findings), fragment_texts, kept)


def _read_fragments(
    spec: Spec, source: YamlSource, base_dir: Path, findings: list[Diagnostic]
) -> dict[str, str]:
    """Texts of the spec's own fragments and of the built-ins it includes."""
    texts: dict[str, str] = {}
    for index, fragment in enumerate(spec.fragments):
        path = ("fragments", index, "file")
        try:
            text = read_bounded(confine(base_dir, fragment.file)).decode("utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            findings.append(
                Diagnostic(source.locate(path), format_path(path), f"cannot read: {exc}")
            )
            continue
        body = text.strip()
        if not (body.startswith("<fragment") and body.endswith("</fragment>")):
            findings.append(
                Diagnostic(
                    source.locate(path),
                    format_path(path),
                    f"'{fragment.file}' is not a policy fragment",
                    hint="a fragment file holds one <fragment>...</fragment> element",
                )
            )
            continue
        texts[fragment.name] = body + "\n"
    for name in used_fragments(spec):
        if name not in texts and name in builtin_fragment_names():
            texts[name] = (fragment_dir() / f"{name}.xml").read_text(encoding="utf-8")
    return texts
