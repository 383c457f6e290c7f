"""From policy documents per scope to the one pipeline a request runs.

Fragments are inlined where ``<include-fragment>`` stands; then, from the narrowest scope
outwards, each ``<base/>`` is replaced by the same section of the parent scope (global →
product → API → operation; apim-genai-policies.md §1.2). A section without ``<base/>`` drops
inheritance for that section, as in APIM. A section missing from a document altogether is read
as ``<base/>`` alone (the portal always writes all four; this is the safe reading).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from apimgen.errors import Location
from apimgen.files import read_bounded
from apimgen.simulate.policy.placeholders import fill_placeholders
from apimgen.simulate.policy.reader import PolicyElement, PolicyReadError, read_policy

__all__ = [
    "SECTIONS",
    "Pipeline",
    "PolicySet",
    "effective_pipeline",
    "expand_fragments",
    "load_policy_folder",
    "policy_set_from_texts",
    "sections_of",
]

SECTIONS: tuple[str, ...] = ("inbound", "backend", "outbound", "on-error")


@dataclass(frozen=True)
class Pipeline:
    """The statements a request runs, per section, after inheritance and fragments."""

    sections: dict[str, tuple[PolicyElement, ...]]

    def section(self, name: str) -> tuple[PolicyElement, ...]:
        return self.sections.get(name, ())


@dataclass(frozen=True)
class PolicySet:
    """Every policy document of a gateway, by scope, plus its fragments."""

    global_policy: PolicyElement | None
    products: dict[str, PolicyElement]
    apis: dict[str, PolicyElement]
    operations: dict[tuple[str, str], PolicyElement]
    fragments: dict[str, PolicyElement]

    def pipeline(self, api: str, operation: str | None, product: str | None) -> Pipeline:
        chain = [
            self.global_policy,
            self.products.get(product) if product else None,
            self.apis.get(api),
            self.operations.get((api, operation)) if operation else None,
        ]
        return effective_pipeline(chain, self.fragments)


def sections_of(root: PolicyElement) -> dict[str, tuple[PolicyElement, ...] | None]:
    """Section name → statements (None when the section element is absent)."""
    if root.name != "policies":
        raise PolicyReadError(
            f"a policy document starts with <policies>, not <{root.name}>", location=root.location
        )
    found: dict[str, tuple[PolicyElement, ...] | None] = dict.fromkeys(SECTIONS)
    for child in root.children:
        if child.name not in SECTIONS:
            raise PolicyReadError(
                f"unknown policy section <{child.name}>",
                hint="sections are inbound, backend, outbound and on-error",
                location=child.location,
            )
        if found[child.name] is not None:
            raise PolicyReadError(f"section <{child.name}> appears twice", location=child.location)
        found[child.name] = child.children
    return found


def expand_fragments(
    statements: Sequence[PolicyElement],
    fragments: Mapping[str, PolicyElement],
    trail: tuple[str, ...] = (),
) -> tuple[PolicyElement, ...]:
    """``statements`` with every ``<include-fragment>`` replaced by the fragment's statements."""
    out: list[PolicyElement] = []
    for statement in statements:
        if statement.name == "include-fragment":
            fragment_id = statement.attributes.get("fragment-id", "")
            if fragment_id in trail:
                cycle = " → ".join((*trail, fragment_id))
                raise PolicyReadError(
                    f"fragment '{fragment_id}' includes itself ({cycle})",
                    location=statement.location,
                )
            fragment = fragments.get(fragment_id)
            if fragment is None:
                raise PolicyReadError(
                    f"fragment '{fragment_id}' is not defined",
                    hint="add it to the fragments folder",
                    location=statement.location,
                )
            out.extend(expand_fragments(fragment.children, fragments, (*trail, fragment_id)))
        elif statement.children:
            children = expand_fragments(statement.children, fragments, trail)
            out.append(
                PolicyElement(
                    statement.name,
                    statement.attributes,
                    children,
                    statement.text,
                    statement.file,
                    statement.line,
                    statement.column,
                    statement.attribute_order,
                )
            )
        else:
            out.append(statement)
    return tuple(out)


def _check_base_placement(statements: Sequence[PolicyElement]) -> None:
    for statement in statements:
        for nested in _walk(statement.children):
            if nested.name == "base":
                raise PolicyReadError(
                    "<base /> may only appear directly inside a section", location=nested.location
                )


def _walk(statements: Sequence[PolicyElement]) -> list[PolicyElement]:
    found: list[PolicyElement] = []
    for statement in statements:
        found.append(statement)
        found.extend(_walk(statement.children))
    return found


