"""Run a scenario: drive each consumer's calls through the engine on the event loop, with
retrying clients and scripts following their answers, and fold what happened into a result."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from apimgen.errors import ApimgenError
from apimgen.simulate.clients import PRESETS, ClientCall, ClientRules, Retrying
from apimgen.simulate.engine import (
    CompiledPipeline,
    EventLoop,
    compile_pipeline,
    process,
)
from apimgen.simulate.explain import Explainer
from apimgen.simulate.results import (
    ClientStats,
    ConsumerStats,
    SimulationResult,
)
from apimgen.simulate.scenario import (
    LoadedScenario,
    Scenario,
    api_of,
)
from apimgen.simulate.semantic_cache import SemanticCache
from apimgen.simulate.state import RequestState
from apimgen.simulate.traffic import PlannedCall, ScriptStep, calls, script

if TYPE_CHECKING:
    from apimgen.simulate.embeddings.provider import CachedEmbedder
    from apimgen.simulate.request_log import RequestLog
from apimgen.simulate.assembly import (
    NodeRing,
    ScenarioGateway,
    check_expected_backends,
    embedder_for,
    every_node,
    gateway_from_folder,
    gateway_from_spec,
    gateway_nodes,
)
from apimgen.simulate.callers import (
    Caller,
    Callers,
    refuse_without_key,
    request_context,
    token_times,
)
from apimgen.simulate.folding import (
    Collector,
    backend_stats,
    cache_summary,
    limits_by_consumer,
    log_records,
)

__all__ = ["run_scenario"]


@dataclass
class _Pipelines:
    """Each (operation, product) pair's compiled pipeline, compiled on first use, and the
    policies skipped in any of them (--skip-unknown), each listed once."""

    gateway: ScenarioGateway
    skip_unknown: bool
    schemas: dict[str, Any]
    explainer: Explainer | None
    compiled: dict[tuple[str, str | None], CompiledPipeline] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def get(self, operation: str, product: str | None) -> CompiledPipeline:
        pipeline = self.compiled.get((operation, product))
        if pipeline is None:
            gateway = self.gateway
            pipeline = compile_pipeline(
                gateway.policies.pipeline(gateway.api, operation, product),
                skip_unknown=self.skip_unknown,
                schemas=self.schemas,
                explainer=self.explainer,
            )
            for element in pipeline.skipped:
                entry = f"<{element.name}> at {element.location}"
                if entry not in self.skipped:
                    self.skipped.append(entry)
            self.compiled[operation, product] = pipeline
        return pipeline


_Lane = tuple["NodeRing", "Caller", CompiledPipeline, bool]


def _explainer(loaded: LoadedScenario, explain: tuple[str | None, int] | None) -> Explainer | None:
    if explain is None:
        return None
    consumer, count = explain
    names = [c.name for c in loaded.scenario.consumers]
    if consumer is not None and consumer not in names:
        raise ApimgenError(
            f"--explain: {loaded.path} has no consumer '{consumer}'",
            hint=f"consumers: {', '.join(names)}",
        )
    return Explainer(consumer, count)


def _when_done(
    loaded: LoadedScenario,
    collector: Collector,
    explainer: Explainer | None,
    requests: RequestLog | None,
    retrying: Retrying | None,
) -> Callable[[RequestState], None]:
    """What a finished request goes to: the totals, the request log, its client (which may
    send it again), then --explain."""
    hooks: list[Callable[[RequestState], None]] = [collector.done]
    if requests is not None:
        scenario = loaded.scenario
        requests.start_run(scenario.name or Path(loaded.path).stem, scenario.starts_at)
        hooks.append(requests.write)
    if retrying is not None:
        hooks.append(retrying.finished)
    if len(hooks) == 1:
        done = collector.done
    else:

        def done(state: RequestState) -> None:
            for hook in hooks:
                hook(state)

    return done if explainer is None else explainer.after(done)


class _Resender:
    """Starts a call's attempts on the event loop: a retrying client's next attempt, or a
    script's call sent after the previous one's answer."""

    def __init__(self, lanes: list[_Lane], api_backend: str | None) -> None:
        self.lanes = lanes
        self.api_backend = api_backend
        self.loop: EventLoop | None = None  # set once the loop exists (it needs the hooks)
        self.scripts: dict[int, list[ScriptStep]] = {}  # by lane, for consumers with calls:
        self.retrying: Retrying | None = None  # set once made (it needs this resender)

    def __call__(self, call: ClientCall, time: float) -> None:
        assert self.loop is not None
        ring, caller, pipeline, keyless = self.lanes[call.lane]
        node = ring.next()
        planned: PlannedCall = call.planned
        state = RequestState(request_context(planned, caller, call.retries), node, llm=planned.llm)
        state.consumer_name = planned.consumer.name
        state.backend_id = self.api_backend
        state.client_call = call
        state.context.arrived(node.epoch, time)
        if self.retrying is not None:
            self.retrying.started(call, state, time)
        run = refuse_without_key if keyless else process
        self.loop.start(time, state, run(pipeline, state))

    def answered(self, call: ClientCall, now: float) -> None:
        """A call's last attempt is back: a script's next call sent ``after`` a pause
        starts now."""
        steps = self.scripts.get(call.lane)
        following = call.planned.number + 1
        if steps is None or following >= len(steps) or steps[following].after is None:
            return
        step = steps[following]
        start = now + (step.after or 0.0)
        step.planned.time = start
        self(ClientCall(step.planned, call.lane, start), start)


def _retrying(
    scenario: Scenario, collector: Collector, seed: int, resend: _Resender
) -> Retrying | None:
    """The consumers' retrying clients (their stats put beside the consumers' own) and
    scripts (their calls followed to their answers)."""
    rules: dict[int, ClientRules] = {}
    stats: dict[int, ClientStats] = {}
    for order, consumer in enumerate(scenario.consumers):
        if consumer.calls is not None:
            operation = consumer.operation or scenario.operation
            resend.scripts[order] = script(consumer, seed, api=api_of(operation))
        if consumer.client is None:
            continue
        preset = consumer.client.preset
        rules[order] = PRESETS[preset].with_overrides(
            consumer.client.max_retries, consumer.client.timeout
        )
        stats[order] = collector.consumers[consumer.name].client = ClientStats(preset)
    if not rules and not resend.scripts:
        return None
    return Retrying(rules, stats, seed, resend, resend.answered if resend.scripts else None)


def _lanes_and_streams(
    scenario: Scenario,
    gateway: ScenarioGateway,
    nodes: dict[str, NodeRing],
    pipelines: _Pipelines,
    seed: int,
    lanes: list[_Lane],
    scripts: dict[int, list[ScriptStep]],
) -> list[tuple[float, int, PlannedCall, Iterator[PlannedCall]]]:
    """Each consumer's lane (appended to ``lanes``) and its stream of calls, on a heap by
    the time of the next call."""
    streams: list[tuple[float, int, PlannedCall, Iterator[PlannedCall]]] = []
    callers = Callers(gateway, token_times(scenario))
    for order, consumer in enumerate(scenario.consumers):
        region = consumer.region or scenario.regions[0]
        operation = consumer.operation or scenario.operation
        caller = callers.get(order, consumer, region, operation)
        keyless = consumer.anonymous and gateway.subscription_required
        lanes.append((nodes[region], caller, pipelines.get(operation, consumer.product), keyless))
        stream = calls(
            consumer,
            float(scenario.duration),
            seed,
            api=api_of(operation),
            steps=scripts.get(order),  # the same steps the run follows to their answers
        )
        first = next(stream, None)
        if first is not None:
            heapq.heappush(streams, (first.time, order, first, stream))
    return streams


def run_scenario(
    loaded: LoadedScenario,
    *,
    seed: int | None = None,
    skip_unknown: bool | None = None,
    progress: Callable[[float], None] | None = None,
    score_threshold: float | None = None,
    embedder: CachedEmbedder | None = None,
    explain: tuple[str | None, int] | None = None,
    deadline: float | None = None,
    requests: RequestLog | None = None,
) -> SimulationResult:
    """Run ``loaded`` and check its expectations; deterministic for a seed.

    ``score_threshold`` replaces every semantic-cache lookup's threshold (a sweep); an
    ``embedder`` passed in is reused, so a sweep embeds each prompt once for all its runs;
    ``explain`` (a consumer or None, and a count) records the paths of the first requests.
    ``deadline`` (a ``time.monotonic()`` value, the CLI's ``--timeout``) stops the run at the
    first arrival past it: the result then covers the simulated time before that arrival and
    says where it stopped (``stopped_at``); calls still in flight there are not counted.
    ``requests`` receives every finished request as it finishes (``--requests``).
    """
    scenario = loaded.scenario
    explainer = _explainer(loaded, explain)
    run_seed = scenario.seed if seed is None else seed
    skip = scenario.policies.skip_unknown if skip_unknown is None else skip_unknown
    gateway = gateway_from_spec(loaded) if scenario.policies.spec else gateway_from_folder(loaded)
    check_expected_backends(loaded, gateway)
    semantic_cache = SemanticCache(
        (lambda: embedder) if embedder is not None else (lambda: embedder_for(loaded)),
        scenario.semantic_cache.distance_scale,
        threshold_override=score_threshold,
        calibrated="distance_scale" in scenario.semantic_cache.model_fields_set,
    )
    rings = gateway_nodes(loaded, gateway, run_seed, semantic_cache)
    nodes = every_node(rings)
    pipelines = _Pipelines(gateway, skip, loaded.schemas, explainer)
    collector = Collector({c.name: ConsumerStats() for c in scenario.consumers})
    # What every call of one consumer shares, looked up once: its gateway node, its caller
    # parts, its pipeline, and whether it lacks a key the API requires (refused before it).
    lanes: list[_Lane] = []
    resend = _Resender(lanes, gateway.api_backend)
    retrying = resend.retrying = _retrying(scenario, collector, run_seed, resend)
    loop = resend.loop = EventLoop(_when_done(loaded, collector, explainer, requests, retrying))
    if retrying is not None:
        retrying.schedule = loop.call_at
    streams = _lanes_and_streams(
        scenario, gateway, rings, pipelines, run_seed, lanes, resend.scripts
    )
    next_progress = 0.0
    api_backend = gateway.api_backend
    stopped_at: float | None = None
    while streams:
        time, order, call, stream = heapq.heappop(streams)
        if deadline is not None and monotonic() > deadline:
            stopped_at = time
            break
        ring, caller, pipeline, keyless = lanes[order]
        node = ring.next()
        state = RequestState(request_context(call, caller), node, llm=call.llm)
        state.consumer_name = call.consumer.name
        state.backend_id = api_backend
        if retrying is not None and (order in retrying.rules or order in resend.scripts):
            state.client_call = ClientCall(call, order, time)
            retrying.started(state.client_call, state, time)
        state.context.arrived(node.epoch, time)
        if keyless and explainer is not None:
            explainer.built_in(state, "subscription key", "raised SubscriptionKeyNotFound")
        run = refuse_without_key if keyless else process
        loop.arrive(time, state, run(pipeline, state))
        following = next(stream, None)
        if following is not None:
            heapq.heappush(streams, (following.time, order, following, stream))
        if progress and time >= next_progress:
            progress(time / scenario.duration)
            next_progress = time + scenario.duration / 100
    loop.run_until(stopped_at)
    result = SimulationResult(
        name=scenario.name or Path(loaded.path).stem,
        seed=run_seed,
        starts_at=scenario.starts_at,
        duration=float(scenario.duration),
        consumers=collector.consumers,
        backends=backend_stats(gateway, nodes, semantic_cache),
        tokens_per_minute=dict(collector.per_minute),
        metric_samples=sum(node.metrics.samples for node in nodes),
        metric_stores=[node.metrics for node in nodes],
        skipped_policies=pipelines.skipped,
        errors=collector.errors,
        limits_by_consumer=limits_by_consumer(nodes),
        semantic_cache=cache_summary(semantic_cache),
        calls_while_available=sum(
            (node.backends.calls_while_available for node in nodes), Counter()
        ),
        endpoint_calls=dict(sum((node.endpoint_calls for node in nodes), Counter())),
        log_records=log_records(nodes),
        # in the order the requests arrived (they finish in another)
        explained=sorted(explainer.explained, key=lambda e: e.arrived) if explainer else [],
        empty_bodies=collector.empty_bodies,
        unforwarded=collector.unforwarded,
        stopped_at=stopped_at,
    )
    result.check(scenario.expect)
    return result
