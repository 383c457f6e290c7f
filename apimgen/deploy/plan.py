"""The plan: what apply will create, update and delete, property by property, in order.

A plan is computed from the desired state and the live state and can be saved as JSON and
applied later exactly as it was shown. It records a fingerprint of every live resource it read,
so applying it after someone changed the instance is refused instead of silently undone.
Secrets are never in it: a secret property is a reference to the environment variable that
supplies it at apply time.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from apimgen.deploy.desired import SECRET_KEY, DesiredState, SecretRef, map_secrets
from apimgen.deploy.kinds import MANAGED_MARK, NAMED_VALUE_TAG, ORDER, Kind, kind_for_path
from apimgen.deploy.live import LiveResource
from apimgen.deploy.normalise import comparable, differences, digest, path_under_service
from apimgen.deploy.target import Target
from apimgen.errors import ApimgenError, InputError
from apimgen.files import FileTooLargeError, read_bounded

__all__ = [
    "PLAN_FORMAT",
    "Change",
    "Plan",
    "compute_plan",
    "is_plan_document",
    "live_digests",
    "load_plan",
]

PLAN_FORMAT = "apimgen.plan/v1"

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Change:
    path: str
    action: Action
    differences: tuple[tuple[str, Any, Any], ...] = ()
    policy_diff: str = ""
    properties: dict[str, Any] | None = None  # the body to send (create/update)
    adopt: bool = False  # an update that takes over a resource apimgen did not create

    @property
    def resource_kind(self) -> Kind:
        kind = kind_for_path(self.path)
        assert kind is not None, self.path  # paths come from the kind table
        return kind

    @property
    def kind(self) -> str:
        return self.resource_kind.name

    @property
    def secrets(self) -> tuple[str, ...]:
        """Environment variables this change needs."""
        found: list[str] = []
        map_secrets(self.properties, lambda ref: found.append(ref.env))  # collects, maps nothing
        return tuple(dict.fromkeys(found))

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "action": self.action,
            "adopt": self.adopt,
            "differences": [
                {"property": p, "live": old, "desired": new} for p, old, new in self.differences
            ],
            "policy_diff": self.policy_diff or None,
            "properties": map_secrets(self.properties, SecretRef.to_json),
        }


@dataclass(frozen=True)
class Plan:
    target: Target
    spec: str
    environment: str | None
    prune: bool
    changes: tuple[Change, ...]
    orphans: tuple[str, ...]  # apimgen's, no longer in the spec, kept without --prune
    unmanaged: tuple[str, ...]  # not apimgen's, not in the spec: never touched
    outside: tuple[str, ...]  # deployed by Bicep/Terraform, not by apply
    live: dict[str, str] = field(default_factory=dict)  # path → fingerprint when planned

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def summary(self) -> str:
        return (
            f"{self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('delete')} to delete"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "target": self.target.to_json(),
            "spec": self.spec,
            "environment": self.environment,
            "prune": self.prune,
            "summary": {a: self.count(a) for a in ("create", "update", "delete")},
            "changes": [change.to_json() for change in self.changes],
            "orphans": list(self.orphans),
            "unmanaged": list(self.unmanaged),
            "outside": list(self.outside),
            "live": dict(sorted(self.live.items())),
        }


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {SECRET_KEY}:
            return SecretRef(str(value[SECRET_KEY]))
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def owned(resource: LiveResource, live: dict[str, LiveResource]) -> bool:
    """Whether apimgen created ``resource`` (see Kind.marker for where each kind records it)."""
    properties, marker = resource.properties, resource.kind.marker
    if marker == "description":
        return str(properties.get("description") or "").endswith(MANAGED_MARK)
    if marker == "tags":
        return NAMED_VALUE_TAG in (properties.get("tags") or [])
    if marker == "note":
        return str(properties.get("note") or "").endswith(MANAGED_MARK)
    if marker == "parent":
        parent = live.get("/".join(resource.path.split("/")[:2]))
        return parent is not None and owned(parent, live)
    reference_key = {"logger": "loggerId", "scope": "scope"}.get(marker)
    if reference_key is None:
        return False
    referenced = str(properties.get(reference_key) or "")
    # A full id, or the relative spelling "/products/premium".
    relative = path_under_service(referenced) or referenced.strip("/")
    match = next((r for p, r in live.items() if p.lower() == relative.lower()), None)
    return match is not None and owned(match, live)


def _policy_diff(live: dict[str, Any], desired: dict[str, Any], path: str) -> str:
    before, after = live.get("value", ""), desired.get("value", "")
    if before == after:
        return ""
    return "".join(
        difflib.unified_diff(
            str(before).splitlines(keepends=True),
            str(after).splitlines(keepends=True),
            fromfile=f"live/{path}",
            tofile=f"spec/{path}",
        )
    )


def _live_forms(live: dict[str, LiveResource]) -> dict[str, dict[str, Any]]:
    """Each live resource's comparable form, computed once (policies are parsed for it)."""
    return {path: comparable(r.kind, r.properties, path) for path, r in live.items()}


def live_digests(live: dict[str, LiveResource]) -> dict[str, str]:
    return {path: digest(form) for path, form in _live_forms(live).items()}


