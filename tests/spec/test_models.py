"""The spec models document themselves: every field described, frozen, unknown keys refused."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from apimgen.spec import document, policies, resources
from apimgen.spec.document import Spec
from apimgen.spec.schema import spec_json_schema
from tests.conftest import EXAMPLES, make_spec


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for module in (document, policies, resources):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    missing = [name for name, info in model.model_fields.items() if not info.description]
    assert not missing, f"{model.__name__} fields without description: {missing}"


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_models_are_frozen_and_strict(model: type[BaseModel]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


def test_minimal_spec_gets_sane_defaults() -> None:
    spec = Spec.model_validate(make_spec())
    assert spec.gateway.sku.value == "StandardV2"
    assert spec.gateway.identity == "system_assigned"
    assert spec.backends[0].auth.type == "managed_identity"
    assert spec.apis[0].subscription_key_header == "api-key"
    assert spec.apis[0].retry.count == "auto"


def test_schema_is_valid_json_schema_and_describes_every_property() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(spec_json_schema())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "apimgen spec"
    assert "global" in schema["properties"]


def test_examples_validate_against_the_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads(spec_json_schema())
    for path in sorted(EXAMPLES.glob("*/gateway.yaml")):
        data = yaml.safe_load(path.read_text())
        jsonschema.Draft202012Validator(schema).validate(data)


def test_schema_output_is_deterministic() -> None:
    assert spec_json_schema() == spec_json_schema()
