"""Applying a plan: one write per change, in the plan's order, each guarded by the ETag the
plan saw, stopping at the first failure with an exact account of what was and was not done.

Throttling (429 with Retry-After) and transient 5xx are retried by the SDK client's retry
policy (configured in :mod:`apimgen.deploy.client`); what still fails is a hard failure. Every
change is idempotent (a PUT of the whole body or a DELETE), so rerunning plan/apply after a
failure or Ctrl-C converges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from apimgen.deploy.desired import map_secrets
from apimgen.deploy.live import LiveResource, read_etag, sdk_call_names
from apimgen.deploy.plan import Change, Plan, live_digests
from apimgen.errors import ApimgenError

if TYPE_CHECKING:
    from azure.mgmt.apimanagement import ApiManagementClient

__all__ = ["ApplyReport", "Outcome", "apply_plan", "check_fresh"]

Status = Literal["applied", "failed", "interrupted", "not attempted"]


@dataclass(frozen=True)
class Outcome:
    change: Change
    status: Status
    message: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "path": self.change.path,
            "action": self.change.action,
            "status": self.status,
            "message": self.message,
        }


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(outcome.status == "applied" for outcome in self.outcomes)

    @property
    def interrupted(self) -> bool:
        return any(outcome.status == "interrupted" for outcome in self.outcomes)

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "applied": self.count("applied"),
            "outcomes": [outcome.to_json() for outcome in self.outcomes],
        }


class StalePlanError(ApimgenError):
    """The live instance changed after the plan was made."""


def check_fresh(plan: Plan, live: dict[str, LiveResource]) -> None:
    """Refuse a saved plan when any resource it read was changed, added or removed since."""
    now = live_digests(live)
    moved = sorted(
        path for path in set(now) | set(plan.live) if now.get(path) != plan.live.get(path)
    )
    if moved:
        shown = ", ".join(moved[:8]) + (f" and {len(moved) - 8} more" if len(moved) > 8 else "")
        raise StalePlanError(
            f"the live instance changed since the plan was made: {shown}",
            hint="run `apimgen plan` again and review the new plan",
        )


def _write(
    client: ApiManagementClient, plan: Plan, change: Change, secrets: Mapping[str, str]
) -> None:
    from azure.mgmt.apimanagement import models

    kind = change.resource_kind
    target = plan.target
    group = getattr(client, kind.group)
    names = sdk_call_names(kind, change.path)
    where = (target.resource_group, target.service, *names)
    if change.action == "delete":
        extra: dict[str, Any] = {}
        if kind.has_etag:
            extra["if_match"] = read_etag(client, target, kind, change.path) or "*"
        if kind.long_running_delete:
            group.begin_delete(*where, **extra).result()
        else:
            group.delete(*where, **extra)
        return
    if not kind.has_body:
        group.create_or_update(*where)
        return
    body = {"properties": map_secrets(change.properties, lambda ref: secrets[ref.env])}
    parameters = getattr(models, kind.model).deserialize(body)
    if_match = read_etag(client, target, kind, change.path) if change.action == "update" else None
    if kind.long_running_create:
        group.begin_create_or_update(*where, parameters=parameters, if_match=if_match).result()
    else:
        group.create_or_update(*where, parameters=parameters, if_match=if_match)


def describe_failure(error: Exception) -> str:
    """One line for an SDK error: status, ARM error code and message."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(error, HttpResponseError):
        code = getattr(error.error, "code", None) if error.error else None
        message = getattr(error.error, "message", None) if error.error else None
        text = message or str(error.reason or error.message).splitlines()[0]
        if error.status_code is None:  # raised before any answer (a credential, a socket)
            return text
        return f"HTTP {error.status_code}{f' {code}' if code else ''}: {text}"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def apply_plan(
    client: ApiManagementClient,
    plan: Plan,
    secrets: Mapping[str, str],
    on_change: Callable[[Change], None] = lambda change: None,
) -> ApplyReport:
    """Apply every change in order; stop at the first failure or on Ctrl-C."""
    from azure.core.exceptions import AzureError

    report = ApplyReport()
    pending = list(plan.changes)
    while pending:
        change = pending.pop(0)
        on_change(change)
        try:
            _write(client, plan, change, secrets)
        except KeyboardInterrupt:
            message = "interrupted while in flight: it may or may not have been applied"
            report.outcomes.append(Outcome(change, "interrupted", message))
            break
        except AzureError as error:
            report.outcomes.append(Outcome(change, "failed", describe_failure(error)))
            break
        report.outcomes.append(Outcome(change, "applied"))
    report.outcomes.extend(Outcome(change, "not attempted") for change in pending)
    return report