def compute_plan(
    desired: DesiredState,
    live: dict[str, LiveResource],
    *,
    target: Target,
    spec: str,
    environment: str | None,
    prune: bool,
) -> Plan:
    changes: list[Change] = []
    forms = _live_forms(live)
    wanted = {resource.path for resource in desired.resources}
    for resource in desired.resources:
        current = live.get(resource.path)
        want = comparable(resource.kind, resource.properties, resource.path)
        if current is None:
            changes.append(Change(resource.path, "create", properties=resource.properties))
            continue
        have = forms[resource.path]
        diffs = differences(have, want)
        if not diffs:
            continue
        policy_diff = _policy_diff(have, want, resource.path) if resource.kind.policy_text else ""
        changes.append(
            Change(
                resource.path,
                "update",
                differences=tuple(d for d in diffs if not (policy_diff and d[0] == "value")),
                policy_diff=policy_diff,
                properties=resource.properties,
                # Only kinds that carry a mark can be adopted; the rest follow another resource.
                adopt=current.kind.carries_mark and not owned(current, live),
            )
        )
    orphans, unmanaged, deletions = [], [], []
    for path, found in live.items():
        if path in wanted:
            continue
        if not owned(found, live):
            unmanaged.append(path)
        elif prune:
            deletions.append(path)
        else:
            orphans.append(path)
    # Children go with their parent: delete only the topmost, children first otherwise.
    deleted = set(deletions)
    for path in sorted(deletions, key=lambda p: (-ORDER[live[p].kind.name], -p.count("/"), p)):
        parents = ["/".join(path.split("/")[:n]) for n in range(2, path.count("/") + 1, 2)]
        if not any(parent in deleted for parent in parents):
            changes.append(Change(path, "delete"))
    return Plan(
        target=target,
        spec=spec,
        environment=environment,
        prune=prune,
        changes=tuple(changes),
        orphans=tuple(orphans),
        unmanaged=tuple(unmanaged),
        outside=desired.outside,
        live={path: digest(form) for path, form in forms.items()},
    )


def save_plan(plan: Plan, path: Path) -> None:
    path.write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")


def _check_against_schema(path: Path, document: dict[str, Any]) -> None:
    """A plan file that is not what ``plan -o`` writes is refused before any of it is used:
    it may come from another job, or another hand."""
    from importlib import resources

    from jsonschema import Draft202012Validator

    schema = json.loads(resources.files("apimgen.deploy").joinpath("plan.schema.json").read_text())
    error = next(iter(Draft202012Validator(schema).iter_errors(document)), None)
    if error is not None:
        where = "".join(f"[{part!r}]" for part in error.absolute_path) or "the top level"
        raise ApimgenError(
            f"{path}: the plan file is damaged ({where}: {error.message})",
            hint="make a new one with `apimgen plan SPEC -o plan.json`",
        )


def is_plan_document(path: Path) -> bool:
    """Whether ``path`` holds a saved plan: JSON whose ``format`` is this version's tag. A YAML
    spec never parses as such (its top level is a mapping without that tag, or not JSON)."""
    try:
        with path.open("rb") as stream:
            head = stream.read(64).lstrip()
    except OSError:
        return False
    if not head.startswith(b"{"):
        return False
    try:
        document = json.loads(read_bounded(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, FileTooLargeError, ValueError, RecursionError):
        return False
    return isinstance(document, dict) and document.get("format") == PLAN_FORMAT


def load_plan(path: Path) -> Plan:
    """Read a saved plan; a located error for anything that is not one."""
    try:
        document = json.loads(read_bounded(path).decode("utf-8"))
    except RecursionError:
        raise InputError(
            f"{path}: not a plan file: nested too deeply",
            hint="save one with `apimgen plan SPEC -o plan.json`",
        ) from None
    except (OSError, UnicodeDecodeError, FileTooLargeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(
            f"{path}: cannot read the plan: {reason}",
            hint="save one with `apimgen plan SPEC -o plan.json`",
        ) from error
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}:{error.lineno}:{error.colno}: not a plan file: {error.msg}",
            hint="save one with `apimgen plan SPEC -o plan.json`",
        ) from error
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise InputError(
            f"{path}: not an apimgen plan (expected format {PLAN_FORMAT!r})",
            hint="save one with `apimgen plan SPEC -o plan.json`",
        )
    _check_against_schema(path, document)
    try:
        changes = []
        for item in document["changes"]:
            if kind_for_path(item["path"]) is None:
                raise ValueError(f"unknown resource {item['path']!r}")
            changes.append(
                Change(
                    path=item["path"],
                    action=item["action"],
                    differences=tuple(
                        (d["property"], d["live"], d["desired"]) for d in item["differences"]
                    ),
                    policy_diff=item["policy_diff"] or "",
                    properties=_decode(item["properties"]),
                    adopt=bool(item["adopt"]),
                )
            )
        return Plan(
            target=Target(**document["target"]),
            spec=document["spec"],
            environment=document["environment"],
            prune=bool(document["prune"]),
            changes=tuple(changes),
            orphans=tuple(document["orphans"]),
            unmanaged=tuple(document["unmanaged"]),
            outside=tuple(document["outside"]),
            live=dict(document["live"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ApimgenError(
            f"{path}: the plan file is damaged ({type(error).__name__}: {error})",
            hint="make a new one with `apimgen plan SPEC -o plan.json`",
        ) from error
