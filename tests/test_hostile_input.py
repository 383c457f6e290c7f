"""Hostile input: every reader ends in a located error within a fixed time and memory.

Each case runs the real console script in a subprocess with an address-space limit and a time
limit, as CI would run it on a pull request's files. Before these bounds, the YAML case grew to
6.4 GB and ran past 60 s, deep nesting ended in "internal error: RecursionError", and the regular
expression hung the simulation.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from apimgen.errors import ExitCode
from apimgen.limits import (
    EXPRESSION_MAX_DEPTH,
    FILE_MAX_BYTES,
    POLICY_MAX_DEPTH,
    YAML_MAX_DEPTH,
    YAML_MAX_NODES,
)
from apimgen.spec.yaml_source import parse_yaml
from tests.conftest import EXAMPLES, make_spec, write_spec
from tests.simulate.test_cli_simulate import _folder_scenario

pytestmark = pytest.mark.slow

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space, so the whole interpreter counts
TIME_LIMIT = 30.0  # seconds: generous for a loaded two-core CI machine


ONE_CONSUMER = "consumers: [{name: c, subscription: s, arrival: {kind: constant, per_minute: 6}}]\n"


def run_bounded(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """``apimgen ARGS`` in a subprocess held to MEMORY_LIMIT and TIME_LIMIT."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    environment = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    environment.pop("APIMGEN_ALLOW_PATH", None)  # the test suite's own allowance
    environment.pop("APIMGEN_DEBUG", None)
    environment.update(env or {})
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "apimgen", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        preexec_fn=limit,
        check=False,
    )
    completed.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    assert "internal error" not in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


