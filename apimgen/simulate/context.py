"""The ``context`` object policy expressions read, as APIM documents it (apim-genai-policies.md
§9.2): Subscription, Product, User, Api, Operation, Request, Response, Variables, Deployment,
LastError and the request's timing and id.

Attribute names are the C# member names on purpose: expressions reach them by name.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qsl

from apimgen.simulate.expr.dictionaries import (
    MultiValueDictionary,
    StringDictionary,
    VariablesDictionary,
)
from apimgen.simulate.expr.typesystem import CSharpObject, Guid, convert
from apimgen.simulate.expr.values import UnsupportedError, from_json

# What a request without headers or route parameters reads: one shared, read-only mapping,
# not a new dictionary for every request.
_NO_ENTRIES: Final[Mapping[str, Any]] = MappingProxyType({})

__all__ = [
    "Api",
    "Body",
    "Context",
    "Deployment",
    "Gateway",
    "LastError",
    "Operation",
    "Product",
    "Request",
    "Response",
    "Subscription",
    "Url",
    "User",
    "body_field",
]


class Body(CSharpObject):
    """A message body. Reading it without ``preserveContent: true`` consumes it, as in APIM:
    later reads see nothing, and the request is forwarded without a body.

    A body may be given as a function that makes its text, so a response nobody reads is
    never serialised."""

    csharp_name = "IMessageBody"
    generic_methods = frozenset({"As"})

    def __init__(self, text: str | Callable[[], str]) -> None:
        self._text = text
        self.consumed = False

    @property
    def text(self) -> str:
        if callable(self._text):
            self._text = self._text()
        return self._text

    def As(self, preserveContent: bool = False, type_args: tuple[str, ...] = ()) -> Any:
        target = type_args[0] if type_args else "string"
        if self.consumed:
            return None
        if not preserveContent:
            self.consumed = True
        if target == "string":
            return self.text
        if target in ("JObject", "JToken", "JArray"):
            return convert(from_json(self.text), target)
        if target == "byte[]":
            return list(self.text.encode("utf-8"))
        raise UnsupportedError(f"Body.As<{target}>()")

    def AsFormUrlEncodedContent(self, preserveContent: bool = False) -> MultiValueDictionary:
        if not preserveContent:
            self.consumed = True
        pairs: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.text):
            pairs.setdefault(key, []).append(value)
        return MultiValueDictionary(pairs)


class Url(CSharpObject):
    csharp_name = "IUrl"

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.Scheme = parts.scheme
        self.Host = parts.hostname or ""
        self.Port = parts.port or (443 if parts.scheme == "https" else 80)
        self._port_text = f":{parts.port}" if parts.port else ""
        self.Path = parts.path
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        self.Query = MultiValueDictionary(query)
        # The query as the caller wrote it, kept while no policy changes the parameters.
        self._query_text = parts.query
        self._query_seen = self.Query.plain()

    @property
    def QueryString(self) -> str:
        """``?a=1&b=2``: the caller's text, or written anew once set-query-parameter or
        rewrite-uri changed the parameters."""
        current = self.Query.plain()
        if current != self._query_seen:
            from urllib.parse import quote, urlencode

            pairs = [(name, value) for name, values in current.items() for value in values]
            self._query_text = urlencode(pairs, quote_via=quote)
            self._query_seen = current
        return f"?{self._query_text}" if self._query_text else ""

    def replace_path_and_query(self, path: str, query: dict[str, list[str]]) -> None:
        """rewrite-uri: a new path and query parameters on the same host."""
        self.Path = path
        self.Query = MultiValueDictionary(query)
        self._query_text, self._query_seen = "", {}

    def rebase(self, base_url: str, prefix: str) -> None:
        """Point this URL at ``base_url``: its scheme, host and port, and its path followed by
        this path past ``prefix`` (the API's path on the gateway, or the last base's path).
        The query stays, with any set-query-parameter changes."""
        from urllib.parse import urlsplit

        base = urlsplit(base_url.strip())
        past = self.Path[len(prefix) :] if _under(self.Path, prefix) else self.Path
        self.Scheme = base.scheme
        self.Host = base.hostname or ""
        self.Port = base.port or (443 if base.scheme == "https" else 80)
        self.Path = base.path.rstrip("/") + past
        self._port_text = f":{base.port}" if base.port else ""

    def ToString(self) -> str:
        return f"{self.Scheme}://{self.Host}{self._port_text}{self.Path}{self.QueryString}"

    def ToUri(self) -> Any:
        from apimgen.simulate.expr.objects import SystemUri

        return SystemUri(self.ToString())


@functools.lru_cache(maxsize=1024)
def _base_path(base_url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(base_url.strip()).path.rstrip("/")


def _under(path: str, prefix: str) -> bool:
    return bool(prefix) and (path == prefix or path.startswith(prefix + "/"))


_UrlType = Url  # the property named Url below shadows the class inside Request


class Request(CSharpObject):
    """The caller's request. Slotted and lazy, like the context: one is made per request, and
    most policies never look at its URL or matched parameters."""

    csharp_name = "IRequest"
    __slots__ = (
        "Body",
        "Certificate",
        "Headers",
        "IpAddress",
        "Method",
        "_matched",
        "_parameters",
        "_reroutes",
        "_routed",
        "_url",
        "url",
    )

    def __init__(
        self,
        Method: str = "POST",
        url: str = "https://gateway.example/",
        headers: Mapping[str, Any] | MultiValueDictionary | None = None,
        IpAddress: str = "203.0.113.10",
        body_text: str | None = None,
        matched: Mapping[str, str] | None = None,
    ) -> None:
        self.Method = Method
        self.url = url
        self.IpAddress = IpAddress
        self.Headers = (
            headers.copy()
            if isinstance(headers, MultiValueDictionary)
            else MultiValueDictionary(headers or _NO_ENTRIES, case_insensitive=True)
        )
        self.Body = Body(body_text) if body_text is not None else None
        self.Certificate = None
        self._matched = matched or _NO_ENTRIES
        self._url: _UrlType | None = None
        self._parameters: StringDictionary | None = None
        self._routed: str | None = None  # the path of the base URL set-backend-service set
        self._reroutes: tuple[tuple[str, str], ...] = ()  # routings Url has not applied yet

    @property
    def routed_base_path(self) -> str | None:
        """The path of the base URL set-backend-service routed the call to, or None."""
        return self._routed

    def route_to(self, base_url: str, api_path: str) -> None:
        """set-backend-service: ``Url`` becomes the backend's (``OriginalUrl`` keeps the
        caller's), its path the backend's base path followed by the operation's path.

        Applied when something reads ``Url``: most requests route and are never asked."""
        prefix = self._routed if self._routed is not None else "/" + api_path.strip("/")
        if self._url is not None:
            self._url.rebase(base_url, prefix.rstrip("/"))
        else:
            self._reroutes = (*self._reroutes, (base_url, prefix.rstrip("/")))
        self._routed = _base_path(base_url)

    @property
    def Url(self) -> _UrlType:
        if self._url is None:
            self._url = _UrlType(self.url)
            for base_url, prefix in self._reroutes:
                self._url.rebase(base_url, prefix)
            self._reroutes = ()
        return self._url

    @property
    def OriginalUrl(self) -> _UrlType:
        return _UrlType(self.url)

    @property
    def Foundry(self) -> FoundryRequest:
        """``context.Request.Foundry``, which the policies Foundry's AI gateway writes read:
        ``Deployment`` is the model deployment the call targets, the body's ``model`` (the v1
        API) or else the URL's ``{deployment-id}`` (inference: no reference page documents
        it; a self-hosted gateway changelog names the property)."""
        # the gateway read the body before any policy could
        model = body_field(self.Body.text, "model") if self.Body is not None else None
        return FoundryRequest(
            model if isinstance(model, str) else self._matched.get("deployment-id")
        )

    @property
    def MatchedParameters(self) -> StringDictionary:
        if self._parameters is None:
            self._parameters = StringDictionary(self._matched)
        return self._parameters


@dataclass(frozen=True)
class FoundryRequest(CSharpObject):
    csharp_name: str = field(default="IFoundryRequest", init=False, repr=False, compare=False)
    Deployment: str | None = None


def body_field(text: str | None, name: str) -> Any:
    """The top-level field ``name`` of a JSON request body, or None: what the gateway reads
    from a call itself (its model, its stream options) without a policy asking."""
    if not text or f'"{name}"' not in text:  # most bodies: no parse
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


class Response(CSharpObject):
    """A response: the backend's, one a policy returned, or the gateway's own error."""

    csharp_name = "IResponse"
    __slots__ = ("Body", "StatusCode", "StatusReason", "_headers", "_raw_headers")

    def __init__(
        self,
        StatusCode: int = 200,
        StatusReason: str = "OK",
        headers: Mapping[str, Any] | None = None,
        body_text: str | Callable[[], str] | None = None,
    ) -> None:
        self.StatusCode = StatusCode
        self.StatusReason = StatusReason
        self._raw_headers = headers
        self._headers: MultiValueDictionary | None = None
        self.Body = Body(body_text) if body_text is not None else None

    @property
    def Headers(self) -> MultiValueDictionary:
        """Made on first use: most responses' headers are read by nothing but the caller."""
        if self._headers is None:
            self._headers = MultiValueDictionary(self._raw_headers or {}, case_insensitive=True)
        return self._headers


