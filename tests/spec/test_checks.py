"""Cross-reference checks and warnings that need the whole spec (valid cases and warnings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apimgen.errors import Severity, SpecError
from apimgen.spec.load import load_spec
from tests.conftest import make_spec, run_cli, write_spec


def _embeddings_backends() -> list[dict[str, object]]:
    return [
        {"name": "aoai", "url": "https://test.openai.azure.com/openai"},
        {"name": "emb", "url": "https://test.openai.azure.com/openai/deployments/e/embeddings"},
    ]


def _cache_spec(threshold: float) -> dict[str, object]:
    api = {
        "name": "openai",
        "path": "openai",
        "backend": "aoai",
        "semantic_cache": {"score_threshold": threshold, "embeddings_backend": "emb"},
    }
    return make_spec(backends=_embeddings_backends(), apis=[api], redis={"name": "c"})


def test_score_threshold_above_point_two_warns_but_passes(tmp_path: Path) -> None:
    loaded = load_spec(write_spec(tmp_path / "s.yaml", _cache_spec(0.5)))
    (warning,) = loaded.warnings
    assert warning.severity is Severity.WARNING
    assert warning.key_path == "apis[0].semantic_cache.score_threshold"
    assert warning.location.line > 0


def test_score_threshold_at_point_two_is_quiet(tmp_path: Path) -> None:
    assert load_spec(write_spec(tmp_path / "s.yaml", _cache_spec(0.2))).warnings == ()


def test_warning_is_printed_and_exit_code_stays_zero(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "s.yaml", _cache_spec(0.8))
    result = run_cli("validate", str(path))
    assert result.exit_code == 0
    assert "warning: apis[0].semantic_cache.score_threshold" in result.stderr
    quiet = run_cli("-q", "validate", str(path))
    assert quiet.exit_code == 0
    assert quiet.stderr == ""


def test_pool_without_breakers_warns_about_failover(tmp_path: Path) -> None:
    spec = make_spec(
        backends=[
            {"name": "a", "url": "https://a.openai.azure.com/openai"},
            {"name": "b", "url": "https://b.openai.azure.com/openai"},
        ],
        pools=[{"name": "p", "members": [{"backend": "a"}, {"backend": "b", "priority": 2}]}],
        apis=[{"name": "openai", "path": "openai", "backend": "p"}],
    )
    loaded = load_spec(write_spec(tmp_path / "s.yaml", spec))
    assert {w.key_path for w in loaded.warnings} == {
        "pools[0].members[0].backend",
        "pools[0].members[1].backend",
    }


def test_mixed_auth_in_a_pool_is_an_error(tmp_path: Path) -> None:
    spec = make_spec(
        backends=[
            {"name": "a", "url": "https://a.openai.azure.com/openai"},
            {
                "name": "b",
                "url": "https://b.openai.azure.com/openai",
                "auth": {
                    "type": "api_key",
                    "key_vault_secret": "https://kv1.vault.azure.net/secrets/b-key",
                },
            },
        ],
        pools=[{"name": "p", "members": [{"backend": "a"}, {"backend": "b"}]}],
        apis=[{"name": "openai", "path": "openai", "backend": "p"}],
    )
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path / "s.yaml", spec))
    assert "authenticate differently" in info.value.diagnostics[0].message


def _api_key_backend() -> dict[str, object]:
    return {
        "name": "aoai",
        "url": "https://a.openai.azure.com/openai",
        "auth": {
            "type": "api_key",
            "key_vault_secret": "https://kv1.vault.azure.net/secrets/aoai-key",
        },
    }


def test_api_key_backend_creates_a_key_vault_named_value(tmp_path: Path) -> None:
    from apimgen.pipeline import build_gateway

    spec = make_spec(backends=[_api_key_backend()])
    gateway = build_gateway(load_spec(write_spec(tmp_path / "s.yaml", spec)))
    (named_value,) = gateway.named_values
    assert named_value.name == "aoai-key"
    assert named_value.secret and named_value.value is None
    assert gateway.backends[0].credential_header == ("api-key", "aoai-key")


def test_generated_named_value_name_cannot_be_taken(tmp_path: Path) -> None:
    spec = make_spec(
        backends=[_api_key_backend()], named_values=[{"name": "aoai-key", "value": "x"}]
    )
    with pytest.raises(SpecError, match="1 error") as info:
        load_spec(write_spec(tmp_path / "s.yaml", spec))
    assert "reserved" in info.value.diagnostics[0].message


def test_user_fragment_must_have_a_fragment_root(tmp_path: Path) -> None:
    (tmp_path / "frag.xml").write_text("<policies/>")
    spec = make_spec(fragments=[{"name": "mine", "file": "frag.xml"}])
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path / "s.yaml", spec))
    assert "not a policy fragment" in info.value.diagnostics[0].message


def test_durations_accept_several_spellings(tmp_path: Path) -> None:
    from apimgen.spec.types import parse_duration

    assert [parse_duration(v) for v in (90, "90s", "5m", "1h30m", "PT1M", "pt2h")] == [
        90,
        90,
        300,
        5400,
        60,
        7200,
    ]
    for bad in ("", "PT", "5 minutes", -1, True, 1.5):
        with pytest.raises(ValueError):
            parse_duration(bad)
