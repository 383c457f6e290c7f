"""A small driver for engine tests: inline policies, mock backends, timed requests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from apimgen.simulate.backends import (
    BackendRegistry,
    BreakerRule,
    MockDeployment,
    PoolMember,
    SingleBackend,
)
from apimgen.simulate.context import Api, Context, Operation, Product, Request, Subscription, User
from apimgen.simulate.engine import EventLoop, compile_pipeline, process
from apimgen.simulate.policy.reader import read_policy
from apimgen.simulate.policy.scopes import effective_pipeline
from apimgen.simulate.state import GatewayServices, LlmRequest, RequestState

GLOBAL = (
    '<policies><inbound><set-backend-service backend-id="aoai" /></inbound>'
    "<backend><forward-request /></backend><outbound /><on-error /></policies>"
)


def api_policy(
    inbound: str = "",
    backend: str = "<base />",
    outbound: str = "<base />",
    on_error: str = "<base />",
) -> str:
    return (
        f"<policies><inbound><base />{inbound}</inbound><backend>{backend}</backend>"
        f"<outbound>{outbound}</outbound><on-error>{on_error}</on-error></policies>"
    )


@dataclass
class Call:
    time: float
    user: str = "alice"
    prompt_tokens: int = 100
    completion_tokens: int = 500
    max_tokens: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    flagged: bool = False
    group: str | None = None
    url: str = "https://gateway.example/"
    matched: dict[str, str] = field(default_factory=dict)  # the operation's template values
    method: str = "POST"


@dataclass
class Result:
    call: Call
    status: int
    headers: dict[str, list[str]]
    body: str | None
    state: RequestState
    done_at: float


def single(
    name: str, tpm: int = 1_000_000, breaker: BreakerRule | None = None, **kwargs: Any
) -> SingleBackend:
    return SingleBackend(name, MockDeployment(name, tpm, **kwargs), breaker)


def run(
    policy: str,
    calls: list[Call],
    *,
    backends: list[SingleBackend] | None = None,
    pools: dict[str, list[PoolMember]] | None = None,
    skip_unknown: bool = False,
    seed: int = 1,
    stream: bool = False,
    semantic_cache: Any = None,
    retry_reselects_backend: bool = False,
    arrive: bool = False,
    endpoints: dict[str, Any] | None = None,
    urls: dict[str, str] | None = None,
    schemas: dict[str, Any] | None = None,
    compiled: Any = None,
) -> tuple[list[Result], GatewayServices, Any]:
    """Run ``calls`` through ``policy``: queued up front (``EventLoop.start``), or with
    ``arrive`` handed to the loop one by one in time order as a scenario run does. A
    ``compiled`` pipeline from an earlier run is run again, as another gateway node would."""
    if compiled is None:
        pipeline = effective_pipeline(
            [read_policy(GLOBAL), None, read_policy(policy, "api.xml"), None], {}
        )
        compiled = compile_pipeline(pipeline, skip_unknown=skip_unknown, schemas=schemas)
    services = GatewayServices(seed=seed)
    singles = backends or [single("aoai")]
    services.backends = BackendRegistry({b.id: b for b in singles}, pools or {}, urls or {})
    services.semantic_cache = semantic_cache
    services.retry_reselects_backend = retry_reselects_backend
    services.endpoints = endpoints or {}
    results: list[Result] = []
    call_of: dict[int, Call] = {}

    def done(state: RequestState) -> None:
        response = state.context.Response
        assert response is not None
        body = response.Body.text if response.Body is not None else None
        results.append(
            Result(
                call_of[id(state)],
                response.StatusCode,
                response.Headers.plain(),
                body,
                state,
                services.now,
            )
        )

    loop = EventLoop(done)
    numbered = list(enumerate(calls))
    if arrive:
        numbered.sort(key=lambda item: item[1].time)
    for index, call in numbered:
        body = (
            call.body
            if call.body is not None
            else {
                "messages": [{"role": "user", "content": "hi"}],
                **({"max_tokens": call.max_tokens} if call.max_tokens else {}),
            }
        )
        context = Context(
            Request=Request(
                Method=call.method,
                url=call.url,
                matched=call.matched,
                headers=call.headers,
                body_text=json.dumps(body) if not isinstance(body, str) else body,
            ),
            Subscription=Subscription(Id=f"sub-{call.user}"),
            User=User(Id=call.user),
            Product=Product(Id="starter"),
            Api=Api(Id="openai", Name="openai"),
            Operation=Operation(Id="chat"),
            RequestId=f"req-{index}",
        )
        state = RequestState(
            context,
            services,
            llm=LlmRequest(
                call.prompt_tokens,
                call.max_tokens,
                call.completion_tokens,
                stream=stream,
                flagged=call.flagged,
                group=call.group,
            ),
        )
        call_of[id(state)] = call
        if arrive:
            loop.arrive(call.time, state, process(compiled, state))
        else:
            loop.start(call.time, state, process(compiled, state))
    loop.run_until()
    results.sort(key=lambda r: r.call.time)
    return results, services, compiled
