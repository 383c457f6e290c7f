"""checkov finds nothing in the rendered IaC that is not accepted, with a reason, in place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.iac.conftest import EXAMPLE_IDS, write_rendered


def _checkov() -> str | None:
    candidates = [
        os.environ.get("APIMGEN_CHECKOV"),
        str(ROOT / ".venv-checkov" / "bin" / "checkov"),
        shutil.which("checkov"),
    ]
    return next((c for c in candidates if c and Path(c).exists()), None)


@pytest.fixture(scope="module")
def checkov_reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    checkov = _checkov()
    if checkov is None:
        pytest.skip("checkov is not installed (`make checkov` puts it in .venv-checkov)")
    root = tmp_path_factory.mktemp("iac")
    # --skip-download and BC_SKIP_MAPPING keep checkov from calling its vendor's API: tests
    # never leave the machine. Where unshare works, a network namespace makes sure of it.
    arguments = [checkov, "--skip-download", "--compact", "-o", "json"]
    arguments += ["--framework", "bicep", "terraform"]
    for example in EXAMPLE_IDS:
        arguments += ["-d", str(write_rendered(example, root / example))]
    isolate = shutil.which("unshare")
    if isolate and subprocess.run([isolate, "-n", "true"], check=False).returncode == 0:
        arguments = [isolate, "-n", *arguments]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    done = subprocess.run(arguments, capture_output=True, text=True, check=False, env=env)
    assert done.stdout.strip(), done.stderr
    reports: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    text, position = done.stdout, 0
    while position < len(text):  # one JSON document per scanned directory
        if text[position].isspace():
            position += 1
            continue
        document, position = decoder.raw_decode(text, position)
        reports += document if isinstance(document, list) else [document]
    return reports


def test_checkov_scanned_both_formats(checkov_reports: list[dict[str, Any]]) -> None:
    # checkov omits a format's report for a directory where none of its checks applied.
    kinds = [report["check_type"] for report in checkov_reports]
    assert set(kinds) == {"bicep", "terraform"}
    assert kinds.count("terraform") == len(EXAMPLE_IDS)
    for report in checkov_reports:
        assert report["summary"]["parsing_errors"] == 0
        assert report["summary"]["passed"] > 0


def test_no_failed_checks(checkov_reports: list[dict[str, Any]]) -> None:
    failed = [
        f"{r['check_type']}: {f['check_id']} {f['check_name']} on {f['resource']} "
        f"({f['file_path']})"
        for r in checkov_reports
        for f in r["results"].get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)


def test_every_skip_carries_a_reason(checkov_reports: list[dict[str, Any]]) -> None:
    skipped = [f for r in checkov_reports for f in r["results"].get("skipped_checks", [])]
    assert skipped, "the public-gateway findings are accepted explicitly"
    for finding in skipped:
        reason = finding.get("suppress_comment") or finding["check_result"].get("suppress_comment")
        assert reason and len(reason) > 20, finding["check_id"]
