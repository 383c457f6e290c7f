"""Read the policy documents a spec keeps as written (``policy_file`` at any scope).

A kept document is deployed byte for byte, so what the gateway would refuse, or deploy in an
order that fails, is found here instead: a file that cannot be read or is not one
``<policies>`` document, and a fragment or backend it names that the spec does not declare
(the deployment would create the policy before them, or never).
"""

from __future__ import annotations

import re
from pathlib import Path

from apimgen.errors import Diagnostic
from apimgen.files import confine, read_bounded
from apimgen.model.kept_references import kept_references
from apimgen.model.policy_layout import kept_scopes
from apimgen.spec.document import Spec
from apimgen.spec.paths import format_path
from apimgen.spec.yaml_source import YamlSource

__all__ = ["read_kept_policies"]

# An XML declaration and comments may come before the document (APIM keeps them).
_LEADING = re.compile(r"^(?:\s*(?:<\?xml[^>]*\?>|<!--.*?-->))*", re.DOTALL)


def read_kept_policies(
    spec: Spec, source: YamlSource, base_dir: Path, findings: list[Diagnostic]
) -> dict[str, str]:
    """Scope path → text of each kept document; a problem is appended to ``findings``,
    located at the scope's ``policy_file`` key."""
    fragments = {fragment.name for fragment in spec.fragments}
    backends = {backend.name for backend in spec.backends} | {pool.name for pool in spec.pools}
    texts: dict[str, str] = {}
    for scope, policies, at in kept_scopes(spec):
        key = (*at, "policy_file")
        assert policies.policy_file is not None

        def problem(message: str, hint: str = "", key: tuple[str | int, ...] = key) -> None:
            findings.append(Diagnostic(source.locate(key), format_path(key), message, hint=hint))

        try:
            text = read_bounded(confine(base_dir, policies.policy_file)).decode("utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problem(f"cannot read: {exc}")
            continue
        body = _LEADING.sub("", text).strip()
        if not (body.startswith("<policies") and body.endswith("</policies>")):
            problem(
                f"'{policies.policy_file}' is not a policy document",
                "a policy file holds one <policies>...</policies> element",
            )
            continue
        named_fragments, named_backends = kept_references(text)
        for name in named_fragments:
            if name not in fragments:
                problem(
                    f"'{policies.policy_file}' includes fragment '{name}', which the spec does "
                    "not declare",
                    "add it under fragments (name and file) so it is deployed before the policy",
                )
        for name in named_backends:
            if name not in backends:
                problem(
                    f"'{policies.policy_file}' routes to backend '{name}', which the spec does "
                    "not declare",
                    f"backends and pools: {', '.join(sorted(backends))}",
                )
        texts[scope.path] = text
    return texts
