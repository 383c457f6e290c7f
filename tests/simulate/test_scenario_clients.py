"""Scenarios that say what real clients and templates do: Bicep and Terraform placeholders in
hand-written policies, and every call written out afterwards (--requests)."""

from __future__ import annotations

import csv
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from apimgen.errors import ExitCode
from tests.conftest import run_cli

# A policy as a Bicep module loads it (replace(loadTextContent(...), '{tpm}', ...)) with a
# Terraform-style pool id beside it.
TEMPLATE = """<policies>
  <inbound>
    <base />
    <set-backend-service backend-id="${backend_pool_id}" />
    <azure-openai-token-limit counter-key="@(context.Subscription.Id)"
        tokens-per-minute="{tpm}" estimate-prompt-tokens="false" />
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>
"""


def _scenario(tmp_path: Path, api_xml: str, scenario: dict[str, Any]) -> Path:
    apis = tmp_path / "policies" / "apis"
    apis.mkdir(parents=True, exist_ok=True)
    (apis / "api.xml").write_text(api_xml)
    path = tmp_path / "s.yaml"
    policies = {"folder": "policies", **scenario.pop("policies", {})}
    path.write_text(yaml.safe_dump({"policies": policies, **scenario}))
    return path


_CALLS: dict[str, Any] = {
    "duration": "1m",
    "backends": {"b": {"tpm": 100000}},
    "consumers": [{"name": "c", "arrival": {"kind": "constant", "per_minute": 6}}],
}


