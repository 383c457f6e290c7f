"""A local fake of the API Management management-plane REST API (api-version 2024-05-01) for
driving the real Azure SDK client.

It behaves the way the tests need ARM to behave: ARM paths under a service; ETags with If-Match
(412 when stale); 404 for what does not exist, including a child whose parent does not; 400 when
a body references a sibling that does not exist (pool members, a diagnostic's logger, a
subscription's scope, a product's API) and 409 when deleting a logger a diagnostic still uses;
both long-running-operation styles (``Azure-AsyncOperation`` and ``Location``) for the
operations the SDK polls; and what API Management does to what it stores: policy XML
reformatted, secret values never returned, a logger's instrumentation key moved into a named
value of its own, server-only fields added. Faults (429 with Retry-After, 5xx, 400, slow
answers) are injected per method and path fragment. Serves only 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

from tests.fakes.https import https_server

API_VERSION = "2024-05-01"
SERVICE = re.compile(
    r"^(?P<service>/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.ApiManagement/service/(?P<name>[^/]+))(?P<rest>(?:/[^/]+)*)/?$",
    re.IGNORECASE,
)
# Resources outside API Management that apply reads secrets from, at the versions it uses.
OTHER_API_VERSIONS = {"microsoft.insights": "2020-02-02", "microsoft.cache": "2025-07-01"}
STATUS_PATH = "/providers/Microsoft.ApiManagement/operationsStatus/"
# Types the SDK creates (PUT) or deletes with a long-running operation.
LRO_PUT = ("namedvalues", "apis", "policyfragments")
LRO_DELETE = ("apis", "users")

LroStyle = Literal["none", "azure-async-operation", "location"]


@dataclass
class Fault:
    method: str
    path_contains: str
    status: int
    times: int = 1
    retry_after: float | None = None  # sent as Retry-After seconds
    delay: float = 0.0  # answer this late (slow responses, Ctrl-C while in flight)


@dataclass
class ArmState:
    """What the fake holds: resources by lower-cased ARM id, requests seen, faults pending."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lro_style: LroStyle = "azure-async-operation"
    page_size: int = 0  # lists answer this many at a time with a nextLink; 0: all at once
    # Resources outside API Management, by lower-cased id: GET answers the body; a POST to
    # ``<id>/listKeys`` answers ``keys[id]``.
    external: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path_contains in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def add_service(self, subscription: str, group: str, name: str) -> str:
        path = (
            f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
            f"Microsoft.ApiManagement/service/{name}"
        )
        body = {
            "id": path,
            "type": "Microsoft.ApiManagement/service",
            "name": name,
            "location": "swedencentral",
            "sku": {"name": "Developer", "capacity": 1},
            "properties": {"publisherEmail": "a@b.c", "publisherName": "p"},
        }
        body["etag"] = _etag(body)
        self.resources[path.lower()] = body
        return path

    def paths(self) -> list[str]:
        """Paths under the service of everything stored (for assertions), sorted."""
        found = []
        for resource in self.resources.values():
            match = SERVICE.match(resource["id"])
            if match and match["rest"]:
                found.append(match["rest"].strip("/"))
        return sorted(found)

    def properties(self, relative: str) -> dict[str, Any]:
        key = next(k for k, r in self.resources.items() if k.endswith("/" + relative.lower()))
        return dict(self.resources[key]["properties"])

    def edit(self, relative: str, **changes: Any) -> None:
        """Change a stored resource the way a portal user would (new ETag)."""
        key = next(k for k in self.resources if k.endswith("/" + relative.lower()))
        resource = self.resources[key]
        resource["properties"] = {**resource["properties"], **changes}
        resource["etag"] = _etag(resource)


def _etag(body: dict[str, Any]) -> str:
    payload = {k: v for k, v in body.items() if k != "etag"}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return f'"{digest}"'


