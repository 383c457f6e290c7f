"""A local fake of the API Management management-plane REST API (api-version 2024-05-01) for
driving the real Azure SDK client: ARM paths under a service, JSON bodies kept as sent, ETags
with If-Match (412 when stale), 404 for what does not exist, and faults to inject (429 with
Retry-After, 5xx) per method and path fragment. Serves only 127.0.0.1 (see tests/fakes/https.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.fakes.https import https_server

API_VERSION = "2024-05-01"
SERVICE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.ApiManagement/service/(?P<service>[^/]+)(?P<rest>(?:/[^/]+)*)/?$",
    re.IGNORECASE,
)


@dataclass
class Fault:
    method: str
    path_contains: str
    status: int
    times: int = 1
    retry_after: int | None = None


@dataclass
class ArmState:
    """What the fake holds: resources by lower-cased ARM id, requests seen, faults pending."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path_contains in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


def _etag(body: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return f'"{digest}"'


class _Handler(BaseHTTPRequestHandler):
    state: ClassVar[ArmState]
    protocol_version = "HTTP/1.1"

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

    def _route(self) -> tuple[str, str] | None:
        url = urlsplit(self.path)
        if parse_qs(url.query).get("api-version") != [API_VERSION]:
            self._error(400, "InvalidApiVersionParameter", f"api-version must be {API_VERSION}")
            return None
        match = SERVICE.match(url.path)
        if match is None:
            self._error(404, "InvalidResourceType", f"no such path {url.path}")
            return None
        return url.path.rstrip("/"), url.path.rstrip("/").lower()

    def _handle(self, method: str) -> None:
        self.state.requests.append((method, self.path))
        route = self._route()
        if route is None:
            return
        path, key = route
        fault = self.state.take_fault(method, path)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            self._error(fault.status, "InjectedFault", "injected by the test", **headers)
            return
        length = int(self.headers.get("Content-Length") or 0)
        sent = json.loads(self.rfile.read(length)) if length else None
        resources = self.state.resources
        existing = resources.get(key)
        if method == "GET":
            if existing is not None:
                self._send(200, existing, {"ETag": existing["etag"]})
                return
            children = [r for k, r in sorted(resources.items()) if k.rsplit("/", 1)[0] == key]
            if children or path.count("/") % 2 == 1:  # a collection path: list it
                self._send(200, {"value": children})
                return
            self._error(404, "ResourceNotFound", f"{path} not found")
            return
        if_match = self.headers.get("If-Match")
        if existing is not None and if_match not in (None, "*", existing["etag"]):
            self._error(412, "PreconditionFailed", "the resource changed since it was read")
            return
        if method == "DELETE":
            if existing is None:
                self._send(204)
                return
            for child in [k for k in resources if k == key or k.startswith(key + "/")]:
                del resources[child]
            self._send(200)
            return
        if method in ("PUT", "PATCH"):
            properties = dict(existing["properties"]) if existing and method == "PATCH" else {}
            properties.update((sent or {}).get("properties", {}))
            segments = path.split("/")
            resource = {
                "id": path,
                "type": "Microsoft.ApiManagement/service/" + "/".join(segments[9:-1:2]),
                "name": segments[-1],
                "properties": properties,
            }
            resource["etag"] = _etag(resource)
            resources[key] = resource
            self._send(201 if existing is None else 200, resource, {"ETag": resource["etag"]})
            return
        self._error(405, "MethodNotAllowed", method)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


@contextmanager
def fake_arm(folder: Path) -> Iterator[tuple[str, Path, ArmState]]:
    """Start the fake; yields its base URL, the CA bundle to trust, and its state."""
    state = ArmState()
    handler = type("Handler", (_Handler,), {"state": state})
    with https_server(handler, folder) as (url, ca_bundle):
        yield url, ca_bundle, state