def test_a_template_runs_with_its_placeholders_filled(tmp_path: Path) -> None:
    scenario = {**_CALLS, "policies": {"placeholders": {"tpm": "1000", "backend_pool_id": "b"}}}
    result = run_cli("simulate", str(_scenario(tmp_path, TEMPLATE, scenario)), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    assert report["backends"]["b"]["requests"] >= 1, "the pool id reached set-backend-service"
    assert report["consumers"]["c"]["statuses"].get("429", 0) >= 1, "{tpm} became 1000"


def test_an_unfilled_placeholder_is_located_and_named(tmp_path: Path) -> None:
    scenario = {**_CALLS, "policies": {"placeholders": {"backend_pool_id": "b"}}}
    result = run_cli("simulate", str(_scenario(tmp_path, TEMPLATE, scenario)))
    assert result.exit_code == ExitCode.ERROR
    assert "policies/apis/api.xml:6:28: placeholder '{tpm}' is not filled" in result.stderr
    assert "policies.placeholders" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_cli("simulate", str(_scenario(tmp_path / "b", TEMPLATE, dict(_CALLS))))
    assert missing.exit_code == ExitCode.ERROR
    assert "api.xml:4:38: placeholder '${backend_pool_id}' is not filled" in missing.stderr


def test_a_rewrite_uri_template_is_not_a_placeholder(tmp_path: Path) -> None:
    policy = TEMPLATE.replace(
        "<base />\n    <set-backend",
        '<base />\n    <rewrite-uri template="/deployments/{deployment-id}/chat/completions" />'
        "\n    <set-backend",
    )
    scenario = {**_CALLS, "policies": {"placeholders": {"tpm": "1000", "backend_pool_id": "b"}}}
    result = run_cli("simulate", str(_scenario(tmp_path, policy, scenario)))
    assert result.exit_code == ExitCode.OK, result.output


def _limited(tmp_path: Path) -> Path:
    """Six calls a minute against 1000 tokens a minute: some answered, some refused."""
    scenario = {**_CALLS, "policies": {"placeholders": {"tpm": "1000", "backend_pool_id": "b"}}}
    scenario["backends"] = {"b": {"tpm": 100000, "region": "westeurope"}}
    return _scenario(tmp_path, TEMPLATE, scenario)


def test_every_request_is_written_as_a_json_line(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "requests.jsonl"
    result = run_cli("simulate", str(_limited(tmp_path)), "--json", "--requests", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == report["requests"] == 6
    assert not list(out.parent.glob(".*partial")), "the partial file was renamed into place"
    statuses = report["consumers"]["c"]["statuses"]
    assert sum(r["status"] == 200 for r in records) == statuses["200"]
    assert sum(r["status"] == 429 for r in records) == statuses["429"]
    answered = next(r for r in records if r["status"] == 200)
    assert answered["backend"] == "b" and answered["consumer"] == "c"
    assert answered["tokens"] == answered["prompt_tokens"] + answered["completion_tokens"] > 0
    assert answered["headers"]["x-ms-region"] == "West Europe"
    assert answered["latency_s"] == round(answered["answered_s"] - answered["arrived_s"], 6)
    assert answered["time"].startswith("2026-01-05T09:0") and answered["time"].endswith("Z")
    assert answered["refused_by"] is None
    refused = next(r for r in records if r["status"] == 429)
    assert refused["refused_by"] == "azure-openai-token-limit"
    assert refused["reason"] == "OpenAITokenLimitExceeded"
    assert refused["backend"] is None and refused["tokens"] == 0
    assert int(refused["headers"]["Retry-After"]) > 0
    assert [r["arrived_s"] for r in records] == sorted(r["arrived_s"] for r in records)


def test_requests_as_csv_carry_the_same_fields(tmp_path: Path) -> None:
    out = tmp_path / "requests.csv"
    result = run_cli("simulate", str(_limited(tmp_path)), "--requests", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    assert f"requests: {out} (6 records)" in result.stderr + result.stdout
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert {row["status"] for row in rows} == {"200", "429"}
    assert json.loads(rows[0]["headers"])["Content-Type"] == "application/json"


def test_requests_cannot_go_where_no_file_can_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    result = run_cli("simulate", str(_limited(tmp_path)), "--requests", str(blocker / "r.jsonl"))
    assert result.exit_code == ExitCode.ERROR
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    sweep = run_cli(
        "simulate", str(_limited(tmp_path / "s")), "--sweep", "seed=1:2:1", "--requests", "r.jsonl"
    )
    assert sweep.exit_code == ExitCode.ERROR
    assert "--requests does not combine with --sweep" in sweep.stderr


# One call a minute against a limit a single call overshoots: the next call, 20 s later, is
# refused with a Retry-After until the first call's tokens leave the 60 s window.
_LIMIT_POLICY = TEMPLATE.replace("${backend_pool_id}", "b").replace("{tpm}", "100")


def _client_run(tmp_path: Path, client: Any, backend: dict[str, Any] | None = None) -> Any:
    scenario = {
        "duration": "1m",
        "backends": {"b": backend or {"tpm": 100000}},
        "consumers": [
            {
                "name": "app",
                "client": client,
                "arrival": {"kind": "constant", "per_minute": 3},
                "completion_tokens": {"min": 300, "max": 300},
            }
        ],
    }
    out = tmp_path / "requests.jsonl"
    path = _scenario(tmp_path, _LIMIT_POLICY, scenario)
    result = run_cli("simulate", str(path), "--json", "--requests", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return json.loads(result.stdout)["consumers"]["app"], records


def test_the_python_sdk_waits_out_the_retry_after_and_the_call_succeeds(tmp_path: Path) -> None:
    app, records = _client_run(tmp_path, "openai-python")
    client = app["client"]
    assert client["preset"] == "openai-python"
    assert client["calls"] == 3, "three calls the application made"
    assert app["requests"] == len(records) > 3, "more attempts than calls reached the gateway"
    second = [r for r in records if r["request"].startswith("app-1")]  # the second call
    refused, retried = sorted(second, key=lambda r: r["arrived_s"])
    assert retried["request"] == "app-1-retry1"
    assert refused["status"] == 429
    wait = float(refused["headers"]["Retry-After"])
    assert 0 < wait <= 60
    # the SDK sends the call again exactly Retry-After seconds after the 429 reached it
    assert retried["arrived_s"] == pytest.approx(refused["answered_s"] + wait)
    assert retried["status"] == 200
    assert client["outcomes"] == {"200": 3}
    assert client["succeeded_after_retries"] >= 1
    assert client["waited_seconds"] >= wait
    assert client["latency_max_seconds"] >= wait


def test_without_a_retry_after_the_sdks_back_off_exponentially(tmp_path: Path) -> None:
    # A backend that answers 500 to every call: no Retry-After, so the SDKs' own back-off.
    down = {"tpm": 100000, "error_rate": 1.0}
    _, records = _client_run(tmp_path / "dotnet", "openai-dotnet", down)
    first_call = [r for r in records if r["request"].startswith("app-0")]
    assert [r["status"] for r in first_call] == [500] * 4, "1 attempt and 3 retries"
    gaps = [b["arrived_s"] - a["answered_s"] for a, b in pairwise(first_call)]
    assert gaps == pytest.approx([0.8, 1.6, 3.2])
    app, records = _client_run(tmp_path / "python", "openai-python", down)
    first_call = [r for r in records if r["request"].startswith("app-0")]
    assert len(first_call) == 3, "1 attempt and 2 retries"
    gaps = [b["arrived_s"] - a["answered_s"] for a, b in pairwise(first_call)]
    # 0.5 s then 1 s, less up to a quarter of jitter
    assert 0.375 <= gaps[0] <= 0.5 and 0.75 <= gaps[1] <= 1.0
    assert app["client"]["outcomes"] == {"500": 3}
    assert app["client"]["succeeded"] == 0


def test_a_client_can_be_held_to_fewer_retries(tmp_path: Path) -> None:
    client = {"preset": "openai-python", "max_retries": 0}
    app, records = _client_run(tmp_path, client, {"tpm": 100000, "error_rate": 1.0})
    assert app["client"]["retries"] == 0 and len(records) == 3


def test_bad_client_settings_are_located(tmp_path: Path) -> None:
    scenario = {
        **_CALLS,
        "policies": {"placeholders": {"tpm": "1000", "backend_pool_id": "b"}},
        "consumers": [
            {"name": "c", "client": "openai-go", "arrival": {"kind": "constant", "per_minute": 6}}
        ],
    }
    result = run_cli("simulate", str(_scenario(tmp_path, TEMPLATE, scenario)))
    assert result.exit_code == ExitCode.ERROR
    assert "s.yaml:8:11: consumers[0].client: input should be 'openai-python'" in result.stderr
    assert "openai-python" in result.stderr and "Traceback" not in result.stderr
    scenario = {
        **_CALLS,
        "policies": {"placeholders": {"tpm": "1000", "backend_pool_id": "b"}},
        "expect": [{"consumer": "c", "measure": "calls_failed", "equals": 0}],
    }
    result = run_cli("simulate", str(_scenario(tmp_path / "m", TEMPLATE, scenario)))
    assert result.exit_code == ExitCode.ERROR
    assert "expect[0].measure: calls_failed measures a consumer's retrying client" in result.stderr
    assert "consumer 'c' has none" in result.stderr


def test_a_backend_answers_chosen_calls_and_times_as_the_scenario_says(tmp_path: Path) -> None:
    # Its first two calls get a 429 with retry-after: 4 (the SDK waits exactly that), a
    # time range gets 503s, and its seventh call answers after 400 s, past forward-request's
    # 300 s timeout.
    answers = [
        {"calls": [1, 2], "status": 429, "headers": {"retry-after": "4"}},
        {"start": "20s", "end": "25s", "status": 503},
        {"calls": [7], "latency": 400},
    ]
    scenario = {
        "duration": "1m",
        "backends": {"b": {"tpm": 100000, "answers": answers}},
        "consumers": [
            {
                "name": "app",
                "client": "openai-python",
                "arrival": {"kind": "constant", "per_minute": 3},
            }
        ],
    }
    policy = TEMPLATE.replace("${backend_pool_id}", "b").replace("{tpm}", "100000")
    out = tmp_path / "requests.jsonl"
    path = _scenario(tmp_path, policy, scenario)
    result = run_cli("simulate", str(path), "--requests", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    records = sorted(
        (json.loads(line) for line in out.read_text().splitlines()), key=lambda r: r["arrived_s"]
    )
    first = [r for r in records if r["request"].startswith("app-0")]
    assert [r["status"] for r in first] == [429, 429, 200]
    assert first[0]["headers"]["retry-after"] == "4"
    assert first[1]["arrived_s"] == pytest.approx(first[0]["answered_s"] + 4)
    assert first[2]["arrived_s"] == pytest.approx(first[1]["answered_s"] + 4)
    # the call at 20 s and both its retries (0.5 s and 1 s later, jittered) fall in the range
    in_range = [r for r in records if r["request"].startswith("app-1")]
    assert [r["status"] for r in in_range] == [503, 503, 503]
    assert in_range[0]["headers"]["x-ms-region"] == "East US"
    slow = [r for r in records if r["request"].startswith("app-2")]
    assert [r["status"] for r in slow] == [504, 200], "timed out at the gateway, then retried"
    assert slow[0]["latency_s"] == pytest.approx(300, abs=0.5)


def test_a_scripted_answer_needs_a_when_and_a_what(tmp_path: Path) -> None:
    scenario = {
        **_CALLS,
        "policies": {"placeholders": {"tpm": "1000", "backend_pool_id": "b"}},
        "backends": {"b": {"tpm": 1000, "answers": [{"status": 429}]}},
    }
    result = run_cli("simulate", str(_scenario(tmp_path, TEMPLATE, scenario)))
    assert result.exit_code == ExitCode.ERROR
    assert "backends.b.answers[0]: give calls: [numbers], or start and end" in result.stderr


def _pool_run(tmp_path: Path, nodes: int, extra: dict[str, Any] | None = None) -> list[Any]:
    scenario: dict[str, Any] = {
        "duration": "1m",
        "gateway": {"nodes": nodes},
        "backends": {"a": {"tpm": 1000000}, "b": {"tpm": 1000000}},
        "pools": {"p": [{"backend": "a"}, {"backend": "b"}]},
        "consumers": [{"name": "c", "arrival": {"kind": "constant", "per_minute": 8}}],
        **(extra or {}),
    }
    policy = TEMPLATE.replace("${backend_pool_id}", "p").replace("{tpm}", "1000")
    out = tmp_path / "requests.jsonl"
    result = run_cli("simulate", str(_scenario(tmp_path, policy, scenario)), "--requests", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return sorted(records, key=lambda r: r["arrived_s"])


def test_gateway_nodes_keep_their_own_rotation_and_share_the_limits(tmp_path: Path) -> None:
    one = _pool_run(tmp_path / "one", 1)
    two = _pool_run(tmp_path / "two", 2)
    answered = [r["backend"] for r in one if r["status"] == 200]
    assert answered[:4] == ["a", "b", "a", "b"]
    # two nodes take the calls in turn, each rotating over the pool itself: pairs (§12)
    assert [r["backend"] for r in two if r["status"] == 200][:4] == ["a", "a", "b", "b"]
    # the per-subscription limit is the region's, not a node's: refused at the same calls
    assert [r["status"] for r in one] == [r["status"] for r in two]
    assert 429 in [r["status"] for r in two]


def test_a_node_count_of_zero_is_located(tmp_path: Path) -> None:
    scenario = {**_CALLS, "gateway": {"nodes": 0}}
    scenario["policies"] = {"placeholders": {"tpm": "1000", "backend_pool_id": "b"}}
    result = run_cli("simulate", str(_scenario(tmp_path, TEMPLATE, scenario)))
    assert result.exit_code == ExitCode.ERROR
    assert "gateway.nodes: input should be greater than or equal to 1" in result.stderr


def _scripted(
    tmp_path: Path,
    calls: list[dict[str, Any]],
    client: str | None = None,
    backend: dict[str, Any] | None = None,
) -> Any:
    consumer: dict[str, Any] = {"name": "agent", "calls": calls}
    if client is not None:
        consumer["client"] = client
    scenario = {
        "duration": "1m",
        "backends": {"b": backend or {"tpm": 100000}},
        "consumers": [consumer],
    }
    policy = TEMPLATE.replace("${backend_pool_id}", "b").replace("{tpm}", "100000")
    out = tmp_path / "requests.jsonl"
    result = run_cli("simulate", str(_scenario(tmp_path, policy, scenario)), "--requests", str(out))
    return result, out


def test_a_script_sends_each_call_when_it_says(tmp_path: Path) -> None:
    calls = [
        {"at": 0, "prompt_tokens": 900, "completion_tokens": 300, "latency": "1.2s"},
        {"after": "250ms", "completion_tokens": 80, "max_tokens": 100},
        {"after": "250ms", "completion_tokens": 20, "latency": 0.5},
        {"at": "1.5s", "completion_tokens": 10, "stream": True},
    ]
    result, out = _scripted(tmp_path, calls)
    assert result.exit_code == ExitCode.OK, result.output
    records = {r["request"]: r for r in map(json.loads, out.read_text().splitlines())}
    first, second, third, fourth = (records[f"agent-{n}"] for n in range(4))
    assert (first["arrived_s"], first["answered_s"]) == (0.0, 1.2)
    assert (first["prompt_tokens"], first["completion_tokens"]) == (900, 300)
    # think time: 250 ms after the previous answer, whatever its length
    assert second["arrived_s"] == pytest.approx(1.45)
    assert third["arrived_s"] == pytest.approx(second["answered_s"] + 0.25)
    assert third["latency_s"] == pytest.approx(0.5)
    assert second["completion_tokens"] == 80 and third["completion_tokens"] == 20
    assert fourth["arrived_s"] == 1.5, "a call at a time is sent then, answered or not"
    assert fourth["headers"]["Content-Type"].startswith("text/event-stream")


def test_a_scripts_pause_follows_its_clients_last_attempt(tmp_path: Path) -> None:
    # The first call's first attempt gets a 429 with retry-after: 2; the SDK sends it again,
    # and the script's next call goes a second after that retry's answer, not the 429's.
    calls = [{"at": 0, "completion_tokens": 50}, {"after": "1s", "completion_tokens": 50}]
    backend = {
        "tpm": 100000,
        "answers": [{"calls": [1], "status": 429, "headers": {"retry-after": "2"}}],
    }
    result, out = _scripted(tmp_path, calls, client="openai-python", backend=backend)
    assert result.exit_code == ExitCode.OK, result.output
    records = {r["request"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["agent-0"]["status"] == 429
    retry = records["agent-0-retry1"]
    assert retry["status"] == 200
    assert retry["arrived_s"] == pytest.approx(records["agent-0"]["answered_s"] + 2)
    assert records["agent-1"]["arrived_s"] == pytest.approx(retry["answered_s"] + 1)


def test_a_script_out_of_order_is_located(tmp_path: Path) -> None:
    calls = [{"at": "2s"}, {"at": "1.5s"}]
    result, _ = _scripted(tmp_path, calls)
    assert result.exit_code == ExitCode.ERROR
    assert "consumers[0]: calls[1] is at 1.5 s, before the call at 2 s" in result.stderr
    result, _ = _scripted(tmp_path / "b", [{"at": "2s", "after": "1s"}])
    assert result.exit_code == ExitCode.ERROR
    assert "consumers[0].calls[0]: give at (a time of the run) or after" in result.stderr
    result, _ = _scripted(tmp_path / "c", [{"at": "soon"}])
    assert result.exit_code == ExitCode.ERROR
    assert "'soon' is not a time" in result.stderr and "Traceback" not in result.stderr


def test_a_client_gives_up_on_a_slow_attempt_at_its_timeout(tmp_path: Path) -> None:
    # The backend takes 400 s over its first call. openai-dotnet waits 100 s, then sends the
    # call again 0.8 s later (an error without headers), and that attempt is answered; the
    # gateway still finishes the first attempt (its forward-request gives up at 300 s: 504),
    # and nobody reads that answer.
    backend = {"tpm": 100000, "answers": [{"calls": [1], "latency": 400}]}
    calls = [{"at": 0, "completion_tokens": 50}]
    result, out = _scripted(tmp_path, calls, client="openai-dotnet", backend=backend)
    assert result.exit_code == ExitCode.OK, result.output
    records = {r["request"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["agent-0"]["status"] == 504
    assert records["agent-0-retry1"]["arrived_s"] == pytest.approx(100.8)
    assert records["agent-0-retry1"]["status"] == 200
    report = json.loads(run_cli("simulate", str(tmp_path / "s.yaml"), "--json").stdout)
    client = report["consumers"]["agent"]["client"]
    assert client["succeeded_after_retries"] == 1 and client["timed_out"] == 0
    assert client["latency_max_seconds"] == pytest.approx(
        records["agent-0-retry1"]["answered_s"], abs=0.01
    )
    # with no retries left, the call is given up at the timeout
    scenario = yaml.safe_load((tmp_path / "s.yaml").read_text())
    scenario["consumers"][0]["client"] = {
        "preset": "openai-python",
        "timeout": 30,
        "max_retries": 0,
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario))
    report = json.loads(run_cli("simulate", str(tmp_path / "s.yaml"), "--json").stdout)
    client = report["consumers"]["agent"]["client"]
    assert client["timed_out"] == 1 and client["succeeded"] == 0
    assert client["latency_max_seconds"] == 30


def test_a_scripted_call_past_the_end_of_the_run_is_located(tmp_path: Path) -> None:
    result, _ = _scripted(tmp_path, [{"at": 0}, {"at": "90s"}])
    assert result.exit_code == ExitCode.ERROR
    assert "consumers[0].calls[1].at: the run ends before this call is sent" in result.stderr
    assert "the run lasts 60 s" in result.stderr
