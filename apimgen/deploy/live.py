"""Live state: every child of the service that plan/apply manages, read through the SDK.

Lists are walked from the service down (APIs → operations → policies, products → APIs and
policies). Lists carry no ETags, so :func:`read_etag` fetches one for just the resources a plan
will change. Bodies are the SDK models serialised back to REST JSON, so live and desired share
one shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apimgen.deploy.kinds import KINDS, ORDER, Kind, kind_named

if TYPE_CHECKING:
    from azure.mgmt.apimanagement import ApiManagementClient

    from apimgen.deploy.target import Target

__all__ = ["LiveResource", "read_etag", "read_live", "sdk_call_names"]

# Created by API Management itself for a logger's instrumentation key; never ours to manage.
_SERVER_CREATED_PREFIXES = ("namedValues/Logger-Credentials--",)


@dataclass(frozen=True)
class LiveResource:
    path: str
    kind: Kind
    properties: dict[str, Any]


def sdk_call_names(kind: Kind, path: str) -> tuple[str, ...]:
    return kind.names(tuple(path.split("/")))


def _items(result: Any) -> Iterable[Any]:
    """SDK lists are pagers, except the API and operation policy lists (one collection)."""
    value = getattr(result, "value", None)
    return value if isinstance(value, list) else result


class _Reader:
    def __init__(self, client: ApiManagementClient, target: Target) -> None:
        self.client = client
        self.target = target
        self.found: dict[str, LiveResource] = {}

    def list(self, kind: Kind, prefix: str, *parent_names: str) -> list[str]:
        group = getattr(self.client, kind.group)
        method = getattr(group, kind.list_method)
        paths = []
        for item in _items(method(self.target.resource_group, self.target.service, *parent_names)):
            collection = kind.pattern[-2]
            path = f"{prefix}{collection}/{item.name}"
            if path.startswith(_SERVER_CREATED_PREFIXES):
                continue
            body = item.serialize(keep_readonly=True) if kind.has_body else {}
            self.found[path] = LiveResource(path, kind, body.get("properties") or {})
            paths.append(path)
        return paths

    def read(self) -> dict[str, LiveResource]:
        # Children of the service first, then what hangs below APIs, operations and products.
        listed = {kind.name: self.list(kind, "") for kind in KINDS if len(kind.pattern) == 2}
        for api_path in listed["api"]:
            api = api_path.split("/")[1]
            self.list(kind_named("API policy"), f"{api_path}/", api)
            for operation_path in self.list(kind_named("operation"), f"{api_path}/", api):
                operation = operation_path.split("/")[-1]
                self.list(kind_named("operation policy"), f"{operation_path}/", api, operation)
        for product_path in listed["product"]:
            product = product_path.split("/")[1]
            self.list(kind_named("product API"), f"{product_path}/", product)
            self.list(kind_named("product policy"), f"{product_path}/", product)
        return dict(sorted(self.found.items(), key=lambda item: ORDER[item[1].kind.name]))


def read_live(client: ApiManagementClient, target: Target) -> dict[str, LiveResource]:
    """Every managed-kind resource of the service, by path; raises azure-core errors."""
    return _Reader(client, target).read()


def read_etag(client: ApiManagementClient, target: Target, kind: Kind, path: str) -> str | None:
    """The resource's current ETag (None when the kind has none or it is gone)."""
    from azure.core.exceptions import ResourceNotFoundError

    if not kind.has_etag:
        return None
    group = getattr(client, kind.group)
    extra: dict[str, Any] = {"format": "rawxml"} if kind.model == "PolicyContract" else {}
    try:
        etag: str | None = group.get(
            target.resource_group,
            target.service,
            *sdk_call_names(kind, path),
            cls=lambda _response, _body, headers: headers.get("ETag"),
            **extra,
        )
    except ResourceNotFoundError:
        return None
    return etag
