"""plan and apply end to end: the CLI, the real azure-mgmt-apimanagement client, and the local
HTTPS fake of the management API standing in for a live instance."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from apimgen.errors import ExitCode
from tests.conftest import EXAMPLES, make_spec, write_spec
from tests.deploy.conftest import (
    EXISTING,
    PRODUCTION,
    SECRETS,
    SEED,
    SUBSCRIPTION,
    Live,
)
from tests.fakes.arm_apim import Fault

CHANGES = 2
SCHEMAS = Path(__file__).parents[2] / "apimgen" / "deploy"
PLAN_SCHEMA = json.loads((SCHEMAS / "plan.schema.json").read_text())
APPLY_SCHEMA = json.loads((SCHEMAS / "apply.schema.json").read_text())


def test_the_published_schemas_are_valid_json_schemas() -> None:
    for schema in (PLAN_SCHEMA, APPLY_SCHEMA):
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("spec", "lro_style"),
    [
        (SEED, "azure-async-operation"),
        (PRODUCTION, "location"),
        (EXISTING, "azure-async-operation"),
        (SEED, "none"),
    ],
    ids=["seed", "production-location-polling", "existing-resources", "seed-synchronous"],
)
def test_plan_apply_then_plan_again_is_empty(live: Live, spec: Path, lro_style: str) -> None:
    live.state.lro_style = lro_style  # type: ignore[assignment]
    live.state.page_size = 2  # lists come in pages, as API Management's do
    first = live.run("plan", str(spec), "--detailed-exitcode")
    assert first.exit_code == CHANGES, first.output
    assert "to create, 0 to update, 0 to delete" in first.stdout

    applied = live.run("apply", str(spec), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete" in applied.stdout

    again = live.run("plan", str(spec), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout
    assert any("skip=" in path for _, path in live.state.requests), "pages were followed"


def test_the_fake_reformats_what_it_stores_so_normalisation_is_exercised(live: Live) -> None:
    assert live.run("apply", str(PRODUCTION), "--auto-approve").exit_code == 0
    policy = live.state.properties("apis/azure-openai/policies/policy")
    assert "\r\n\t" in policy["value"] and policy["format"] == "xml"
    api = live.state.properties("apis/azure-openai")
    assert api["apiRevision"] == "1"
    logger = live.state.properties("loggers/appinsights")
    assert logger["credentials"]["instrumentationKey"].startswith("{{Logger-Credentials--")


def test_plan_json_and_saved_plan_hold_no_secret(live: Live, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    result = live.run("plan", str(SEED), "--json", "-o", str(saved))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, PLAN_SCHEMA)
    jsonschema.validate(json.loads(saved.read_text()), PLAN_SCHEMA)
    assert document["schema"] == "apimgen.plan/v1"
    assert document["summary"]["create"] == len(document["changes"]) > 0
    text = saved.read_text()
    for value in SECRETS.values():
        assert value not in text and value not in result.output
    assert '"$secretFromEnvironment": "APIMGEN_APP_INSIGHTS_INSTRUMENTATION_KEY"' in text
    verbose = live.run("plan", str(SEED), "-v")
    assert "credentials.instrumentationKey = (sensitive, from " in verbose.stdout
    assert "connectionString = (sensitive, from $APIMGEN_REDIS_CONNECTION_STRING)" in (
        verbose.stdout
    )
    for value in SECRETS.values():
        assert value not in verbose.output


def test_saved_plan_applies_exactly_and_converges(live: Live, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert live.run("plan", str(SEED), "-o", str(saved)).exit_code == 0
    applied = live.run("apply", str(saved), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert live.run("plan", str(SEED), "--detailed-exitcode").exit_code == 0


def test_live_drift_shows_as_property_and_policy_diffs(live: Live) -> None:
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    live.state.edit("backends/aoai-swc", url="https://rogue.example/openai")
    policy = live.state.properties("apis/azure-openai/policies/policy")["value"]
    live.state.edit(
        "apis/azure-openai/policies/policy",
        value=policy.replace('tokens-per-minute="', 'tokens-per-minute="9'),
    )
    result = live.run("plan", str(SEED), "--detailed-exitcode")
    assert result.exit_code == CHANGES, result.output
    assert "0 to create, 2 to update, 0 to delete" in result.stdout
    assert '"https://rogue.example/openai" → "https://' in result.stdout
    assert "--- live/apis/azure-openai/policies/policy" in result.stdout
    as_json = json.loads(live.run("plan", str(SEED), "--json").stdout)
    jsonschema.validate(as_json, PLAN_SCHEMA)
    backend = next(c for c in as_json["changes"] if c["path"] == "backends/aoai-swc")
    assert backend["differences"] == [
        {
            "property": "url",
            "live": "https://rogue.example/openai",
            "desired": "https://contoso-aoai-swc.openai.azure.com/openai",
        }
    ]
    assert any(
        line.strip().startswith("-") and 'tokens-per-minute="9' in line
        for line in result.stdout.splitlines()
    )
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    assert live.run("plan", str(SEED), "--detailed-exitcode").exit_code == 0


def test_a_saved_plan_is_refused_when_the_live_state_moved(live: Live, tmp_path: Path) -> None:
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    spec = _edited(SEED, tmp_path, lambda d: d["backends"][0].update(description="moved"))
    saved = tmp_path / "plan.json"
    assert live.run("plan", str(spec), "-o", str(saved)).exit_code == 0
    live.state.edit("apis/azure-openai", displayName="Renamed in the portal")
    before = len(live.writes())
    result = live.run("apply", str(saved), "--auto-approve")
    assert result.exit_code == ExitCode.ERROR
    assert "changed since the plan was made: apis/azure-openai" in result.stderr
    assert len(live.writes()) == before, "nothing may be written"


def test_prune_deletes_only_what_apimgen_created(live: Live, tmp_path: Path) -> None:
    assert live.run("apply", str(PRODUCTION), "--auto-approve").exit_code == 0
    _put_unmanaged_backend(live)  # someone adds a backend by hand: never to be touched
    spec = _edited(
        PRODUCTION,
        tmp_path,
        lambda d: (
            d.__setitem__("products", [p for p in d["products"] if p["name"] != "free"]),
            d.__setitem__("consumers", [c for c in d["consumers"] if c.get("product") != "free"]),
        ),
    )
    kept = live.run("plan", str(spec))
    assert kept.exit_code == 0, kept.output
    assert "0 to delete" in kept.stdout and "--prune deletes" in kept.stdout
    assert "products/free" in kept.stdout
    assert "Not created by apimgen, left alone: 1" in kept.stdout

    pruned = live.run("apply", str(spec), "--prune", "--auto-approve")
    assert pruned.exit_code == 0, pruned.output
    paths = live.state.paths()
    assert not [p for p in paths if p.startswith("products/free")]
    assert "backends/hand-made" in paths
    assert "products/premium" in paths
    assert live.run("plan", str(spec), "--prune", "--detailed-exitcode").exit_code == 0


def test_a_hard_failure_mid_apply_is_reported_and_a_rerun_converges(live: Live) -> None:
    live.state.faults.append(Fault("PUT", "/apis/azure-openai/operations/completions", 400))
    failed = live.run("apply", str(SEED), "--auto-approve")
    assert failed.exit_code == ExitCode.ERROR, failed.output
    out = failed.stdout
    assert "Apply stopped:" in out
    assert "applied       create backends/aoai-swc" in out
    assert "failed        create apis/azure-openai/operations/completions" in out
    assert "HTTP 400 InjectedFault" in out
    assert "not attempted create subscriptions/carol" in out
    assert "rerun converges" in failed.stderr

    rerun = live.run("apply", str(SEED), "--auto-approve")
    assert rerun.exit_code == 0, rerun.output
    assert "to create, 0 to update" in rerun.stdout
    assert live.run("plan", str(SEED), "--detailed-exitcode").exit_code == 0


def test_throttling_and_transient_errors_are_retried(live: Live) -> None:
    live.state.faults += [
        Fault("PUT", "/backends/aoai-swc", 429, retry_after=1),
        Fault("PUT", "/apis/azure-openai/policies/policy", 503),
        Fault("GET", "/backends", 500),
    ]
    result = live.run("apply", str(SEED), "--auto-approve")
    assert result.exit_code == 0, result.output
    puts = [p for m, p in live.state.requests if m == "PUT" and "/backends/aoai-swc?" in p]
    assert len(puts) == 2, "the throttled write was sent again"
    assert all(f.times == 0 for f in live.state.faults)


def test_apply_refuses_without_a_secret_before_writing_anything(live: Live) -> None:
    result = live.run(
        "apply", str(SEED), "--auto-approve",
        env={"APIMGEN_APP_INSIGHTS_INSTRUMENTATION_KEY": None},
    )  # fmt: skip
    assert result.exit_code == ExitCode.ERROR
    assert (
        "APIMGEN_APP_INSIGHTS_INSTRUMENTATION_KEY (for loggers/appinsights; reading it from "
        in (result.stderr)
    )
    assert live.writes() == []


def test_without_variables_secrets_are_read_from_azure_with_the_same_identity(
    live: Live,
) -> None:
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai-gateway/providers"
    insights = f"{group}/Microsoft.Insights/components/contoso-ai-gateway-insights"
    redis = f"{group}/Microsoft.Cache/redisEnterprise/contoso-ai-gateway-cache"
    live.state.external[insights.lower()] = {
        "properties": {"InstrumentationKey": "ikey-from-azure"}
    }
    live.state.external[redis.lower()] = {"properties": {"hostName": "cache.example"}}
    live.state.keys[f"{redis}/databases/default".lower()] = {"primaryKey": "redis-from-azure"}
    no_secrets = dict.fromkeys(SECRETS)
    result = live.run("apply", str(SEED), "--auto-approve", env=no_secrets)
    assert result.exit_code == 0, result.output
    stored = [r["properties"] for r in live.state.resources.values()]
    assert {
        "displayName": next(
            p["displayName"] for p in stored if "Logger-Cred" in str(p.get("displayName"))
        ),
        "secret": True,
        "value": "ikey-from-azure",
    } in stored
    cache = live.state.properties("caches/default")
    assert cache["connectionString"] == (
        "cache.example:10000,password=redis-from-azure,ssl=True,abortConnect=False"
    )
    assert "ikey-from-azure" not in result.output and "redis-from-azure" not in result.output


def test_apply_without_a_terminal_needs_auto_approve(live: Live) -> None:
    result = live.run("apply", str(SEED))
    assert result.exit_code == ExitCode.ERROR
    assert "--auto-approve" in result.stderr
    assert live.writes() == []


def test_target_errors_are_clear(live: Live) -> None:
    missing = live.run("plan", str(SEED), "--service", "no-such-gw")
    assert missing.exit_code == ExitCode.ERROR
    assert "no-such-gw (resource group rg-ai-gateway" in missing.stderr
    assert "does not exist" in missing.stderr and "Bicep" in missing.stderr

    no_subscription = live.run("plan", str(SEED), env={"AZURE_SUBSCRIPTION_ID": None})
    assert no_subscription.exit_code == ExitCode.ERROR
    assert "--subscription-id (or AZURE_SUBSCRIPTION_ID)" in no_subscription.stderr

    environment = live.run("plan", str(PRODUCTION), "-e", "nope")
    assert environment.exit_code == ExitCode.ERROR
    assert "unknown environment 'nope'" in environment.stderr
    assert "staging" in environment.stderr


def test_the_environment_picks_its_service_and_resource_group(live: Live) -> None:
    result = live.run("plan", str(PRODUCTION), "-e", "staging")
    assert result.exit_code == ExitCode.ERROR
    assert "fabrikam-ai-gateway-stg (resource group rg-fabrikam-ai-stg" in result.stderr


def test_authentication_and_connection_failures_are_clear(live: Live) -> None:
    live.state.faults.append(Fault("GET", "/service/contoso-ai-gateway", 401))
    denied = live.run("plan", str(SEED))
    assert denied.exit_code == ExitCode.ERROR
    assert "authentication failed" in denied.stderr and "az login" in denied.stderr

    unreachable = live.run(
        "plan", str(SEED), "--max-retries", "0", env={"APIMGEN_ARM_ENDPOINT": "https://127.0.0.1:9"}
    )
    assert unreachable.exit_code == ExitCode.ERROR
    assert "cannot reach https://127.0.0.1:9" in unreachable.stderr
    assert "Traceback" not in unreachable.output


def test_a_damaged_plan_file_is_a_clear_error(live: Live, tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"format": "apimgen.plan/v1", "changes": [}')
    result = live.run("apply", str(bad), "--auto-approve")
    assert result.exit_code == ExitCode.ERROR
    assert f"{bad}:1:" in result.stderr and "not a plan file" in result.stderr
    missing = live.run("apply", str(tmp_path / "gone.json"))
    assert f"{tmp_path / 'gone.json'}: cannot read the plan: No such file" in missing.stderr
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert "not an apimgen plan" in live.run("apply", str(other)).stderr


def test_a_saved_plan_is_only_applied_to_its_own_instance(live: Live, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert live.run("plan", str(SEED), "-o", str(saved)).exit_code == 0
    result = live.run("apply", str(saved), "--auto-approve", "--service", "elsewhere")
    assert result.exit_code == ExitCode.ERROR
    assert "the plan is for contoso-ai-gateway" in result.stderr
    mars = live.run("apply", str(saved), "--auto-approve", "--cloud", "Mars")
    assert mars.exit_code == ExitCode.ERROR
    assert "unknown cloud 'Mars'" in mars.stderr and "AzureChinaCloud" in mars.stderr


def _edited(spec: Path, folder: Path, change: object) -> Path:
    """A copy of an example spec (one without fragment files) with ``change`` applied."""
    data = yaml.safe_load(spec.read_text())
    change(data)  # type: ignore[operator]
    copy = folder / spec.name
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


def _put_unmanaged_backend(live: Live, name: str = "hand-made") -> None:
    from tests.fakes.arm_apim import SERVICE

    service = next(
        r["id"] for r in live.state.resources.values() if r["name"] == "fabrikam-ai-gateway"
    )
    assert SERVICE.match(service)
    path = f"{service}/backends/{name}"
    live.state.resources[path.lower()] = {
        "id": path,
        "type": "Microsoft.ApiManagement/service/backends",
        "name": name,
        "properties": {"url": "https://legacy.example", "protocol": "http", "type": "Single"},
        "etag": '"hand"',
    }


def test_ctrl_c_mid_apply_leaves_an_exact_report(live: Live) -> None:
    """A real SIGINT to a real process while a write is in flight."""
    slow = "/apis/azure-openai/policies/policy"
    live.state.faults.append(Fault("PUT", slow, 200, delay=30))
    env = {**os.environ, **live.env, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "apimgen", "apply", str(SEED), "--auto-approve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not any(m == "PUT" and slow in p for m, p in live.state.requests):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the slow write never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert "applied       create apis/azure-openai" in stdout
    assert f"interrupted   create {slow.strip('/')}" in stdout
    assert "may or may not have been applied" in stdout
    assert "not attempted create subscriptions/carol" in stdout
    assert "Traceback" not in stderr

    live.state.faults.clear()
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    assert live.run("plan", str(SEED), "--detailed-exitcode").exit_code == 0


def test_pruning_deletes_dependants_before_what_they_use(live: Live, tmp_path: Path) -> None:
    """The fake answers 409 for a logger a diagnostic still uses, as API Management does."""
    spec = make_spec(observability={"app_insights": {"name": "test-insights"}})
    live.state.add_service(SUBSCRIPTION, "rg-test", "test-gw")
    with_logger = write_spec(tmp_path / "with.yaml", spec)
    assert live.run("apply", str(with_logger), "--auto-approve").exit_code == 0
    assert {"loggers/appinsights", "diagnostics/applicationinsights"} <= set(live.state.paths())
    without = write_spec(tmp_path / "without.yaml", make_spec())
    result = live.run("apply", str(without), "--prune", "--auto-approve")
    assert result.exit_code == 0, result.output
    deletes = [p for m, p in live.writes() if m == "DELETE"]
    assert "/diagnostics/applicationinsights" in deletes[0]
    assert "/loggers/appinsights" in deletes[1]
    live.state.faults.append(Fault("DELETE", "/apis/openai", 409))
    renamed = make_spec(apis=[{"name": "chat", "path": "chat", "backend": "aoai"}])
    gone = write_spec(tmp_path / "gone.yaml", renamed)
    conflict = live.run("apply", str(gone), "--prune", "--auto-approve")
    assert conflict.exit_code == ExitCode.ERROR
    assert "failed        delete apis/openai" in conflict.stdout
    assert "HTTP 409" in conflict.stdout


def test_a_write_racing_a_portal_edit_is_refused_by_its_etag(live: Live) -> None:
    """The resource changes between apimgen reading its ETag and the write arriving."""
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    spec_backend = "/backends/aoai-swc"
    live.state.edit(spec_backend.strip("/"), url="https://drifted.example/openai")
    live.state.faults.append(Fault("PUT", spec_backend, 200, delay=1.0))

    seen = len(live.state.requests)

    def edit_while_in_flight() -> None:
        deadline = time.monotonic() + 30
        while not any(m == "PUT" and spec_backend in p for m, p in live.state.requests[seen:]):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        live.state.edit(spec_backend.strip("/"), description="edited in the portal")

    editor = threading.Thread(target=edit_while_in_flight)
    editor.start()
    result = live.run("apply", str(SEED), "--auto-approve")
    editor.join()
    assert result.exit_code == ExitCode.ERROR, result.output
    assert "failed        update backends/aoai-swc" in result.stdout
    assert "HTTP 412 PreconditionFailed" in result.stdout
    assert live.state.properties("backends/aoai-swc")["description"] == "edited in the portal"


@pytest.mark.parametrize(("answer", "code"), [("yes", 0), ("y", 1), ("", 1)])
def test_on_a_terminal_apply_asks_and_only_yes_applies(
    live: Live, monkeypatch: pytest.MonkeyPatch, answer: str, code: int
) -> None:
    from typer.testing import CliRunner

    from apimgen.cli import deploy_commands
    from apimgen.cli.app import app

    monkeypatch.setattr(deploy_commands, "_interactive", lambda: True)
    result = CliRunner().invoke(app, ["apply", str(SEED)], env=live.env, input=f"{answer}\n")
    assert result.exit_code == code, result.output
    assert "Only 'yes' is accepted" in result.output
    if code:
        assert "apply cancelled; nothing was changed" in result.stderr
        assert live.writes() == []
    else:
        assert "Apply complete" in result.stdout


def test_apply_json_reports_every_outcome(live: Live) -> None:
    live.state.faults.append(Fault("PUT", "/caches/default", 400))
    result = live.run("apply", str(SEED), "--auto-approve", "--json")
    assert result.exit_code == ExitCode.ERROR
    document = json.loads(result.stdout)
    jsonschema.validate(document, APPLY_SCHEMA)
    jsonschema.validate(document["plan"], PLAN_SCHEMA)
    assert document["schema"] == "apimgen.apply/v1" and document["complete"] is False
    statuses = {o["path"]: o["status"] for o in document["outcomes"]}
    assert statuses["backends/aoai-swc"] == "applied"
    assert statuses["caches/default"] == "failed"
    assert statuses["subscriptions/carol"] == "not attempted"
    assert document["applied"] == sum(1 for s in statuses.values() if s == "applied")
    live.state.faults.clear()
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    unchanged = json.loads(live.run("apply", str(SEED), "--auto-approve", "--json").stdout)
    jsonschema.validate(unchanged, APPLY_SCHEMA)
    assert unchanged["result"] is None and unchanged["plan"]["changes"] == []


def test_a_hand_made_resource_the_spec_names_is_adopted_and_marked(live: Live) -> None:
    _put_unmanaged_backend(live, name="aoai-ptu-weu")
    plan = live.run("plan", str(PRODUCTION))
    assert "~ backend           backends/aoai-ptu-weu (adopt: not created by apimgen)" in (
        plan.stdout
    )
    assert "+ policy            policies/policy\n" in plan.stdout
    assert live.run("apply", str(PRODUCTION), "--auto-approve").exit_code == 0
    description = live.state.properties("backends/aoai-ptu-weu")["description"]
    assert description.endswith("Managed by apimgen.")
    # The global policy follows no mark: changing it is an update, never an adoption.
    live.state.edit("policies/policy", value="<policies><inbound /></policies>")
    changed = live.run("plan", str(PRODUCTION))
    assert "~ policy            policies/policy\n" in changed.stdout


def test_a_plan_file_cannot_send_the_token_to_another_endpoint(live: Live, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert live.run("plan", str(SEED), "-o", str(saved)).exit_code == 0
    document = json.loads(saved.read_text())
    document["target"]["arm_endpoint"] = "https://collector.example"
    saved.write_text(json.dumps(document))
    before = len(live.state.requests)
    result = live.run("apply", str(saved), "--auto-approve")
    assert result.exit_code == ExitCode.ERROR
    assert "the plan was made against https://collector.example" in result.stderr
    assert len(live.state.requests) == before


def test_a_secret_is_only_read_from_an_arm_id_on_the_same_endpoint(
    live: Live, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert live.run("plan", str(SEED), "-o", str(saved)).exit_code == 0
    document = json.loads(saved.read_text())
    logger = next(c for c in document["changes"] if c["path"] == "loggers/appinsights")
    logger["properties"]["resourceId"] = "https://collector.example/steal"
    saved.write_text(json.dumps(document))
    result = live.run("apply", str(saved), "--auto-approve", env=dict.fromkeys(SECRETS))
    assert result.exit_code == ExitCode.ERROR
    assert "names no Azure resource id to read it from" in result.stderr
    assert live.writes() == []


def test_a_saved_plan_is_known_by_its_content_and_applies_from_another_checkout(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``plan -o tfplan`` then ``apply tfplan``, as terraform users write it, from a second
    checkout in another folder: the plan names the spec it came from, but apply never reads it."""
    first = tmp_path / "job-1"
    shutil.copytree(EXAMPLES, first / "examples")
    monkeypatch.chdir(first)
    planned = live.run("plan", "examples/seed/gateway.yaml", "-o", "tfplan")
    assert planned.exit_code == 0, planned.output
    second = tmp_path / "job-2"
    second.mkdir()
    shutil.move(first / "tfplan", second / "tfplan")
    shutil.rmtree(first)
    monkeypatch.chdir(second)
    applied = live.run("apply", "tfplan", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "unknown key" not in applied.output
    assert live.writes(), "the saved plan's changes were written"
    # a spec is still read as a spec, whatever its name: applied, it plans empty
    shutil.copy(EXAMPLES / "seed" / "gateway.yaml", second / "gateway.spec")
    assert live.run("plan", "gateway.spec", "--detailed-exitcode").exit_code == 0