def effective_pipeline(
    chain: Sequence[PolicyElement | None], fragments: Mapping[str, PolicyElement]
) -> Pipeline:
    """Merge the documents of ``chain`` (broadest first; None = no document at that scope)."""
    merged: dict[str, tuple[PolicyElement, ...]] = {name: () for name in SECTIONS}
    for depth, document in enumerate(chain):
        if document is None:
            continue
        for name, statements in sections_of(document).items():
            if statements is None:
                continue  # absent section: inherit the parent's unchanged
            expanded = expand_fragments(statements, fragments)
            _check_base_placement(expanded)
            parent = merged[name]
            result: list[PolicyElement] = []
            for statement in expanded:
                if statement.name == "base":
                    if depth > 0:
                        result.extend(parent)
                else:
                    result.append(statement)
            merged[name] = tuple(result)
    return Pipeline(merged)


# The global policy of a new APIM instance: it forwards every request (Learn:
# forward-request-policy, "by default, API Management sets up this policy at the global scope").
DEFAULT_GLOBAL_POLICY = (
    "<policies><inbound /><backend><forward-request /></backend><outbound /><on-error /></policies>"
)


def policy_set_from_texts(
    texts: Mapping[str, str], named_values: Mapping[str, str] | None = None, prefix: str = ""
) -> PolicySet:
    """A PolicySet from ``relative path → XML`` as ``apimgen render`` lays them out under
    ``policies/`` (``global.xml``, ``products/p.xml``, ``apis/a.xml``,
    ``apis/a/operations/o.xml``, ``fragments/f.xml``).

    Without ``global.xml`` the global scope holds APIM's default policy, as on a gateway whose
    global policy was never edited: an API policy exported on its own then runs as it does
    there, its backend section's ``<base/>`` forwarding the request."""
    documents = {
        path: read_policy(text, f"{prefix}{path}", named_values)
        for path, text in sorted(texts.items())
    }
    if "global.xml" not in documents:
        documents["global.xml"] = read_policy(
            DEFAULT_GLOBAL_POLICY, f"{prefix}global.xml (APIM's default)", named_values
        )
    products: dict[str, PolicyElement] = {}
    apis: dict[str, PolicyElement] = {}
    operations: dict[tuple[str, str], PolicyElement] = {}
    fragments: dict[str, PolicyElement] = {}
    for path, root in documents.items():
        parts = path.removesuffix(".xml").split("/")
        if parts == ["global"]:
            continue
        if len(parts) == 2 and parts[0] == "fragments":
            if root.name != "fragment":
                raise PolicyReadError(
                    f"a fragment file holds one <fragment> element, not <{root.name}>",
                    location=root.location,
                )
            fragments[parts[1]] = root
        elif len(parts) == 2 and parts[0] == "products":
            products[parts[1]] = root
        elif len(parts) == 2 and parts[0] == "apis":
            apis[parts[1]] = root
        elif len(parts) == 4 and parts[0] == "apis" and parts[2] == "operations":
            operations[(parts[1], parts[3])] = root
        else:
            raise PolicyReadError(
                f"'{path}' is not where a policy document goes",
                hint="use global.xml, products/<p>.xml, apis/<a>.xml, "
                "apis/<a>/operations/<o>.xml or fragments/<f>.xml",
                location=root.location,
            )
    return PolicySet(documents.get("global.xml"), products, apis, operations, fragments)


def load_policy_folder(
    folder: Path,
    named_values: Mapping[str, str] | None = None,
    placeholders: Mapping[str, str] | None = None,
) -> PolicySet:
    """Read a ``policies/`` folder laid out as ``apimgen render`` writes it, its template
    ``placeholders`` filled (placeholders.py)."""
    if not folder.is_dir():
        raise PolicyReadError(f"{folder}: not a policy folder", hint="point at a policies/ folder")
    texts: dict[str, str] = {}
    root = folder.resolve()
    for path in sorted(folder.rglob("*.xml")):
        if not path.resolve().is_relative_to(root):
            raise PolicyReadError(
                f"{path} links to {path.resolve()}, outside the policy folder",
                hint="a policy folder holds its own files; copy the policy in instead",
                location=Location(str(path)),
            )
        try:
            text = read_bounded(path).decode("utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise PolicyReadError(
                f"cannot read policy file: {error}", location=Location(str(path))
            ) from None
        relative = path.relative_to(folder).as_posix()
        texts[relative] = fill_placeholders(text, placeholders or {}, f"{folder.name}/{relative}")
    return policy_set_from_texts(texts, named_values, prefix=f"{folder.name}/")
