"""``apimgen plan`` and ``apimgen apply``: the spec against a live API Management instance.

Exit codes follow terraform: plan exits 0, or with ``--detailed-exitcode`` 0 for no changes and
2 for changes; both exit 1 on errors, apply also when a change failed, 130 when interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from apimgen.cli.runner import JsonOption, run_command
from apimgen.errors import ApimgenError, ExitCode

if TYPE_CHECKING:
    from azure.mgmt.apimanagement import ApiManagementClient

    from apimgen.cli.output import Output
    from apimgen.deploy.live import LiveResource
    from apimgen.deploy.plan import Change, Plan
    from apimgen.deploy.session import TargetOptions
    from apimgen.deploy.target import Target

__all__ = ["apply", "import_", "plan"]

PLAN_CHANGES = 2  # --detailed-exitcode, as terraform


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


_TARGET = "Target (flags, then environment variables, then the spec)"
SubscriptionOption = Annotated[
    str | None,
    typer.Option(
        "--subscription-id",
        envvar="AZURE_SUBSCRIPTION_ID",
        help="Azure subscription of the instance.",
        rich_help_panel=_TARGET,
    ),
]
ResourceGroupOption = Annotated[
    str | None,
    typer.Option(
        "--resource-group",
        "-g",
        envvar="APIMGEN_RESOURCE_GROUP",
        help="Resource group (default: the spec's).",
        rich_help_panel=_TARGET,
    ),
]
ServiceOption = Annotated[
    str | None,
    typer.Option(
        "--service",
        "-n",
        envvar="APIMGEN_SERVICE",
        help="API Management service name (default: the spec's gateway name).",
        rich_help_panel=_TARGET,
    ),
]
EnvironmentOption = Annotated[
    str | None,
    typer.Option(
        "--environment",
        "-e",
        envvar="APIMGEN_ENVIRONMENT",
        help="One of the spec's environments (its name and resource group).",
        rich_help_panel=_TARGET,
    ),
]
CloudOption = Annotated[
    str,
    typer.Option(
        "--cloud",
        envvar="APIMGEN_CLOUD",
        help="AzureCloud, AzureChinaCloud or AzureUSGovernment.",
        rich_help_panel=_TARGET,
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--arm-endpoint",
        envvar="APIMGEN_ARM_ENDPOINT",
        help="Resource Manager endpoint, overriding the cloud's (Azure Stack Hub).",
        rich_help_panel=_TARGET,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--access-token",
        envvar="APIMGEN_ACCESS_TOKEN",
        help="A pre-obtained ARM access token (default: DefaultAzureCredential).",
        rich_help_panel=_TARGET,
        show_default=False,
    ),
]
PruneOption = Annotated[
    bool,
    typer.Option(
        "--prune",
        help="Delete resources apimgen created that the spec no longer names "
        "(never resources apimgen did not create).",
    ),
]
RetriesOption = Annotated[
    int,
    typer.Option(
        "--max-retries",
        min=0,
        help="Retries per request on throttling (429) and transient server errors.",
    ),
]


def _connect(
    token: str | None, retries: int, verbose: bool = False
) -> Callable[[Target], ApiManagementClient]:
    from apimgen.deploy.client import ClientSettings, make_client

    settings = ClientSettings(max_retries=retries, verbose=verbose)
    return lambda target: make_client(target, token, settings)


def _plan(
    spec: Path,
    options: TargetOptions,
    environment: str | None,
    prune: bool,
    token: str | None,
    retries: int,
    verbose: bool,
) -> tuple[Plan, ApiManagementClient]:
    from apimgen.deploy.session import plan_spec

    return plan_spec(spec, options, environment, prune, _connect(token, retries, verbose))


def _options(
    subscription_id: str | None,
    resource_group: str | None,
    service: str | None,
    cloud: str,
    arm_endpoint: str | None,
) -> TargetOptions:
    from apimgen.deploy.session import TargetOptions

    return TargetOptions(subscription_id, resource_group, service, cloud, arm_endpoint)


def plan(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Spec file (YAML).", metavar="SPEC")],
    out_file: Annotated[
        Path | None, typer.Option("-o", "--out", help="Save the plan here for `apply`.")
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 0 for no changes, 2 for changes."),
    ] = False,
    prune: PruneOption = False,
    output_format: Annotated[
        PlanFormat,
        typer.Option(
            "--format", help="text, json, or markdown (a pull-request comment).", show_default=False
        ),
    ] = PlanFormat.text,
    as_json: JsonOption = False,
    environment: EnvironmentOption = None,
    subscription_id: SubscriptionOption = None,
    resource_group: ResourceGroupOption = None,
    service: ServiceOption = None,
    cloud: CloudOption = "AzureCloud",
    arm_endpoint: EndpointOption = None,
    access_token: TokenOption = None,
    max_retries: RetriesOption = 6,
) -> None:
    """Show what apply would change in a live API Management instance."""
    chosen = PlanFormat.json if as_json else output_format

    def action(out: Output) -> int:
        from apimgen.deploy.markdown import plan_markdown
        from apimgen.deploy.plan import save_plan
        from apimgen.deploy.view import plan_lines

        options = _options(subscription_id, resource_group, service, cloud, arm_endpoint)
        result, _ = _plan(spec, options, environment, prune, access_token, max_retries, out.verbose)
        if chosen is PlanFormat.json:
            out.json({"schema": "apimgen.plan/v1", **result.to_json()})
        elif chosen is PlanFormat.markdown:
            out.raw(plan_markdown(result))
        else:
            out.lines(plan_lines(result, out.verbose))
        if out_file is not None:
            try:
                save_plan(result, out_file)
            except OSError as error:
                raise ApimgenError(f"{out_file}: cannot write: {error.strerror}") from None
            out.info(f"Saved the plan to {out_file}; apply it with `apimgen apply {out_file}`.")
        return PLAN_CHANGES if detailed_exitcode and result.changes else ExitCode.OK

    run_command(ctx, action, json_schema="apimgen.plan/v1" if chosen is PlanFormat.json else None)


def _is_plan_file(path: Path) -> bool:
    """A saved plan is known by its content (its format tag), whatever its name: ``plan -o
    tfplan`` then ``apply tfplan`` works as terraform's does. A ``.json`` name counts too, so a
    damaged plan is reported as one rather than read as a spec."""
    from apimgen.deploy.plan import is_plan_document

    return path.suffix.lower() == ".json" or is_plan_document(path)


def _saved_plan(
    path: Path, token: str | None, retries: int, given: TargetOptions, verbose: bool
) -> tuple[Plan, ApiManagementClient]:
    from apimgen.deploy.apply import check_fresh
    from apimgen.deploy.plan import load_plan
    from apimgen.deploy.session import read_instance

    saved = load_plan(path)
    _refuse_other_target(saved.target, given)
    client = _connect(token, retries, verbose)(saved.target)
    check_fresh(saved, read_instance(client, saved.target))
    return saved, client


def _refuse_other_target(target: Target, given: TargetOptions) -> None:
    from apimgen.deploy.target import Target

    for flag, value, planned in (
        ("--subscription-id", given.subscription_id, target.subscription_id),
        ("--resource-group", given.resource_group, target.resource_group),
        ("--service", given.service, target.service),
    ):
        if value is not None and value != planned:
            raise ApimgenError(
                f"the plan is for {target.describe()}, but {flag} says {value!r}",
                hint="a saved plan is applied to the instance it was made for; plan again",
            )
    # The endpoint comes from this invocation, never from the file: a plan file handed over
    # by someone else must not be able to send this identity's token elsewhere.
    here = Target("-", "-", "-", given.cloud, given.arm_endpoint).endpoint
    if here != target.endpoint:
        raise ApimgenError(
            f"the plan was made against {target.endpoint}, but this apply would talk to {here}",
            hint="apply a plan with the same --cloud/--arm-endpoint it was made with",
        )


def _interactive() -> bool:
    return sys.stdin.isatty()


def _confirm(plan: Plan) -> bool:
    if not _interactive():
        raise ApimgenError(
            "refusing to apply without confirmation: stdin is not a terminal",
            hint="review the plan and pass --auto-approve (as a CI step does)",
        )
    answer = typer.prompt(
        f"Apply these changes to {plan.target.service}? Only 'yes' is accepted",
        default="",
        show_default=False,
    )
    return bool(answer.strip() == "yes")


def apply(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(help="Spec file (YAML), or a plan saved by `plan -o`.", metavar="SPEC|PLAN"),
    ],
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking (CI).")
    ] = False,
    prune: PruneOption = False,
    as_json: JsonOption = False,
    environment: EnvironmentOption = None,
    subscription_id: SubscriptionOption = None,
    resource_group: ResourceGroupOption = None,
    service: ServiceOption = None,
    cloud: CloudOption = "AzureCloud",
    arm_endpoint: EndpointOption = None,
    access_token: TokenOption = None,
    max_retries: RetriesOption = 6,
) -> None:
    """Apply the spec (or a saved plan) to a live API Management instance."""

    def action(out: Output) -> int:
        from apimgen.deploy.apply import apply_plan
        from apimgen.deploy.secrets import resolve_secrets
        from apimgen.deploy.view import apply_lines, change_lines, plan_lines

        options = _options(subscription_id, resource_group, service, cloud, arm_endpoint)
        if _is_plan_file(source):
            if prune or environment:
                raise ApimgenError(
                    "--prune and --environment are fixed when the plan is made",
                    hint="pass them to `apimgen plan`",
                )
            planned, client = _saved_plan(source, access_token, max_retries, options, out.verbose)
        else:
            planned, client = _plan(
                source, options, environment, prune, access_token, max_retries, out.verbose
            )
        if not as_json:
            out.lines(plan_lines(planned, out.verbose))
        if not planned.changes:
            if as_json:
                out.json({"schema": "apimgen.apply/v1", "plan": planned.to_json(), "result": None})
            return ExitCode.OK
        secrets = resolve_secrets(planned, os.environ, client)
        if not auto_approve and not _confirm(planned):
            out.error("apply cancelled; nothing was changed")
            return ExitCode.ERROR

        def progress(change: Change) -> None:
            if not as_json:
                _, text = change_lines(change, False)[0]
                out.info("applying" + text[1:])

        report = apply_plan(client, planned, secrets, progress)
        if as_json:
            out.json({"schema": "apimgen.apply/v1", "plan": planned.to_json(), **report.to_json()})
        else:
            out.lines(apply_lines(report))
            if not report.complete:
                out.error(
                    "the instance is partly updated",
                    hint="fix the cause and run `apimgen apply SPEC` again (a saved plan is "
                    "stale now; plan anew): every change is idempotent, so a rerun converges",
                )
        if report.interrupted:
            return ExitCode.INTERRUPTED
        return ExitCode.OK if report.complete else ExitCode.ERROR

    run_command(ctx, action, json_schema="apimgen.apply/v1" if as_json else None)


_APIOPS = "From an APIOps extractor folder (no access to the instance needed)"


def import_(
    ctx: typer.Context,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Folder for gateway.yaml and the policy files (replaced as a whole; never one "
            "apimgen did not write).",
        ),
    ],
    from_apiops: Annotated[
        Path | None,
        typer.Option(
            "--from-apiops",
            help="Read the artifacts the APIOps extractor wrote instead of a live instance.",
            rich_help_panel=_APIOPS,
        ),
    ] = None,
    location: Annotated[
        str | None,
        typer.Option("--location", help="The service's region.", rich_help_panel=_APIOPS),
    ] = None,
    publisher_name: Annotated[
        str | None,
        typer.Option("--publisher-name", help="The service's publisher.", rich_help_panel=_APIOPS),
    ] = None,
    publisher_email: Annotated[
        str | None,
        typer.Option("--publisher-email", help="The publisher's address.", rich_help_panel=_APIOPS),
    ] = None,
    as_json: JsonOption = False,
    subscription_id: SubscriptionOption = None,
    resource_group: ResourceGroupOption = None,
    service: ServiceOption = None,
    cloud: CloudOption = "AzureCloud",
    arm_endpoint: EndpointOption = None,
    access_token: TokenOption = None,
    max_retries: RetriesOption = 6,
) -> None:
    """Read a live API Management instance (or an APIOps extractor folder) into a spec: adopt
    a gateway that already runs."""

    def action(out: Output) -> int:
        from apimgen.importer.policy_keys import map_policies
        from apimgen.importer.to_spec import spec_from_live
        from apimgen.importer.write import write_import

        if from_apiops is not None:
            service_body, live, group, name = _from_apiops(
                from_apiops, resource_group, service, location, publisher_name, publisher_email
            )
        else:
            from apimgen.deploy.session import read_service, resolve_target

            if not (resource_group and service):
                raise ApimgenError(
                    "import: which instance? give --resource-group and --service",
                    hint="or APIMGEN_RESOURCE_GROUP and APIMGEN_SERVICE; --from-apiops DIR reads "
                    "an APIOps extractor folder instead",
                )
            options = _options(subscription_id, resource_group, service, cloud, arm_endpoint)
            target = resolve_target(options, None, None)
            client = _connect(access_token, max_retries, out.verbose)(target)
            service_body, live = read_service(client, target)
            group, name = target.resource_group, target.service
        imported = spec_from_live(service_body, (group, name), live)
        map_policies(imported)
        write_import(imported, output)
        if as_json:
            out.json({"schema": "apimgen.import/v1", "ok": True, **imported.summary.to_json()})
        else:
            out.lines([("", line) for line in imported.summary.lines(str(output))])
            out.info(f"Next: apimgen plan {output / 'gateway.yaml'} (it should change nothing).")
        return ExitCode.OK

    run_command(ctx, action, json_schema="apimgen.import/v1" if as_json else None)


def _from_apiops(
    folder: Path,
    resource_group: str | None,
    service: str | None,
    location: str | None,
    publisher_name: str | None,
    publisher_email: str | None,
) -> tuple[dict[str, Any], dict[str, LiveResource], str, str]:
    """The artifacts as live resources, and the service the extractor does not record."""
    from apimgen.importer.apiops import read_apiops

    given = {
        "--resource-group": resource_group,
        "--service": service,
        "--location": location,
        "--publisher-name": publisher_name,
        "--publisher-email": publisher_email,
    }
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        raise ApimgenError(
            f"--from-apiops: missing {', '.join(missing)}",
            hint="the extractor's folder does not record the service itself; say which one",
        )
    assert resource_group and service
    body = {
        "location": location,
        "properties": {"publisherName": publisher_name, "publisherEmail": publisher_email},
    }
    return body, read_apiops(folder), resource_group, service
