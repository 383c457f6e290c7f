"""Simulator throughput: requests per second through token limit + token metrics + managed
identity + pool routing, against a bare loop doing only the counter arithmetic for the same
requests, measured in the same run."""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POLICY = """<policies>
  <inbound>
    <llm-token-limit counter-key="@(context.Subscription?.Id ?? &quot;anonymous&quot;)"
        tokens-per-minute="100000000" estimate-prompt-tokens="false" />
    <llm-emit-token-metric namespace="openai">
      <dimension name="Subscription ID" /><dimension name="API ID" />
    </llm-emit-token-metric>
    <set-backend-service backend-id="pool" />
    <authentication-managed-identity resource="https://cognitiveservices.azure.com" />
  </inbound>
  <backend><forward-request /></backend>
  <outbound /><on-error />
</policies>"""


def simulated(n: int) -> float:
    from apimgen.simulate.backends import BackendRegistry, MockDeployment, PoolMember, SingleBackend
    from apimgen.simulate.context import Api, Context, Request, Subscription
    from apimgen.simulate.engine import EventLoop, compile_pipeline, process
    from apimgen.simulate.policy.reader import read_policy
    from apimgen.simulate.policy.scopes import effective_pipeline
    from apimgen.simulate.state import GatewayServices, LlmRequest, RequestState

    compiled = compile_pipeline(effective_pipeline([read_policy(POLICY)], {}))
    services = GatewayServices(seed=1)
    singles = {
        name: SingleBackend(name, MockDeployment(name, 10**12, latency_base=0.5))
        for name in ("a", "b")
    }
    services.backends = BackendRegistry(
        singles, {"pool": [PoolMember("a", 1, 1), PoolMember("b", 1, 1)]}
    )
    done = 0

    def finish(_: RequestState) -> None:
        nonlocal done
        done += 1

    loop = EventLoop(finish)
    body = '{"messages": [{"role": "user", "content": "hi"}]}'
    # As in a scenario run: what describes a caller is made once per consumer.
    subscriptions = [Subscription(Id=f"sub-{c}") for c in range(50)]
    api = Api(Id="openai")
    start = time.perf_counter()
    for i in range(n):
        context = Context(
            Request=Request(body_text=body), Subscription=subscriptions[i % 50], Api=api
        )
        state = RequestState(context, services, llm=LlmRequest(20, None, 100))
        loop.arrive(i * 0.02, state, process(compiled, state))
    loop.run_until()
    elapsed = time.perf_counter() - start
    assert done == n
    return n / elapsed


def bare(n: int) -> float:
    windows: dict[str, deque[tuple[float, int]]] = {}
    totals: dict[str, int] = {}
    start = time.perf_counter()
    for i in range(n):
        now = i * 0.02
        key = f"sub-{i % 50}"
        window = windows.setdefault(key, deque())
        while window and window[0][0] <= now - 60:
            totals[key] -= window.popleft()[1]
        if totals.get(key, 0) < 100_000_000:
            window.append((now, 120))
            totals[key] = totals.get(key, 0) + 120
    elapsed = time.perf_counter() - start
    return n / elapsed


def peak_memory_mb(seconds: int) -> int:
    """Peak RSS of a fresh process simulating ``seconds`` at 50 requests per second."""
    import subprocess

    code = (
        "import resource, sys; sys.path.insert(0, '.'); import benchmarks.simulate as b; "
        f"b.simulated({seconds * 50}); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    return int(done.stdout.strip())


def main() -> None:
    n = 50_000
    simulated(2_000)  # warm imports and caches
    fast = bare(n * 10)
    slow = simulated(n)
    print(
        f"simulate  {slow:10,.0f} req/s through limit+metrics+MI+pool | bare counter loop "
        f"{fast:12,.0f} req/s | ratio 1/{fast / slow:.0f} (target at least 1/10)"
    )
    hour = 3600 * 50
    start = time.perf_counter()
    simulated(hour)
    took = time.perf_counter() - start
    print(f"simulate  1 h at 50 req/s ({hour:,} requests) in {took:.1f} s (target < 2 s)")
    short, long = peak_memory_mb(1800), peak_memory_mb(7200)
    print(f"simulate  peak memory: 30 min {short} MB, 2 h {long} MB (flat as duration grows)")


if __name__ == "__main__":
    main()
