"""An APIOps extractor folder read as the live resources it was extracted from.

For teams that have the artifacts but no access to the instance: each artifact becomes the
resource the extractor read (its ``*Information.json`` properties, its ``policy.xml``), so the
import maps it exactly as it maps a live gateway. The layout is the extractor's documented one:

    policy.xml                                  the global policy
    named values/NAME/namedValueInformation.json
    backends/NAME/backendInformation.json
    loggers/NAME/loggerInformation.json
    diagnostics/NAME/diagnosticInformation.json
    policy fragments/NAME/policyFragmentInformation.json and policy.xml
    apis/NAME/apiInformation.json, specification.(yaml|json), policy.xml,
        operations/OPERATION/policy.xml
    products/NAME/productInformation.json, apis.json ([{"name": API}]), policy.xml
    subscriptions/NAME/subscriptionInformation.json

An API's operations are read from its OpenAPI specification (the extractor writes no other
record of them). What cannot be read is an error naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from apimgen.deploy.kinds import kind_for_path
from apimgen.deploy.live import LiveResource
from apimgen.errors import ApimgenError
from apimgen.files import read_bounded

__all__ = ["read_apiops"]

# Artifact folder → (collection under the service, information file).
_FOLDERS = {
    "named values": ("namedValues", "namedValueInformation.json"),
    "backends": ("backends", "backendInformation.json"),
    "loggers": ("loggers", "loggerInformation.json"),
    "diagnostics": ("diagnostics", "diagnosticInformation.json"),
    "policy fragments": ("policyFragments", "policyFragmentInformation.json"),
    "apis": ("apis", "apiInformation.json"),
    "products": ("products", "productInformation.json"),
    "subscriptions": ("subscriptions", "subscriptionInformation.json"),
}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _text(path: Path) -> str:
    try:
        return read_bounded(path).decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ApimgenError(f"{path}: cannot read: {error}") from None


def _document(path: Path) -> Any:
    text = _text(path)
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ApimgenError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}",
            hint="the APIOps extractor writes these files; re-extract or fix it by hand",
        ) from None


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.found: dict[str, LiveResource] = {}

    def add(self, path: str, properties: dict[str, Any]) -> None:
        kind = kind_for_path(path)
        if kind is not None:
            self.found[path] = LiveResource(path, kind, properties)

    def policy(self, path: str, file: Path) -> None:
        if file.is_file():
            self.add(path, {"format": "rawxml", "value": _text(file)})

    def information(self, folder: Path, file_name: str) -> tuple[str, dict[str, Any]]:
        """The resource's name (the file's, else its folder's) and its properties."""
        file = folder / file_name
        if not file.is_file():
            raise ApimgenError(
                f"{file}: missing", hint=f"every folder under {folder.parent.name}/ has one"
            )
        document = _document(file)
        if not isinstance(document, dict):
            raise ApimgenError(f"{file}: expected a JSON object with properties")
        properties = document.get("properties", document)
        return str(document.get("name") or folder.name), dict(properties or {})

    def read(self) -> dict[str, LiveResource]:
        self.policy("policies/policy", self.root / "policy.xml")
        for folder_name, (collection, info) in _FOLDERS.items():
            base = self.root / folder_name
            if not base.is_dir():
                continue
            for folder in sorted(p for p in base.iterdir() if p.is_dir()):
                name, properties = self.information(folder, info)
                path = f"{collection}/{name}"
                if collection == "policyFragments":
                    properties["value"] = _text(folder / "policy.xml")
                self.add(path, properties)
                if collection == "apis":
                    self.policy(f"{path}/policies/policy", folder / "policy.xml")
                    self.operations(path, folder)
                elif collection == "products":
                    self.policy(f"{path}/policies/policy", folder / "policy.xml")
                    self.product_apis(path, folder / "apis.json")
        return self.found

    def product_apis(self, path: str, file: Path) -> None:
        if not file.is_file():
            return
        links = _document(file)
        for link in links if isinstance(links, list) else []:
            name = link.get("name") if isinstance(link, dict) else link
            if name:
                self.add(f"{path}/apis/{name}", {})

    def operations(self, path: str, folder: Path) -> None:
        specification = next(
            (folder / f"specification.{s}" for s in ("yaml", "yml", "json")
             if (folder / f"specification.{s}").is_file()),
            None,
        )  # fmt: skip
        if specification is None:
            return
        document = _document(specification)
        paths = document.get("paths") if isinstance(document, dict) else None
        for template, methods in (paths or {}).items():
            for method, operation in (methods or {}).items():
                if method not in _METHODS or not isinstance(operation, dict):
                    continue
                name = str(operation.get("operationId") or f"{method}-{template}")
                operation_path = f"{path}/operations/{name}"
                self.add(
                    operation_path,
                    {
                        "displayName": operation.get("summary") or name,
                        "method": method.upper(),
                        "urlTemplate": template,
                    },
                )
                self.policy(
                    f"{operation_path}/policies/policy",
                    folder / "operations" / name / "policy.xml",
                )


def read_apiops(root: Path) -> dict[str, LiveResource]:
    """The resources an APIOps extractor folder holds, as a live read would give them."""
    if not root.is_dir():
        raise ApimgenError(f"{root}: not a folder", hint="give the extractor's output folder")
    found = _Reader(root).read()
    if not found:
        raise ApimgenError(
            f"{root}: no APIOps artifacts found",
            hint="expected the extractor's layout: apis/, backends/, products/, policy.xml, ...",
        )
    return found
