"""The checkers the IaC tests rely on do catch what they are meant to catch."""

from __future__ import annotations

from tests.iac.arm_properties import unknown_properties
from tests.iac.test_terraform import SCHEMA, _arguments_problems


def test_sdk_check_flags_misspelt_and_unknown_properties() -> None:
    body = {
        "properties": {
            "type": "Pool",
            "pool": {"services": [{"id": "x", "priority": 1, "wieght": 2}]},
            "circuitBreaker": {"rules": [{"name": "r", "tripDurration": "PT1M"}]},
        },
        "sku": {"name": "x"},
    }
    assert unknown_properties("Microsoft.ApiManagement/service/backends", body) == [
        "properties.pool.services[0].wieght",
        "properties.circuitBreaker.rules[0].tripDurration",
        "sku",
    ]


def test_sdk_check_reads_typespec_models_too() -> None:
    body = {
        "location": "x",
        "properties": {"sku": {"name": "PerGB2018", "tier": 1}, "retention": 1},
    }
    assert unknown_properties("Microsoft.OperationalInsights/workspaces", body) == [
        "properties.sku.tier",
        "properties.retention",
    ]


def test_sdk_check_accepts_the_documented_unpublished_property() -> None:
    body = {
        "kind": "web",
        "properties": {"Application_Type": "web", "CustomMetricsOptedInType": "WithDimensions"},
    }
    assert unknown_properties("Microsoft.Insights/components", body) == []


def test_schema_check_flags_unknown_and_missing_arguments() -> None:
    schema = SCHEMA["resources"]["azurerm_api_management_backend"]
    body = {
        "name": '"b"',
        "api_management_name": "x",
        "resource_group_name": "y",
        "protocol": '"http"',
        "url": '"https://x"',
        "circuit_breaker_rule": [{"name": '"r"', "trip_duration": '"PT1M"', "tripp": 1}],
        "timeout": 3,
    }
    problems = _arguments_problems(body, schema, "b")
    assert "b: unknown argument 'timeout'" in problems
    assert "b.circuit_breaker_rule: unknown argument 'tripp'" in problems
    assert "b.circuit_breaker_rule: missing required argument 'failure_condition'" in problems
    del body["url"]
    assert "b: missing required argument 'url'" in _arguments_problems(body, schema, "b")