# The caller's parts compare and hash by identity: expressions that read only them are
# remembered per part object (expr/compiler.py), and a lookup must not hash every field.
@dataclass(eq=False)
class Subscription(CSharpObject):
    csharp_name: str = field(default="ISubscription", init=False, repr=False, compare=False)
    Id: str = ""
    Name: str = ""
    Key: str = ""
    PrimaryKey: str = ""
    SecondaryKey: str = ""
    CreatedDate: datetime | None = None
    StartDate: datetime | None = None
    EndDate: datetime | None = None


@dataclass(eq=False)
class Product(CSharpObject):
    csharp_name: str = field(default="IProduct", init=False, repr=False, compare=False)
    Id: str = ""
    Name: str = ""
    State: str = "published"
    SubscriptionRequired: bool = True
    ApprovalRequired: bool = False
    SubscriptionLimit: int | None = None
    Groups: list[Any] = field(default_factory=list)
    Apis: list[Any] = field(default_factory=list)


@dataclass(eq=False)
class User(CSharpObject):
    csharp_name: str = field(default="IUser", init=False, repr=False, compare=False)
    Id: str = ""
    Email: str = ""
    FirstName: str = ""
    LastName: str = ""
    Note: str = ""
    Groups: list[Any] = field(default_factory=list)
    Identities: list[Any] = field(default_factory=list)
    RegistrationDate: datetime | None = None