def _reformat_policy(text: str) -> str:
    """What API Management does to stored policy XML: CRLF, tab indentation."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\r\n".join("\t" * ((len(x) - len(x.lstrip(" "))) // 2) + x.lstrip(" ") for x in lines)


def _collection_of(rest: str) -> str:
    """``apis`` for ``/apis/chat``, ``operations`` for ``/apis/chat/operations/x``."""
    return rest.strip("/").split("/")[-2].lower() if rest.count("/") >= 2 else ""


class _Handler(BaseHTTPRequestHandler):
    state: ClassVar[ArmState]
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    sent: dict[str, Any]

    def log_message(self, *args: object) -> None:
        return

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        self._send(status, {"error": {"code": code, "message": message}}, headers)

    # --- long-running operations -------------------------------------------------------
    def _base(self) -> str:
        return f"https://{self.headers['Host']}"

    def _start_operation(self, method: str, path: str, result: Any) -> None:
        """Answer 201 (PUT, with the body so far) or 202 (DELETE) and let the client poll, in
        the configured style, as the SDK's long-running operations expect."""
        operation = str(next(self.state._ids))
        style = self.state.lro_style
        self.state.operations[operation] = {"polls": 0, "result": result, "method": method}
        url = f"{self._base()}{path.split('/providers/', maxsplit=1)[0]}{STATUS_PATH}{operation}"
        url += f"?api-version={API_VERSION}"
        header = "Azure-AsyncOperation" if style == "azure-async-operation" else "Location"
        status = 201 if method == "PUT" else 202
        self._send(status, result, {header: url, "Retry-After-Ms": "20"})

    def _poll(self, operation_id: str) -> None:
        operation = self.state.operations.get(operation_id)
        if operation is None:
            self._error(404, "OperationNotFound", operation_id)
            return
        operation["polls"] += 1
        done = operation["polls"] > 1
        if self.state.lro_style == "azure-async-operation":
            status = "Succeeded" if done else "InProgress"
            self._send(200, {"status": status}, {"Retry-After-Ms": "20"})
        elif not done:
            self._send(202, None, {"Location": self._base() + self.path, "Retry-After-Ms": "20"})
        elif operation["method"] == "DELETE" or operation["result"] is None:
            self._send(204)
        else:
            self._send(200, operation["result"])

    # --- routing ------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        self.state.requests.append((method, self.path))
        # Read the body whatever the answer, or it would corrupt the kept-alive connection.
        length = int(self.headers.get("Content-Length") or 0)
        self.sent = json.loads(self.rfile.read(length)) if length else {}
        url = urlsplit(self.path)
        provider = url.path.lower().split("/providers/", 1)[-1].split("/", 1)[0]
        expected = OTHER_API_VERSIONS.get(provider, API_VERSION)
        if parse_qs(url.query).get("api-version") != [expected]:
            self._error(400, "InvalidApiVersionParameter", f"api-version must be {expected}")
            return
        fault = self.state.take_fault(method, url.path)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status >= 400:  # below that the fault only slows the answer down
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                self._error(fault.status, "InjectedFault", "injected by the test", **headers)
                return
        if STATUS_PATH.lower() in url.path.lower():
            self._poll(url.path.rsplit("/", 1)[1])
            return
        match = SERVICE.match(url.path)
        if match is None:
            self._outside(method, url.path.rstrip("/").lower())
            return
        with self.state.lock:
            self._resource(method, url.path.rstrip("/"), match)

    def _outside(self, method: str, key: str) -> None:
        if method == "GET" and key in self.state.external:
            self._send(200, self.state.external[key])
        elif method == "POST" and key.endswith("/listkeys") and key[:-9] in self.state.keys:
            self._send(200, self.state.keys[key[:-9]])
        else:
            self._error(404, "ResourceNotFound", f"no such resource {key}")

    def _resource(self, method: str, path: str, match: re.Match[str]) -> None:
        resources, key = self.state.resources, path.lower()
        service_key = match["service"].lower()
        existing = resources.get(key)
        if service_key not in resources:
            self._error(404, "ResourceNotFound", f"service {match['name']} not found")
            return
        if method == "GET":
            skip = int((parse_qs(urlsplit(self.path).query).get("$skip") or ["0"])[0])
            self._get(path, key, existing, skip)
            return
        parent = key.rsplit("/", 2)[0]
        if parent not in resources:
            self._error(404, "ParentResourceNotFound", f"{parent} does not exist")
            return
        if_match = self.headers.get("If-Match")
        if existing is not None and if_match not in (None, "*", existing["etag"]):
            self._error(412, "PreconditionFailed", "the resource changed since it was read")
            return
        collection = _collection_of(match["rest"])
        if method == "DELETE":
            self._delete(key, existing, collection)
            return
        if method == "PUT":
            self._put(path, key, existing, collection, match, self.sent)
            return
        self._error(405, "MethodNotAllowed", method)

    def _get(self, path: str, key: str, existing: dict[str, Any] | None, skip: int) -> None:
        if existing is not None:
            self._send(200, _public(existing), {"ETag": existing["etag"]})
            return
        if path.count("/") % 2 == 1:  # a collection path: list it
            children = [
                _public(r) for k, r in sorted(self.state.resources.items())
                if k.rsplit("/", 1)[0] == key
            ]  # fmt: skip
            page = {"value": children}
            size = self.state.page_size
            if size:
                page["value"] = children[skip : skip + size]
                if skip + size < len(children):
                    next_query = f"api-version={API_VERSION}&$skip={skip + size}"
                    page["nextLink"] = f"{self._base()}{path}?{next_query}"  # type: ignore[assignment]
            self._send(200, page)
            return
        self._error(404, "ResourceNotFound", f"{path} not found")

    def _delete(self, key: str, existing: dict[str, Any] | None, collection: str) -> None:
        resources = self.state.resources
        if existing is None:
            self._send(204)
            return
        if collection == "loggers":
            users = [
                r["id"] for r in resources.values()
                if str(r["properties"].get("loggerId", "")).lower() == key
            ]  # fmt: skip
            if users:
                self._error(409, "Conflict", f"logger is in use by {users[0]}")
                return
        for child in [k for k in resources if k == key or k.startswith(key + "/")]:
            del resources[child]
        if collection in LRO_DELETE:
            if self.state.lro_style == "none":
                self._send(204)
            else:
                self._start_operation("DELETE", existing["id"], None)
            return
        self._send(200)

    def _missing_reference(self, properties: dict[str, Any], collection: str) -> str | None:
        references: list[str] = []
        if collection == "backends":
            references += [s["id"] for s in (properties.get("pool") or {}).get("services", [])]
        if collection == "diagnostics":
            references.append(properties.get("loggerId", ""))
        if collection == "subscriptions" and properties.get("scope") != "/apis":
            references.append(properties.get("scope", ""))
        for reference in references:
            if str(reference).lower() not in self.state.resources:
                return str(reference)
        return None

    def _put(
        self,
        path: str,
        key: str,
        existing: dict[str, Any] | None,
        collection: str,
        match: re.Match[str],
        sent: dict[str, Any],
    ) -> None:
        resources = self.state.resources
        properties = dict(sent.get("properties") or {})
        if collection == "apis" and "/products/" in key:
            api = f"{match['service']}/apis/{path.rsplit('/', 1)[1]}".lower()
            if api not in resources:
                self._error(404, "ResourceNotFound", f"API {api} not found")
                return
        missing = self._missing_reference(properties, collection)
        if missing is not None:
            self._error(400, "ValidationError", f"referenced entity {missing} not found")
            return
        stored = self._as_stored(properties, collection, match)
        segments = path.split("/")
        resource = {
            "id": path,
            "type": "Microsoft.ApiManagement/service/" + "/".join(segments[9:-1:2]),
            "name": segments[-1],
            "properties": stored,
        }
        resource["etag"] = _etag(resource)
        resources[key] = resource
        if collection in LRO_PUT and self.state.lro_style != "none" and "/products/" not in key:
            self._start_operation("PUT", path, _public(resource))
            return
        self._send(201 if existing is None else 200, _public(resource), {"ETag": resource["etag"]})

    def _as_stored(
        self, properties: dict[str, Any], collection: str, match: re.Match[str]
    ) -> dict[str, Any]:
        """Keep what was sent the way API Management keeps it."""
        if collection in ("policies", "policyfragments") and "value" in properties:
            properties["value"] = _reformat_policy(str(properties["value"]))
            properties["format"] = "xml"
        if collection == "policyfragments":
            properties["provisioningState"] = "Succeeded"
        if collection == "apis" and "/products/" not in match["rest"].lower():
            properties.update(apiRevision="1", isCurrent=True)
        if collection == "namedvalues" and properties.get("keyVault"):
            properties["keyVault"] = {
                **properties["keyVault"],
                "lastStatus": {"code": "Success", "timeStampUtc": "2026-01-01T00:00:00Z"},
            }
        credentials = properties.get("credentials") or {}
        key = credentials.get("instrumentationKey")
        if collection == "loggers" and key and not str(key).startswith("{{"):
            name = "Logger-Credentials--" + hashlib.sha256(str(key).encode()).hexdigest()[:24]
            named = f"{match['service']}/namedValues/{name}"
            self.state.resources[named.lower()] = {
                "id": named,
                "type": "Microsoft.ApiManagement/service/namedValues",
                "name": name,
                "properties": {"displayName": name, "secret": True, "value": key},
                "etag": '"auto"',
            }
            properties["credentials"] = {"instrumentationKey": "{{" + name + "}}"}
        return properties


def _public(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource as GET returns it: secret values are never in the answer."""
    properties = dict(resource["properties"])
    if properties.get("secret"):
        properties.pop("value", None)
    properties.pop("connectionString", None)
    return {**resource, "properties": properties}


class _Methods(_Handler):
    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")


@contextmanager
def fake_arm(folder: Path) -> Iterator[tuple[str, Path, ArmState]]:
    """Start the fake; yields its base URL, the CA bundle to trust, and its state."""
    state = ArmState()
    handler = type("Handler", (_Methods,), {"state": state})
    with https_server(handler, folder) as (url, ca_bundle):
        yield url, ca_bundle, state
