"""Simulator throughput: requests per second through token limit + token metrics + managed
identity + pool routing, against a bare loop doing only the counter arithmetic for the same
requests, measured in the same run."""

from __future__ import annotations

import heapq
import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apimgen.simulate.scenario import LoadedScenario

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
    # Positional arguments: from interpreted code, keywords into a compiled class go through
    # mypyc's generic argument parser (about 1 µs a request here); the scenario runner,
    # compiled itself, calls these constructors directly and pays neither.
    method, url, ip = "POST", "https://gateway.example/", "203.0.113.10"
    start = time.perf_counter()
    for i in range(n):
        request = Request(method, url, None, ip, body)  # Method, url, headers, IpAddress, body
        context = Context(request, None, subscriptions[i % 50], None, None, api)  # ..., Api
        state = RequestState(context, services, LlmRequest(20, None, 100))
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
        window = windows.get(key)
        if window is None:  # not setdefault(key, deque()): that makes a deque every time
            window = windows[key] = deque()
        while window and window[0][0] <= now - 60:
            totals[key] -= window.popleft()[1]
        if totals.get(key, 0) < 100_000_000:
            window.append((now, 120))
            totals[key] = totals.get(key, 0) + 120
    elapsed = time.perf_counter() - start
    return n / elapsed


def fused(n: int) -> float:  # noqa: PLR0915 - one loop on purpose: that is the point
    """The same requests through the same four policies, hand-fused into one loop: no policy
    XML, no context objects, no expressions, no generators. A simulator of arbitrary policies
    does at least this work per request, so this calibrates the target: it shows how much of
    the gap to the bare loop any design in Python must keep."""
    windows: dict[str, deque[tuple[float, int]]] = {}
    totals: dict[str, int] = {}
    series: dict[tuple[int, str, tuple[tuple[str, str], ...]], list[float]] = {}
    backends = {
        name: {"tokens": deque(), "requests": deque(), "sum": 0, "tripped_until": 0.0}
        for name in ("a", "b")
    }
    weights = {"a": 0, "b": 0}
    in_flight: list[tuple[float, int, str, int]] = []
    subscriptions = [f"sub-{c}" for c in range(50)]
    done = 0

    def settle(now: float, key: str, used: int) -> None:
        nonlocal done
        windows[key].append((now, used))
        totals[key] += used
        series_key = (int(now // 60), "openai", (("Subscription ID", key), ("API ID", "openai")))
        sums = series.get(series_key)
        if sums is None:
            sums = series[series_key] = [0.0, 0.0, 0.0, 0]
        sums[0] += used
        sums[1] += 20
        sums[2] += used - 20
        sums[3] += 1
        done += 1

    start = time.perf_counter()
    for i in range(n):
        now = i * 0.02
        while in_flight and in_flight[0][0] <= now:
            finished, _, key, used = heapq.heappop(in_flight)
            settle(finished, key, used)
        key = subscriptions[i % 50]
        window = windows.get(key)
        if window is None:
            window = windows[key] = deque()
            totals[key] = 0
        while window and window[0][0] <= now - 60:
            totals[key] -= window.popleft()[1]
        if totals[key] >= 100_000_000:
            continue
        headers = {"Authorization": "Bearer token"}  # managed identity
        best, best_weight, total = "", 0, 0  # smooth weighted round robin over live members
        for name, backend in backends.items():
            if backend["tripped_until"] > now:
                continue
            weights[name] += 1
            total += 1
            if not best or weights[name] > best_weight:
                best, best_weight = name, weights[name]
        weights[best] -= total
        backend = backends[best]
        tokens, requests = backend["tokens"], backend["requests"]
        while tokens and tokens[0][0] <= now - 60:
            backend["sum"] -= tokens.popleft()[1]
        while requests and requests[0] <= now - 10:
            requests.popleft()
        if backend["sum"] + 20 + 4096 > 10**12:
            continue
        tokens.append((now, 120))
        backend["sum"] += 120
        requests.append(now)
        headers["x-ratelimit-remaining-tokens"] = str(10**12 - backend["sum"])
        heapq.heappush(in_flight, (now + 0.5 + 0.01 * 100, i, key, 120))
    while in_flight:
        finished, _, key, used = heapq.heappop(in_flight)
        settle(finished, key, used)
    elapsed = time.perf_counter() - start
    assert done == n
    return n / elapsed


class _Call:
    """One request in the skeleton: the least per-request state any policy runner keeps."""

    __slots__ = ("after", "backend", "headers", "key", "status", "usage")

    def __init__(self, key: str) -> None:
        self.key = key
        self.backend = ""
        self.headers: dict[str, str] = {}
        self.after: list[Callable[[_Call, float], None]] = []
        self.status = 0
        self.usage: tuple[int, int, int] | None = None


def skeleton(n: int) -> float:
    """The same requests through the same four policies as one object per policy, called in
    turn through a list, with one object per request and a heap of calls in flight: the
    least any runner of arbitrary policies does, with none of the simulator's semantics (no
    expressions, no context or response model, no error routing). It calibrates the target
    for a general design, as ``fused`` does for a hand-written one."""
    windows: dict[str, deque[tuple[float, int]]] = {}
    totals: dict[str, int] = {}
    series: dict[tuple[int, str, tuple[tuple[str, str], ...]], list[float]] = {}

    class TokenLimit:
        def run(self, call: _Call, now: float) -> bool:
            key = call.key
            window = windows.get(key)
            if window is None:
                window = windows[key] = deque()
                totals[key] = 0
            while window and window[0][0] <= now - 60:
                totals[key] -= window.popleft()[1]
            if totals[key] >= 100_000_000:
                call.status = 429
                return False
            call.after.append(self.settle)
            return True

        def settle(self, call: _Call, now: float) -> None:
            if call.usage is not None:
                windows[call.key].append((now, call.usage[2]))
                totals[call.key] += call.usage[2]

    class EmitMetric:
        def run(self, call: _Call, now: float) -> bool:
            call.after.append(self.emit)
            return True

        def emit(self, call: _Call, now: float) -> None:
            usage = call.usage
            if usage is None or call.status >= 400:
                return
            key = (int(now // 60), "openai", (("Subscription ID", call.key), ("API ID", "openai")))
            sums = series.get(key)
            if sums is None:
                sums = series[key] = [0.0, 0.0, 0.0, 0]
            sums[0] += usage[2]
            sums[1] += usage[0]
            sums[2] += usage[1]
            sums[3] += 1

    class SetBackendService:
        def run(self, call: _Call, now: float) -> bool:
            call.backend = "pool"
            return True

    class ManagedIdentity:
        def run(self, call: _Call, now: float) -> bool:
            call.headers["Authorization"] = "Bearer token"
            return True

    class Backend:
        def __init__(self) -> None:
            self.tokens: deque[tuple[float, int]] = deque()
            self.requests: deque[float] = deque()
            self.sum = 0

        def call(self, call: _Call, now: float) -> float:
            tokens, requests = self.tokens, self.requests
            while tokens and tokens[0][0] <= now - 60:
                self.sum -= tokens.popleft()[1]
            while requests and requests[0] <= now - 10:
                requests.popleft()
            used = 20 + 100
            tokens.append((now, used))
            self.sum += used
            requests.append(now)
            call.status, call.usage = 200, (20, 100, used)
            call.headers["x-ratelimit-remaining-tokens"] = str(10**12 - self.sum)
            return now + 0.5 + 0.01 * 100

    class Pool:
        def __init__(self) -> None:
            self.members = [Backend(), Backend()]
            self.current = [0, 0]

        def choose(self) -> Backend:
            current, best, best_value = self.current, 0, -1
            for index in range(len(current)):
                current[index] += 1
                if current[index] > best_value:
                    best, best_value = index, current[index]
            current[best] -= len(current)
            return self.members[best]

    inbound = [TokenLimit().run, EmitMetric().run, SetBackendService().run, ManagedIdentity().run]
    pools = {"pool": Pool()}
    in_flight: list[tuple[float, int, _Call]] = []
    subscriptions = [f"sub-{c}" for c in range(50)]
    done = 0

    def finish(call: _Call, now: float) -> None:
        nonlocal done
        for hook in call.after:
            hook(call, now)
        done += 1

    start = time.perf_counter()
    for i in range(n):
        now = i * 0.02
        while in_flight and in_flight[0][0] <= now:
            finished, _, waiting = heapq.heappop(in_flight)
            finish(waiting, finished)
        call = _Call(subscriptions[i % 50])
        if all(policy(call, now) for policy in inbound):
            heapq.heappush(in_flight, (pools[call.backend].choose().call(call, now), i, call))
        else:
            finish(call, now)
    while in_flight:
        finished, _, waiting = heapq.heappop(in_flight)
        finish(waiting, finished)
    elapsed = time.perf_counter() - start
    assert done == n
    return n / elapsed


def _in_fresh_process(statement: str) -> list[str]:
    """Run ``statement`` (which leaves its figures in ``shown``) in a fresh process, and
    return them after its peak RSS in MB.

    The peak is read from VmHWM, which starts afresh with the new program: getrusage's
    ru_maxrss keeps the high-water mark of the process that forked it, so a large benchmark
    process would show through."""
    import subprocess

    code = (
        "import re, sys; sys.path.insert(0, '.'); import benchmarks.simulate as b; "
        f"{statement}; "
        "status = open('/proc/self/status').read(); "
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024, *shown)"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    return done.stdout.split()


def peak_memory_mb(seconds: int) -> int:
    """Peak RSS of a fresh process simulating ``seconds`` at 50 requests per second."""
    return int(_in_fresh_process(f"b.simulated({seconds * 50}); shown = ()")[0])


HOUR_SCENARIO = """\
apimgen_scenario: 1
name: one hour at 50 requests per second
policies: {{spec: {spec}}}
duration: 60m
backends:
  aoai-swc: {{tpm: 100000000}}
consumers:
  - name: alice
    arrival: {{kind: constant, per_minute: 1500}}
    prompts: ["Summarise our returns policy for a customer email."]
    completion_tokens: {{min: 50, max: 100}}
  - name: bob
    arrival: {{kind: poisson, per_minute: 1500}}
    prompts: ["What are the store opening hours on Sunday?"]
    completion_tokens: {{min: 50, max: 100}}
"""


def hour_scenario(folder: Path, minutes: int = 60) -> LoadedScenario:
    """The hour's scenario (or ``minutes`` of it), written in ``folder``; it names the seed
    example's spec, which lies outside that folder, so the examples are allowed as
    ``--allow-path`` would."""
    from apimgen.files import allowed_paths
    from apimgen.simulate.scenario import load_scenario

    spec = Path(__file__).resolve().parent.parent / "examples" / "seed" / "step3.yaml"
    path = folder / "hour.yaml"
    text = HOUR_SCENARIO.format(spec=spec).replace("duration: 60m", f"duration: {minutes}m")
    path.write_text(text)
    with allowed_paths([spec.parent]):
        return load_scenario(path)


def scenario_seconds() -> float:
    """An hour of the seed story's step 3 (a per-user token limit) at 50 requests/s, through
    everything ``apimgen simulate`` does but print: traffic, policies, backends, results."""
    import tempfile

    from apimgen.simulate.run import run_scenario

    with tempfile.TemporaryDirectory() as folder:
        loaded = hour_scenario(Path(folder))
        start = time.perf_counter()
        run_scenario(loaded)
        return time.perf_counter() - start


def logged_run(minutes: int) -> tuple[float, int]:
    """The hour's scenario cut to ``minutes``, every request written (``--requests``):
    seconds taken and the file's records."""
    import tempfile

    from apimgen.simulate.request_log import RequestLog
    from apimgen.simulate.run import run_scenario

    with tempfile.TemporaryDirectory() as folder:
        loaded = hour_scenario(Path(folder), minutes)
        log = RequestLog(Path(folder) / "requests.jsonl")
        start = time.perf_counter()
        run_scenario(loaded, requests=log)
        log.close(keep=True)
        return time.perf_counter() - start, log.written


def logged_peak_memory_mb(minutes: int) -> tuple[int, float, int]:
    """Peak RSS of a fresh process running ``logged_run(minutes)``, with its time and
    records."""
    peak, took, records = _in_fresh_process(f"shown = b.logged_run({minutes})")
    return int(peak), float(took), int(records)


def _pure_python_rate(n: int) -> float:
    """The simulator's rate with its compiled modules loaded from source, in a fresh process
    (a process runs one or the other)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import benchmarks.simulate as b; "
        f"b.simulated(2_000); print(max(b.simulated({n}) for _ in range(3)))"
    )
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", code, root],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "APIMGEN_PURE_PYTHON": "1"},
    )
    return float(done.stdout)


def main() -> None:
    n = 50_000
    simulated(2_000)  # warm imports and caches
    fast = slow = floor = general = 0.0
    for _ in range(3):  # interleaved, best of each: the machine's noise hits all alike
        fast = max(fast, bare(n * 10))
        slow = max(slow, simulated(n))
        floor = max(floor, fused(n * 4))
        general = max(general, skeleton(n * 2))
    from apimgen.simulate.native import compiled

    mode = "compiled with mypyc" if compiled() else "pure Python (not compiled: `make native`)"
    print(
        f"simulate  {slow:10,.0f} req/s through limit+metrics+MI+pool ({mode}) | bare counter "
        f"loop {fast:12,.0f} req/s | ratio 1/{fast / slow:.1f} (target at least 1/10)"
    )
    if compiled():
        pure = _pure_python_rate(n)
        print(
            f"simulate  {pure:10,.0f} req/s the same, the simulator as pure Python | ratio "
            f"1/{fast / pure:.1f} (compiled runs {slow / pure:.1f}x as fast)"
        )
    print(
        f"simulate  the same four policies hand-fused into one loop {floor:10,.0f} req/s | "
        f"ratio 1/{fast / floor:.1f} (the floor for any interpreted design)"
    )
    print(
        f"simulate  the same four policies as a bare skeleton of handlers {general:10,.0f} "
        f"req/s | ratio 1/{fast / general:.1f} (the floor for an interpreted policy runner)"
    )
    hour = 3600 * 50
    took = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        simulated(hour)
        took = min(took, time.perf_counter() - start)
    print(f"simulate  1 h at 50 req/s ({hour:,} requests) in {took:.1f} s (target < 2 s)")
    whole = min(scenario_seconds() for _ in range(2))
    print(f"simulate  the same hour as a scenario (seed step 3 limits) in {whole:.1f} s")
    short, long = peak_memory_mb(1800), peak_memory_mb(7200)
    print(f"simulate  peak memory: 30 min {short} MB, 2 h {long} MB (flat as duration grows)")
    (half_peak, _, _), (hour_peak, hour_took, records) = (
        logged_peak_memory_mb(30),
        logged_peak_memory_mb(60),
    )
    print(
        f"simulate  --requests: 1 h at 50 req/s, {records:,} records in {hour_took:.1f} s; "
        f"peak memory 30 min {half_peak} MB, 1 h {hour_peak} MB (flat as records grow)"
    )


if __name__ == "__main__":
    main()
