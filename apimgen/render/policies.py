"""Gateway → policy XML files, one per scope, plus the fragments they include."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from apimgen.model.gateway import Gateway, PolicyDocument
from apimgen.model.statements import SECTIONS
from apimgen.render.environment import environment

__all__ = ["POLICY_FOLDER", "render_policy_document", "render_policy_files"]

POLICY_FOLDER = "policies"


def render_policy_document(document: PolicyDocument) -> str:
    """Canonically formatted XML for one scope; checked to be well-formed before it leaves.
    A kept document (``policy_file``) is its own text, byte for byte."""
    if document.kept is not None:
        return document.kept
    template = environment().get_template("policy/document.xml.jinja")
    text = template.render(document=document, sections=SECTIONS)
    try:
        ET.fromstring(text)
    except ET.ParseError as exc:  # a renderer bug, never the user's input
        raise AssertionError(
            f"rendered {document.scope.path} is not well-formed XML: {exc}"
        ) from exc
    return text


def render_policy_files(gateway: Gateway) -> dict[str, str]:
    """Relative path → XML text for every policy document and fragment of the gateway."""
    files = {
        f"{POLICY_FOLDER}/{document.scope.path}": render_policy_document(document)
        for document in gateway.policies
    }
    for fragment in gateway.fragments:
        files[f"{POLICY_FOLDER}/fragments/{fragment.name}.xml"] = fragment.xml
    return files
