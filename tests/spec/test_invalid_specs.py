"""Every invalid spec in the catalogue fails with exactly its golden, located error output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(p.name for p in INVALID.glob("*.yaml"))


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES)
def test_invalid_spec_reports_golden_errors(
    case: str, snapshot: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(INVALID)
    result = run_cli("validate", case)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    snapshot.snapshot_dir = INVALID  # type: ignore[attr-defined]
    snapshot.assert_match(result.stderr, case.removesuffix(".yaml") + ".err")  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", CASES)
def test_invalid_spec_json_lists_the_same_errors(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.chdir(INVALID)
    result = run_cli("validate", case, "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["schema"] == "apimgen.validate/v1"
    assert document["ok"] is False
    assert document["errors"], "a failing spec reports at least one error"
    golden = (INVALID / (case.removesuffix(".yaml") + ".err")).read_text()
    for error in document["errors"]:
        assert error["message"] in golden


def test_the_two_passes_the_readme_describes(tmp_path: Path) -> None:
    """A wrong type and a dangling backend in one file: the schema pass reports the type
    (only), and once it is fixed, the reference pass reports the backend."""
    from tests.conftest import make_spec, write_spec

    spec = make_spec(apis=[{"name": "openai", "path": "openai", "backend": "nowhere"}])
    spec["gateway"]["capacity"] = "two"
    path = write_spec(tmp_path / "spec.yaml", spec)
    first = run_cli("validate", str(path))
    assert "gateway.capacity" in first.stderr and "nowhere" not in first.stderr
    spec["gateway"]["capacity"] = 1
    write_spec(path, spec)
    second = run_cli("validate", str(path))
    assert "unknown backend or pool 'nowhere'" in second.stderr