# -- YAML -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "simulate", "lint"])
def test_a_billion_laughs_is_refused_at_the_alias_that_crossed_the_limit(
    tmp_path: Path, command: str
) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs())
    result = run_bounded(command, str(path), cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    # a5 = 9**5 values is where the running total passes the limit; its third alias, *a4,
    # is the one whose expansion crossed it.
    assert "laughs.yaml:6:20: a5[2]" in result.stderr
    assert f"expands to more than {YAML_MAX_NODES:,} values through its aliases" in result.stderr


def test_ordinary_reuse_through_aliases_and_merges_still_loads(tmp_path: Path) -> None:
    data = make_spec()
    text = yaml.safe_dump(data, sort_keys=False)
    text += (
        "x-limit: &limit {key: subscription, tokens_per_minute: 1000}\n"
        "products:\n"
        "  - {name: free, token_limits: [*limit]}\n"
        "  - {name: paid, token_limits: [{<<: *limit, tokens_per_minute: 5000}]}\n"
    )
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    products = parse_yaml(text, "spec.yaml").data["products"]
    assert products[0]["token_limits"] == [{"key": "subscription", "tokens_per_minute": 1000}]
    assert products[1]["token_limits"] == [{"key": "subscription", "tokens_per_minute": 5000}]
    result = run_bounded("validate", str(path), cwd=tmp_path)
    # x-limit is no spec key, and the only complaint: the expanded products were read as usual
    assert "x-limit: unknown key" in result.stderr and "1 error" in result.stderr


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("k: " + "[" * 100_000 + "]" * 100_000 + "\n", "deep.yaml:1:"),
        (
            "".join("  " * i + f"k{i}:\n" for i in range(YAML_MAX_DEPTH + 6)) + "  " * 70 + "v\n",
            f"deep.yaml:{YAML_MAX_DEPTH}:",
        ),
    ],
    ids=["flow", "block"],
)
def test_deeply_nested_yaml_is_refused(tmp_path: Path, text: str, position: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    result = run_bounded("validate", str(path), cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    assert position in result.stderr
    assert "nest" in result.stderr


def test_a_file_past_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as stream:
        stream.truncate(FILE_MAX_BYTES * 8)  # sparse: 128 MiB of nothing
    result = run_bounded("validate", str(path), cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    assert "is larger than 16 MiB" in result.stderr


# -- policy XML and expressions ----------------------------------------------------------------


def _nested_choose(depth: int) -> str:
    return (
        "<policies><inbound><base />"
        + '<choose><when condition="@(true)">' * depth
        + '<set-variable name="x" value="1" />'
        + "</when></choose>" * depth
        + "</inbound><backend><forward-request /></backend><outbound /><on-error /></policies>"
    )


def test_five_thousand_nested_chooses_are_a_located_error_in_lint_and_simulate(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "global.xml").write_text(_nested_choose(5000))
    lint = run_bounded("lint", str(folder / "global.xml"), cwd=tmp_path)
    assert lint.returncode == ExitCode.ERROR
    # <policies>, <inbound>, then choose/when pairs: the first element past the limit
    assert f"nested more than {POLICY_MAX_DEPTH} elements deep" in lint.stdout
    assert "global.xml:1:" in lint.stdout
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "policies: {folder: policies}\nduration: 1m\nbackends: {b: {tpm: 1000}}\n" + ONE_CONSUMER
    )
    simulate = run_bounded("simulate", str(scenario), cwd=tmp_path)
    assert simulate.returncode == ExitCode.ERROR
    assert f"nested more than {POLICY_MAX_DEPTH} elements deep" in simulate.stderr


def test_a_policy_document_over_apims_own_limit_is_refused(tmp_path: Path) -> None:
    padding = "<!--" + "x" * (300 * 1024) + "-->"
    path = tmp_path / "big.xml"
    path.write_text(_nested_choose(1).replace("<inbound>", "<inbound>" + padding))
    result = run_bounded("lint", str(path), cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    assert "APIM refuses documents over 256 KiB" in result.stdout


@pytest.mark.parametrize(
    "expression",
    ["(" * 5000 + "1" + ")" * 5000, " + ".join(["1"] * 5000), "-" * 5000 + "1"],
    ids=["brackets", "operator-chain", "unary-chain"],
)
def test_deeply_nested_expressions_are_a_located_lint_error(
    tmp_path: Path, expression: str
) -> None:
    path = tmp_path / "deep.xml"
    path.write_text(_nested_choose(1).replace('value="1"', f'value="@({expression})"', 1))
    result = run_bounded("lint", str(path), cwd=tmp_path)
    if expression.startswith("("):
        # parentheses around a literal build no tree at all: nothing to refuse
        assert result.returncode == ExitCode.OK, result.stdout
        return
    assert result.returncode == ExitCode.ERROR
    assert f"nested more than {EXPRESSION_MAX_DEPTH} levels deep" in result.stdout
    assert "deep.xml:1:" in result.stdout


# -- regular expressions ------------------------------------------------------------------------

_APP_HEADER = 'context.Request.Headers.GetValueOrDefault("x-app", "")'
_REGEX_API = (
    "<policies>\n"
    "  <inbound>\n"
    "    <base />\n"
    '    <set-variable name="app-ok" '
    f'value="@(Regex.IsMatch({_APP_HEADER}, &quot;^(a|aa)+$&quot;))" />\n'
    '    <set-backend-service backend-id="b" />\n'
    "  </inbound>\n"
    "  <backend><base /></backend><outbound><base /></outbound>\n"
    '  <on-error><base /><return-response><set-status code="400" reason="Bad app id" />'
    "</return-response></on-error>\n"
    "</policies>\n"
)


def test_a_backtracking_regex_times_out_into_on_error(tmp_path: Path) -> None:
    consumer = {"subscription": "s1", "arrival": {"kind": "constant", "per_minute": 6}}
    scenario = _folder_scenario(
        tmp_path,
        _REGEX_API,
        {
            "duration": "1m",
            "backends": {"b": {"tpm": 100000}},
            "consumers": [
                {"name": "almost", **consumer, "headers": {"x-app": "a" * 60 + "b"}},
                {"name": "fine", **consumer, "subscription": "s2", "headers": {"x-app": "aaaa"}},
            ],
        },
    )
    result = run_bounded("simulate", str(scenario), "--json", cwd=tmp_path)
    assert result.returncode == ExitCode.OK, result.stderr
    report = json.loads(result.stdout)
    # every call of the almost-matching caller ends in on-error's 400; the other's are served
    assert report["consumers"]["almost"]["statuses"] == {"400": 6}
    assert report["consumers"]["fine"]["statuses"] == {"200": 6}
    [error] = report["errors"]
    assert error["count"] == 6
    assert "RegexMatchTimeoutException" in error["error"]
    assert "'^(a|aa)+$'" in error["error"]
    assert "policies/apis/api.xml:4:5" in error["error"]
    # a pair that timed out once times out at once after: six calls cost one timeout
    assert result.elapsed < TIME_LIMIT / 2
    explained = run_bounded("simulate", str(scenario), "--explain", "almost:1", cwd=tmp_path)
    assert "raised ExpressionValueEvaluationFailure" in explained.stdout
    assert "RegexMatchTimeoutException" in explained.stdout
    assert "@(Regex.IsMatch(" in explained.stdout


# -- paths --------------------------------------------------------------------------------------


def test_a_fragment_file_outside_the_specs_folder_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "project" / "gateway"
    folder.mkdir(parents=True)
    secret = tmp_path / "secret.xml"
    secret.write_text("<fragment><set-variable name='token' value='hunter2' /></fragment>")
    spec = make_spec(fragments=[{"name": "leak", "file": "../../secret.xml"}])
    write_spec(folder / "gateway.yaml", spec)
    result = run_bounded("validate", str(folder / "gateway.yaml"), cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    assert "fragments[0].file: '../../secret.xml' is outside" in result.stderr
    assert "--allow-path" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    allowed = run_bounded(
        "validate", str(folder / "gateway.yaml"), "--allow-path", str(tmp_path), cwd=tmp_path
    )
    assert allowed.returncode == ExitCode.OK, allowed.stderr
    by_env = run_bounded(
        "validate",
        str(folder / "gateway.yaml"),
        cwd=tmp_path,
        env={"APIMGEN_ALLOW_PATH": str(tmp_path)},
    )
    assert by_env.returncode == ExitCode.OK, by_env.stderr


def test_a_root_marker_lets_sibling_folders_share_files(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "scenarios").mkdir()
    write_spec(tmp_path / "specs" / "gateway.yaml", make_spec())
    scenario = tmp_path / "scenarios" / "s.yaml"
    scenario.write_text("policies: {spec: ../specs/gateway.yaml}\nduration: 1m\n" + ONE_CONSUMER)
    refused = run_bounded("simulate", str(scenario), cwd=tmp_path)
    assert refused.returncode == ExitCode.ERROR
    assert "s.yaml:1:18: policies.spec: '../specs/gateway.yaml' is outside" in refused.stderr
    (tmp_path / ".apimgen-root").write_text("")
    accepted = run_bounded("simulate", str(scenario), cwd=tmp_path)
    assert accepted.returncode == ExitCode.OK, accepted.stderr


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("prompts_file", "../../etc/hostname", "consumers[0].prompts_file: '../../etc/hostname'"),
        ("schema", "/etc/hostname", "schemas.chat: '/etc/hostname' is outside"),
        ("spec", "/etc/hostname", "policies.spec: '/etc/hostname' is outside"),
        ("folder", "../../../../etc", "policies.folder: '../../../../etc' is outside"),
    ],
)
def test_files_a_scenario_names_stay_in_its_tree(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    scenario: dict[str, Any] = {
        "policies": {"spec": str(EXAMPLES / "seed" / "gateway.yaml")},
        "duration": "1m",
        "consumers": [
            {"name": "c", "subscription": "s", "arrival": {"kind": "constant", "per_minute": 6}}
        ],
    }
    if key == "prompts_file":
        scenario["consumers"][0]["prompts_file"] = value
    elif key == "schema":
        scenario["schemas"] = {"chat": value}
    else:
        scenario["policies"] = {key: value}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    # the spec named by absolute path is allowed here, so each case fails on its own key
    allow = {} if key in ("spec", "folder") else {"APIMGEN_ALLOW_PATH": str(EXAMPLES)}
    result = run_bounded("simulate", str(path), cwd=tmp_path, env=allow)
    assert result.returncode == ExitCode.ERROR
    assert message in result.stderr


def test_a_symlink_in_a_policy_folder_may_not_lead_out_of_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.xml"
    outside.write_text(_nested_choose(1))
    folder = tmp_path / "project" / "policies"
    folder.mkdir(parents=True)
    (folder / "global.xml").symlink_to(outside)
    scenario = tmp_path / "project" / "s.yaml"
    scenario.write_text(
        "policies: {folder: policies}\nduration: 1m\nbackends: {b: {tpm: 1000}}\n" + ONE_CONSUMER
    )
    result = run_bounded("simulate", str(scenario), cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    assert "outside the policy folder" in result.stderr


def test_the_examples_reach_their_specs_through_their_root_marker() -> None:
    result = run_bounded(
        "simulate", str(EXAMPLES / "scenarios" / "seed-step1.yaml"), "-q", cwd=EXAMPLES.parent
    )
    assert result.returncode == ExitCode.OK, result.stderr


# -- one budget per run -------------------------------------------------------------------------


def test_timeout_stops_a_long_run_and_marks_the_partial_result(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "global.xml").write_text(_nested_choose(1))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "policies: {folder: policies}\nduration: 24h\nbackends: {b: {tpm: 100000000}}\n"
        "consumers: [{name: c, subscription: s, arrival: {kind: constant, per_minute: 600}}]\n"
        "expect: [{name: always, consumer: c, measure: status_429, equals: 0}]\n"
    )
    result = run_bounded("simulate", str(scenario), "--json", "--timeout", "2", cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    report = json.loads(result.stdout)
    assert 0 <= report["stopped_at_seconds"] < 24 * 3600
    assert report["passed"] is False  # its one expectation held, over the part that ran
    assert report["expectations"][0]["passed"] is True
    assert report["requests"] == report["consumers"]["c"]["requests"] > 0
    assert "--timeout 2: s stopped at simulated second" in result.stderr
    assert "the result shown is partial" in result.stderr
    assert result.elapsed < TIME_LIMIT / 2
    table = run_bounded("simulate", str(scenario), "--timeout", "2", cwd=tmp_path)
    assert "PARTIAL: --timeout stopped this run at simulated second" in table.stdout


# -- saved plans --------------------------------------------------------------------------------


def test_a_deeply_nested_plan_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = run_bounded("apply", str(path), "--auto-approve", cwd=tmp_path)
    assert result.returncode == ExitCode.ERROR
    assert "not a plan file: nested too deeply" in result.stderr
