"""State machines: the token limiter and the rate limiter against naive models.

The naive models keep every admitted call forever and recount the window from scratch; the
simulator's sliding windows must make the same decision and quote the same Retry-After for any
sequence of calls and clock steps."""

from __future__ import annotations

import json
import math

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from apimgen.simulate.backends import BackendRegistry, MockDeployment, SingleBackend
from apimgen.simulate.context import Api, Context, Request, Subscription, User
from apimgen.simulate.engine import compile_pipeline, process
from apimgen.simulate.policy.reader import read_policy
from apimgen.simulate.policy.scopes import effective_pipeline
from apimgen.simulate.state import GatewayServices, LlmRequest, RequestState

LIMIT = 1000
POLICY = (
    "<policies><inbound>"
    '<llm-token-limit counter-key="@(context.User.Id)" tokens-per-minute="1000" estimate-prompt-tokens="false" />'
    '<rate-limit-by-key calls="5" renewal-period="30" counter-key="@(context.User.Id + &quot;-rate&quot;)" />'
    '<set-backend-service backend-id="aoai" />'
    "</inbound><backend><forward-request /></backend><outbound /><on-error /></policies>"
)


class Limiters(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.pipeline = compile_pipeline(effective_pipeline([read_policy(POLICY)], {}))
        self.services = GatewayServices(seed=0)
        backend = SingleBackend(
            "aoai", MockDeployment("aoai", 10**12, latency_base=0, latency_per_token=0)
        )
        self.services.backends = BackendRegistry({"aoai": backend}, {})
        self.tokens: dict[str, list[tuple[float, int]]] = {}
        self.calls: dict[str, list[float]] = {}

    def _send(self, user: str, tokens: int) -> RequestState:
        context = Context(
            Request=Request(body_text=json.dumps({"messages": []})),
            Subscription=Subscription(Id=user),
            User=User(Id=user),
            Api=Api(Id="api"),
        )
        state = RequestState(context, self.services, llm=LlmRequest(0, None, tokens))
        for resume in process(self.pipeline, state):
            self.services.now = max(self.services.now, resume)
        return state

    @rule(seconds=st.floats(min_value=0, max_value=40, allow_nan=False))
    def wait(self, seconds: float) -> None:
        self.services.now += seconds

    @rule(user=st.sampled_from(["alice", "bob"]), tokens=st.integers(min_value=1, max_value=700))
    def call(self, user: str, tokens: int) -> None:
        now = self.services.now
        token_log = self.tokens.setdefault(user, [])
        call_log = self.calls.setdefault(user, [])
        window = [(t, n) for t, n in token_log if t > now - 60]
        recent = [t for t in call_log if t > now - 30]
        state = self._send(user, tokens)
        response = state.context.Response
        assert response is not None
        total = sum(n for _, n in window)
        if total >= LIMIT:
            assert response.StatusCode == 429
            assert "Token limit" in response.Body.text  # type: ignore[union-attr]
            # the naive wait: until the window total drops below the limit
            remaining = total
            wait = 0.0
            for time, amount in sorted(window):
                remaining -= amount
                if remaining < LIMIT:
                    wait = time + 60 - now
                    break
            assert response.Headers["Retry-After"] == [str(max(1, math.ceil(wait)))]
        elif len(recent) >= 5:
            assert response.StatusCode == 429
            assert "Rate limit" in response.Body.text  # type: ignore[union-attr]
        else:
            assert response.StatusCode == 200
            token_log.append((now, tokens))
            call_log.append(now)


TestLimiters = Limiters.TestCase
TestLimiters.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