@dataclass(frozen=True)
class SubscriptionKeyParameterNames(CSharpObject):
    """Where callers put their subscription key: APIM's defaults unless the API says."""

    csharp_name: str = field(
        default="ISubscriptionKeyParameterNames", init=False, repr=False, compare=False
    )
    Header: str = "Ocp-Apim-Subscription-Key"
    Query: str = "subscription-key"


_DEFAULT_KEY_NAMES = SubscriptionKeyParameterNames()


@dataclass(eq=False)
class Api(CSharpObject):
    csharp_name: str = field(default="IApi", init=False, repr=False, compare=False)
    Id: str = ""
    Name: str = ""
    Path: str = ""
    Version: str | None = None
    Revision: str = "1"
    IsCurrentRevision: bool = True
    ServiceUrl: Url | None = None
    Protocols: list[str] = field(default_factory=lambda: ["https"])
    SubscriptionKeyParameterNames: SubscriptionKeyParameterNames = _DEFAULT_KEY_NAMES


@dataclass(eq=False)
class Operation(CSharpObject):
    csharp_name: str = field(default="IOperation", init=False, repr=False, compare=False)
    Id: str = ""
    Name: str = ""
    Method: str = "POST"
    UrlTemplate: str = ""


@dataclass(frozen=True)
class Gateway(CSharpObject):
    """``context.Deployment.Gateway``: the simulated gateway is a managed one."""

    csharp_name: str = field(default="IGateway", init=False, repr=False, compare=False)
    Id: str = "managed"
    InstanceId: str = "instance-0"
    IsManaged: bool = True


