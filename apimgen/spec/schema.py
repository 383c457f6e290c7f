"""The spec's JSON Schema, generated from the models so it can never drift from them."""

from __future__ import annotations

import json

from apimgen.spec.document import Spec

__all__ = ["SCHEMA_ID", "spec_json_schema"]

SCHEMA_ID = "https://apimgen.dev/schema/spec-v1.json"


def spec_json_schema() -> str:
    """Draft 2020-12 schema text, stable across runs (sorted keys, trailing newline)."""
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID}
    document.update(schema)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
