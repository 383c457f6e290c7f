"""No secret ever lands in an artifact, and deployment order follows the documented gotchas."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apimgen.errors import SpecError
from apimgen.pipeline import render_spec
from tests.conftest import make_spec, write_spec
from tests.iac.conftest import EXAMPLE_IDS, rendered
from tests.iac.test_bicep import parsed as parsed_bicep
from tests.iac.test_terraform import _unquote, blocks

SECRET_ATTRIBUTES = re.compile(
    r"listKeys|primary_access_key|InstrumentationKey|instrumentation_key"
)


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_outputs_and_parameters_carry_no_secrets(example: str) -> None:
    files = rendered(example)
    for name, text in files.items():
        if name.endswith((".bicepparam", ".tfvars")):
            assert not SECRET_ATTRIBUTES.search(text), name
            assert "password" not in text.lower(), name
    for name in (n for n in files if n.endswith(".bicep")):
        for output in parsed_bicep(example, name).get("outputs", {}).values():
            assert not SECRET_ATTRIBUTES.search(str(output)), name
    outputs = files["terraform/outputs.tf"]
    assert not SECRET_ATTRIBUTES.search(outputs)


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_connection_strings_are_built_at_deployment_never_written(example: str) -> None:
    for name, text in rendered(example).items():
        for match in re.finditer(r"password=([^,'\"]*)", text):
            assert match.group(1).startswith("${"), f"{name}: literal password"


def test_api_keys_come_only_from_key_vault(tmp_path: Path) -> None:
    secret_uri = "https://kv1.vault.azure.net/secrets/aoai-key"
    spec = make_spec(
        backends=[
            {
                "name": "aoai",
                "url": "https://a.openai.azure.com/openai",
                "auth": {"type": "api_key", "key_vault_secret": secret_uri},
            }
        ]
    )
    _, files = render_spec(write_spec(tmp_path / "s.yaml", spec))
    backends_tf = files["terraform/backends.tf"]
    assert 'secret_id = "https://kv1.vault.azure.net/secrets/aoai-key"' in backends_tf
    assert 'api-key = "{{aoai-key}}"' in backends_tf
    bicep = files["bicep/modules/backends.bicep"]
    assert f"secretIdentifier: '{secret_uri}'" in bicep
    assert "'{{aoai-key}}'" in bicep
    assert "secret: true" in bicep


def _policy_blocks(example: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (label, body)
        for _, tf_type, label, body in blocks(example, "resource")
        if tf_type.endswith("_policy") or tf_type == "azurerm_api_management_policy_fragment"
    ]


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_policies_depend_on_what_their_xml_names(example: str) -> None:
    files = rendered(example)
    symbols = {
        _unquote(str(body.get("name", ""))): label
        for _, tf_type, label, body in blocks(example, "resource")
        if tf_type
        in (
            "azurerm_api_management_backend",
            "azapi_resource",
            "azurerm_api_management_policy_fragment",
            "azurerm_api_management_named_value",
        )
    }
    for label, body in _policy_blocks(example):
        source = str(body.get("xml_content") or body.get("value"))
        path = re.search(r"policies/([^\"]+)", source)
        assert path, label
        xml = files[f"policies/{path.group(1)}"]
        needed = re.findall(r'(?:backend-id|fragment-id)="([^"@]+)"', xml)
        needed += re.findall(r"\{\{([^{}]+)\}\}", xml)
        depends = " ".join(str(d) for d in body.get("depends_on", []))  # type: ignore[union-attr]
        for name in needed:
            assert f".{symbols[name]}}}" in depends or f".{symbols[name]}" in depends, (
                f"{label} uses {name} but does not depend on it"
            )


def test_bicep_modules_order_backends_before_apis() -> None:
    modules = parsed_bicep("production", "bicep/main.bicep")["modules"]
    assert "backends" in modules["apis"]["config"]["dependsOn"]
    assert "apis" in modules["products"]["config"]["dependsOn"]
    seed = parsed_bicep("seed", "bicep/main.bicep")["modules"]
    assert "semantic_cache" in seed["apis"]["config"]["dependsOn"]


def test_model_deployments_of_one_account_are_serialised() -> None:
    text = rendered("seed")["bicep/modules/openai.bicep"]
    second = text.index("resource deployment_contoso_aoai_swc_text_embedding_3_small")
    assert "dependsOn: [\n    deployment_contoso_aoai_swc_gpt_4o_mini\n  ]" in text[second:]


def test_premium_v2_needs_an_explicit_preview_opt_in(tmp_path: Path) -> None:
    gateway = {**make_spec()["gateway"], "sku": "PremiumV2"}
    with pytest.raises(SpecError) as info:
        render_spec(write_spec(tmp_path / "a.yaml", make_spec(gateway=gateway)))
    assert "allow_preview_api" in info.value.diagnostics[0].message
    gateway["allow_preview_api"] = True
    _, files = render_spec(write_spec(tmp_path / "b.yaml", make_spec(gateway=gateway)))
    assert (
        "'Microsoft.ApiManagement/service@2025-03-01-preview'" in files["bicep/modules/apim.bicep"]
    )
    assert 'apim_sku            = "PremiumV2"' in files["terraform/terraform.tfvars"]