_MANAGED_GATEWAY = Gateway()


@dataclass(eq=False)
class Deployment(CSharpObject):
    csharp_name: str = field(default="IDeployment", init=False, repr=False, compare=False)
    Region: str = "West Europe"
    ServiceName: str = "apim"
    ServiceId: str = ""
    GatewayId: str = "managed"
    Gateway: Gateway = _MANAGED_GATEWAY


@dataclass
class LastError(CSharpObject):
    csharp_name: str = field(default="ILastError", init=False, repr=False, compare=False)
    Source: str = ""
    Reason: str = ""
    Message: str = ""
    Scope: str = ""
    Section: str = ""
    Path: str = ""
    PolicyId: str = ""


_NO_TIME = timedelta(0)
_LastErrorType = LastError  # the property named LastError below shadows the class
_ResponseType = Response  # as does the one named Response
# and the parameters named after theirs in Context.__init__
_ApiType = Api
_OperationType = Operation
_DeploymentType = Deployment


class Context(CSharpObject):
    """One request's context. Timestamp and the trace log are driven by the simulation.

    A context is made for every simulated request, so it is slotted and builds what few
    policies touch (Variables, the trace log, Timestamp, LastError) on first use.
    The parts that describe the caller (Subscription, Product, User, Api, Operation,
    Deployment) may be shared by a consumer's requests: no policy can change them.
    """

    csharp_name = "IProxyRequestContext"
    __slots__ = (
        "Api",
        "Deployment",
        "Elapsed",
        "Operation",
        "Product",
        "Request",
        "Subscription",
        "Tracing",
        "User",
        "_arrival",
        "_failure",
        "_last_error",
        "_request_id",
        "_response",
        "_timestamp",
        "_traces",
        "_variables",
        "request_label",
    )

    def __init__(
        self,
        Request: Request | None = None,
        Response: _ResponseType | None = None,
        Subscription: Subscription | None = None,
        Product: Product | None = None,
        User: User | None = None,
        Api: Api | None = None,
        Operation: Operation | None = None,
        Deployment: Deployment | None = None,
        LastError: LastError | None = None,
        RequestId: str = "00000000-0000-0000-0000-000000000000",
        Timestamp: datetime | None = None,
        Elapsed: timedelta = _NO_TIME,
        Tracing: bool = False,
    ) -> None:
        self.Request = Request if Request is not None else _RequestType()
        self._response = Response
        self.Subscription = Subscription
        self.Product = Product
        self.User = User
        # Read-only to policies, so one default of each serves every context.
        self.Api: _ApiType = Api if Api is not None else _DEFAULT_API
        self.Operation: _OperationType = Operation if Operation is not None else _DEFAULT_OPERATION
        self.Deployment: _DeploymentType = (
            Deployment if Deployment is not None else _DEFAULT_DEPLOYMENT
        )
        self._last_error = LastError
        self._failure: tuple[str, str, str, str, str, str] | None = None
        self.request_label = RequestId  # how reports name the request ("alice-0")
        self._request_id: Guid | None = None
        self._timestamp = Timestamp
        self._arrival: tuple[datetime, float] | None = None
        self.Elapsed = Elapsed
        self.Tracing = Tracing
        self._variables: VariablesDictionary | None = None
        self._traces: list[tuple[str, str]] | None = None

    @property
    def Response(self) -> _ResponseType:
        """The response: the backend's or a policy's once there is one. Before that the
        gateway already holds the one it will send — 200 OK, no body — which is what the caller
        gets when no forward-request runs (Learn: forward-request) and what a policy reads
        before the backend answers (a published retry body tests its StatusCode on the first
        attempt; Microsoft's policy emulator starts from the same)."""
        if self._response is None:
            self._response = _ResponseType(200, "OK", None, "")
        return self._response

    @Response.setter
    def Response(self, value: _ResponseType) -> None:
        self._response = value

    @property
    def RequestId(self) -> Guid:
        """A Guid, as in APIM (Learn: policy expressions), made when an expression reads it:
        the label itself when it is a GUID's text, else one derived from the label (UUID 5), so
        runs repeat and reports keep their readable names."""
        if self._request_id is None:
            try:
                self._request_id = Guid(uuid.UUID(self.request_label))
            except ValueError:
                self._request_id = Guid(uuid.uuid5(_REQUEST_IDS, self.request_label))
        return self._request_id

    def arrived(self, epoch: datetime, seconds: float) -> None:
        """The request arrived ``seconds`` after ``epoch``: ``Timestamp``, worked out when an
        expression reads it (date arithmetic for every request costs more than most
        policies)."""
        self._arrival = (epoch, seconds)
        self._timestamp = None

    @property
    def arrival_seconds(self) -> float:
        """Seconds after the run's start the request arrived (not a context member)."""
        return self._arrival[1] if self._arrival is not None else 0.0

    @property
    def Timestamp(self) -> datetime | None:
        if self._timestamp is None and self._arrival is not None:
            epoch, seconds = self._arrival
            self._timestamp = epoch + timedelta(seconds=seconds)
        return self._timestamp

    def failed(
        self,
        source: str,
        reason: str,
        message: str,
        section: str,
        policy_id: str = "",
        file: str = "",
    ) -> None:
        """A policy failed: ``LastError``, made when an expression reads it (most refused
        requests' errors are only counted). ``policy_id`` is the failing policy's ``id``
        attribute, ``file`` the policy file it stands in, which gives LastError.Scope."""
        self._failure = (source, reason, message, section, policy_id, file)
        self._last_error = None

    @property
    def LastError(self) -> _LastErrorType | None:
        if self._last_error is None and self._failure is not None:
            source, reason, message, section, policy_id, file = self._failure
            self._last_error = _LastErrorType(
                Source=source,
                Reason=reason,
                Message=message,
                Section=section,
                PolicyId=policy_id,
                Scope=_scope_of(file),
            )
        return self._last_error

    @LastError.setter
    def LastError(self, value: _LastErrorType | None) -> None:
        self._last_error = value
        self._failure = None

    @property
    def Variables(self) -> VariablesDictionary:
        if self._variables is None:
            self._variables = VariablesDictionary()
        return self._variables

    @property
    def traces(self) -> list[tuple[str, str]]:
        if self._traces is None:
            self._traces = []
        return self._traces

    def Trace(self, message: Any, source: str = "expression") -> None:
        self.traces.append((source, str(message)))


_RequestType = Request


def _scope_of(file: str) -> str:
    """LastError.Scope for a policy in ``file``, laid out as a policies folder: global,
    product, api or operation; empty for a fragment's policy (its includer's scope is not
    kept) or a failure outside any policy."""
    if "/fragments/" in file or not file:
        return ""
    if "/operations/" in file:
        return "operation"
    if "/products/" in file:
        return "product"
    if "/apis/" in file:
        return "api"
    return "global" if "global.xml" in file else ""


_REQUEST_IDS = uuid.UUID("5b0c7f5e-8d1a-4c39-9a51-0a6f2d4e9b73")  # apimgen's request-id namespace
_DEFAULT_API, _DEFAULT_OPERATION, _DEFAULT_DEPLOYMENT = Api(), Operation(), Deployment()
