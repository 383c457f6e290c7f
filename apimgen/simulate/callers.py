"""A consumer as the gateway sees its calls: the URL, headers, subscription, product, user
and operation every one of its requests carries, and the refusal of a call without a key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from apimgen.simulate.context import (
    Api,
    Context,
    Deployment,
    Operation,
    Product,
    Request,
    Response,
    Subscription,
    User,
)
from apimgen.simulate.engine import (
    CompiledPipeline,
    on_error,
)
from apimgen.simulate.expr.dictionaries import MultiValueDictionary
from apimgen.simulate.scenario import (
    EMBEDDINGS,
    RESPONSES,
    Consumer,
    Scenario,
)
from apimgen.simulate.state import PolicyError, RequestState, error_body
from apimgen.simulate.traffic import PlannedCall, unsigned_jwt

if TYPE_CHECKING:
    pass
from apimgen.simulate.assembly import ScenarioGateway

__all__ = [
    "Caller",
    "Callers",
    "make_caller",
    "refuse_without_key",
    "request_context",
    "token_times",
]


@dataclass(frozen=True)
class Caller:
    """What every request of one consumer through one gateway node shares, built once: no
    policy can change a subscription, a user or the request headers a client sent (set-header
    changes the request's own copy)."""

    headers: MultiValueDictionary  # each request gets a copy (copied on its first change)
    url: str
    subscription: Subscription | None  # None: an anonymous caller, with no key
    product: Product | None
    user: User | None
    api: Api
    operation: Operation
    deployment: Deployment
    matched: dict[str, str]  # the operation's template parameters in the URL


def token_times(scenario: Scenario) -> dict[str, int]:
    """The times of a consumer's token where the scenario gives none: issued when the run
    starts, valid an hour past its end (Entra tokens live about that long; a client renews
    one before it expires). Without them validate-jwt refuses every call."""
    start = int(scenario.starts_at.timestamp())
    return {"iat": start, "nbf": start, "exp": start + int(scenario.duration) + 3600}


def make_caller(
    consumer: Consumer, gateway: ScenarioGateway, operation: str, region: str, times: dict[str, int]
) -> Caller:
    headers = dict(consumer.headers)
    if consumer.jwt_claims:
        claims = {**times, **consumer.jwt_claims}
        headers["Authorization"] = f"Bearer {unsigned_jwt(claims)}"
    headers.setdefault("Content-Type", "application/json")
    if operation == RESPONSES:  # the v1 API: no deployment in the path, no api-version
        template, matched, version = "/responses", {}, {}
    else:
        path = "/embeddings" if operation == EMBEDDINGS else "/chat/completions"
        template = "/deployments/{deployment-id}" + path
        matched = {"deployment-id": consumer.deployment}
        version = {"api-version": "2024-10-21"}
    query = urlencode({**version, **consumer.query}, quote_via=quote)
    url = f"https://gateway.example/{gateway.api_path}" + template.replace(
        "{deployment-id}", consumer.deployment
    )
    url += f"?{query}" if query else ""
    subscription = consumer.subscription or consumer.name
    anonymous = consumer.anonymous
    primary, secondary = _subscription_keys(subscription)
    key_header = gateway.key_names.Header
    if not anonymous and all(name.lower() != key_header.lower() for name in headers):
        headers[key_header] = primary  # a client sends its key, and the gateway passes it on
    return Caller(
        headers=MultiValueDictionary(headers, case_insensitive=True),
        url=url,
        subscription=None
        if anonymous
        else Subscription(
            Id=subscription,
            Name=subscription,
            Key=primary,
            PrimaryKey=primary,
            SecondaryKey=secondary,
        ),
        product=Product(Id=consumer.product, Name=consumer.product) if consumer.product else None,
        user=None if anonymous else User(Id=consumer.user or consumer.name),
        api=Api(
            Id=gateway.api,
            Name=gateway.api,
            Path=gateway.api_path,
            SubscriptionKeyParameterNames=gateway.key_names,
        ),
        operation=Operation(
            Id=operation,
            Name=operation,
            Method="POST",
            UrlTemplate=template,
        ),
        deployment=Deployment(Region=region),
        matched=matched,
    )


def _subscription_keys(subscription: str) -> tuple[str, str]:
    """A subscription's primary and secondary keys: 32 hex digits like APIM's, derived from
    its id, so each subscription has its own (a counter keyed on context.Subscription.Key
    counts per subscription) and runs repeat."""
    digest = hashlib.sha256(f"apimgen-subscription:{subscription}".encode()).hexdigest()
    return digest[:32], digest[32:]


@dataclass
class Callers:
    """Each consumer's caller parts per gateway node, made on its first request."""

    gateway: ScenarioGateway
    token_times: dict[str, int]
    made: dict[tuple[int, str], Caller] = field(default_factory=dict)

    def get(self, order: int, consumer: Consumer, region: str, operation: str) -> Caller:
        caller = self.made.get((order, region))
        if caller is None:
            caller = make_caller(consumer, self.gateway, operation, region, self.token_times)
            self.made[(order, region)] = caller
        return caller


def request_context(call: PlannedCall, caller: Caller, attempt: int = 0) -> Context:
    return Context(
        Request=Request(
            Method="POST",
            url=caller.url,
            headers=caller.headers,
            IpAddress=call.consumer.ip,
            body_text=call.body,
            matched=caller.matched,
        ),
        Subscription=caller.subscription,
        Product=caller.product,
        User=caller.user,
        Api=caller.api,
        Operation=caller.operation,
        Deployment=caller.deployment,
        # each attempt of a client's call is a request of its own to the gateway
        RequestId=f"{call.consumer.name}-{call.number}" + (f"-retry{attempt}" if attempt else ""),
    )


_MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)


def refuse_without_key(pipeline: CompiledPipeline, state: RequestState) -> Iterator[float]:
    """A call without a subscription key to an API that requires one: the gateway's built-in
    authorization step fails it before any policy, with 401, and on-error runs (Learn:
    predefined errors for built-in steps; its error-handling example is such a call)."""
    headers = {"Content-Type": "application/json"}
    response = Response(401, "Access Denied", headers, error_body(401, _MISSING_KEY))
    error = PolicyError("SubscriptionKeyNotFound", _MISSING_KEY, None, response, "authorization")
    return on_error(pipeline, state, error)
