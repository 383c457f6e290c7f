"""apimgen simulate --replay: the gateway's own logs as the traffic. Fixtures are written here in
the documented column shapes (the az CLI's JSON, the portal's CSV), never real data; the logged
statuses follow the documented behaviour of the policy they went through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from apimgen.errors import ExitCode
from tests.conftest import make_spec, run_cli, write_spec

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "apimgen/simulate/simulation.schema.json").read_text()
)
START = "2026-12-01T09:00:00Z"


def _row(
    second: int, correlation: str, subscription: str, status: int, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "TimeGenerated": f"2026-12-01T09:00:{second:02d}.000Z",
        "CorrelationId": correlation,
        "ApimSubscriptionId": subscription,
        "ApiId": "openai",
        "OperationId": "chat-completions",
        "ResponseCode": status,
        "BackendId": "aoai" if status == 200 else "",
        "BackendResponseCode": 200 if status == 200 else "",
        "TotalTime": 1100,
        "BackendTime": 1000 if status == 200 else "",
        "DeploymentName": "gpt-4o",
        "ModelName": "gpt-4o",
        "PromptTokens": 100 if status == 200 else "",
        "CompletionTokens": 200 if status == 200 else "",
        "IsStreamCompletion": "False",
        "SequenceNumber": 0,
        "RequestMessages": "",
    }
    row.update(extra)
    return row


# alice sends a 300-token call every 5 s against 1000 tokens a minute counted from the answers
# (estimate-prompt-tokens false): a call is let in while fewer than 1000 were used, so four pass
# (1200 tokens) and the next two get 429. A keyless call is refused 401 before any policy.
LOG = [
    _row(0, "c0", "alice", 200), _row(5, "c1", "alice", 200), _row(10, "c2", "alice", 200),
    _row(15, "c3", "alice", 200), _row(20, "c4", "alice", 429), _row(25, "c5", "alice", 429),
    _row(12, "c6", "", 401),
]  # fmt: skip


def _scenario(tmp_path: Path, limit: int = 1000, name: str = "scenario.yaml") -> Path:
    spec = write_spec(
        tmp_path / f"gateway-{limit}.yaml",
        make_spec(
            apis=[
                {
                    "name": "openai",
                    "path": "openai",
                    "backend": "aoai",
                    "token_limits": [{"key": "subscription", "tokens_per_minute": limit}],
                }
            ]
        ),
    )
    path = tmp_path / name
    path.write_text(
        yaml.safe_dump(
            {
                "apimgen_scenario": 1,
                "policies": {"spec": spec.name},
                "duration": "1m",
                "consumers": [
                    {"name": "alice", "arrival": {"kind": "constant", "per_minute": 1}},
                ],
            }
        )
    )
    return path


def test_replaying_through_the_live_policies_reproduces_the_logged_statuses(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs.json"
    logs.write_text(json.dumps(LOG))
    result = run_cli("simulate", str(_scenario(tmp_path)), "--replay", str(logs), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    replay = document["replay"]
    assert replay["calls"] == replay["agreed"] == 7
    assert replay["by_status"] == [
        {"logged": 200, "simulated": 200, "calls": 4},
        {"logged": 401, "simulated": 401, "calls": 1},
        {"logged": 429, "simulated": 429, "calls": 2},
    ]
    assert document["consumers"]["alice"]["tokens"] == 1200
    assert document["starts_at"] == "2026-12-01T09:00:00Z"


def test_a_changed_limit_shows_what_the_logged_traffic_would_have_met(tmp_path: Path) -> None:
    logs = tmp_path / "logs.json"
    logs.write_text(json.dumps(LOG))
    live, changed = _scenario(tmp_path), _scenario(tmp_path, 2000, "what-if.yaml")
    result = run_cli(
        "simulate", str(live), "--compare", str(changed), "--replay", str(logs), "--json"
    )
    assert result.exit_code == ExitCode.OK, result.output
    runs = json.loads(result.stdout)["runs"]
    assert runs[0]["replay"]["agreed"] == 7
    what_if = runs[1]["replay"]
    assert what_if["by_status"] == [
        {"logged": 200, "simulated": 200, "calls": 4},
        {"logged": 401, "simulated": 401, "calls": 1},
        {"logged": 429, "simulated": 200, "calls": 2},  # the higher limit lets them through
    ]
    assert [(d["correlation"], d["logged"], d["simulated"]) for d in what_if["disagreements"]] == [
        ("c4", 429, 200),
        ("c5", 429, 200),
    ]
    assert runs[1]["consumers"]["alice"]["tokens"] == 1800
    text = run_cli("simulate", str(changed), "--replay", str(logs)).stdout
    assert "Replay: 5 of 7 calls (71.4%) got the status the gateway logged." in text
    assert "logged 429 → simulated 200: 2  ← differs" in text


def test_the_portal_csv_with_split_messages_and_unordered_rows_replays_the_same(
    tmp_path: Path,
) -> None:
    # The portal's time format and header, rows out of order, one call's messages split over
    # two rows, and a time written with an offset.
    header = list(LOG[0])
    lines = [",".join("TimeGenerated [UTC]" if h == "TimeGenerated" else h for h in header)]
    rows = [dict(row) for row in reversed(LOG)]
    for row in rows:
        second = int(row["TimeGenerated"][17:19])
        row["TimeGenerated"] = f"12/1/2026, 9:00:{second:02d}.000 AM"
    split = dict(rows[-1], SequenceNumber=1, RequestMessages='[{"role":"user","content":"second part"}]')  # fmt: skip
    rows[-1]["RequestMessages"] = '[{"role":"user","content":"first part"}]'
    rows.insert(0, split)
    for row in rows:
        lines.append(",".join(_csv(row[h]) for h in header))
    logs = tmp_path / "logs.csv"
    logs.write_text("\n".join(lines) + "\n")
    result = run_cli("simulate", str(_scenario(tmp_path)), "--replay", str(logs), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.stdout)["replay"]["agreed"] == 7


def _csv(value: Any) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"') else text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TimeGenerated": "yesterday"}, "row 3, column TimeGenerated: 'yesterday' is not a time"),
        ({"PromptTokens": "many"}, "row 3, column PromptTokens: 'many' is not a number"),
        ({"ResponseCode": ""}, "row 3, column ResponseCode: is empty"),
    ],
)
def test_a_malformed_export_is_a_located_error_and_nothing_runs(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    rows = [dict(row) for row in LOG]
    rows[2].update(change)
    logs = tmp_path / "logs.json"
    logs.write_text(json.dumps(rows))
    result = run_cli("simulate", str(_scenario(tmp_path)), "--replay", str(logs))
    assert result.exit_code == ExitCode.ERROR
    assert message in result.output
    assert "Replay:" not in result.output


def test_an_export_without_the_columns_replay_reads_names_them(tmp_path: Path) -> None:
    logs = tmp_path / "logs.csv"
    logs.write_text("TimeGenerated,CorrelationId\n2026-12-01T09:00:00Z,c0\n")
    result = run_cli("simulate", str(_scenario(tmp_path)), "--replay", str(logs))
    assert result.exit_code == ExitCode.ERROR
    assert "missing column(s) ApimSubscriptionId, ResponseCode" in result.output


def test_a_scenario_may_name_its_export(tmp_path: Path) -> None:
    (tmp_path / "logs.json").write_text(json.dumps(LOG))
    scenario = _scenario(tmp_path)
    data = yaml.safe_load(scenario.read_text())
    scenario.write_text(yaml.safe_dump({**data, "replay": "logs.json"}))
    result = run_cli("simulate", str(scenario), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.stdout)["replay"]["agreed"] == 7


def test_a_replay_writes_every_request_with_requests(tmp_path: Path) -> None:
    logs = tmp_path / "logs.json"
    logs.write_text(json.dumps(LOG))
    records = tmp_path / "requests.jsonl"
    result = run_cli(
        "simulate", str(_scenario(tmp_path)), "--replay", str(logs), "--requests", str(records)
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert "Replay: 7 of 7 calls" in result.stdout
    written = [json.loads(line) for line in records.read_text().splitlines()]
    statuses = sorted((r["request"], r["status"]) for r in written)
    assert statuses == [
        ("alice-0", 200), ("alice-1", 200), ("alice-2", 200), ("alice-3", 200),
        ("alice-4", 429), ("alice-5", 429), ("anonymous-0", 401),
    ]  # fmt: skip
    assert written[0]["time"].startswith("2026-12-01T09:00:")
