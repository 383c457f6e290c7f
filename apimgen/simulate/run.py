"""Run a scenario: load its policies, build the mock backends, drive the traffic through the
engine and aggregate what happened."""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from apimgen.errors import ApimgenError
from apimgen.simulate.admission import DEFAULT_MODEL, Reservation, reservation_for
from apimgen.simulate.backends import (
    BackendRegistry,
    BreakerRule,
    MockDeployment,
    Outage,
    PoolMember,
    Scripted,
    SingleBackend,
)
from apimgen.simulate.clients import PRESETS, ClientCall, ClientRules, Retrying
from apimgen.simulate.context import (
    Api,
    Context,
    Deployment,
    Operation,
    Product,
    Request,
    Response,
    Subscription,
    SubscriptionKeyParameterNames,
    User,
)
from apimgen.simulate.engine import (
    CompiledPipeline,
    EventLoop,
    compile_pipeline,
    on_error,
    process,
)
from apimgen.simulate.explain import Explainer
from apimgen.simulate.expr.dictionaries import MultiValueDictionary
from apimgen.simulate.expr.values import to_token
from apimgen.simulate.policy.scopes import PolicySet, load_policy_folder, policy_set_from_texts
from apimgen.simulate.regions import DEFAULT_REGION
from apimgen.simulate.results import (
    BackendStats,
    ClientStats,
    ConsumerStats,
    SimulationResult,
)
from apimgen.simulate.scenario import (
    EMBEDDINGS,
    RESPONSES,
    BackendBehaviour,
    Consumer,
    LoadedScenario,
    Scenario,
    api_of,
)
from apimgen.simulate.semantic_cache import SemanticCache
from apimgen.simulate.state import GatewayServices, PolicyError, RequestState, error_body
from apimgen.simulate.traffic import PlannedCall, ScriptStep, calls, script, unsigned_jwt

if TYPE_CHECKING:
    from apimgen.model.gateway import Gateway as GatewayModel
    from apimgen.simulate.embeddings.provider import CachedEmbedder
    from apimgen.simulate.request_log import RequestLog

__all__ = ["run_scenario"]

DEFAULT_TPM = 100_000


@dataclass
class _Gateway:
    """The policies and backends one scenario runs against."""

    policies: PolicySet
    deployments: dict[str, MockDeployment]  # the Azure side: shared by every gateway region
    breakers: dict[str, BreakerRule | None]
    pools: dict[str, list[PoolMember]]
    api: str
    api_path: str
    urls: dict[str, str] = field(default_factory=dict)  # backend → URL, for base-url routing
    api_backend: str | None = None  # where a call goes that no policy routed (the service URL)
    # where callers put their key: the spec's names, else APIM's defaults
    key_names: SubscriptionKeyParameterNames = field(default_factory=SubscriptionKeyParameterNames)
    subscription_required: bool = True  # APIM's default for an API

    def registry(self) -> BackendRegistry:
        """Backend entities for one gateway node: breakers and rotations are per node."""
        singles = {
            name: SingleBackend(name, deployment, self.breakers[name])
            for name, deployment in self.deployments.items()
        }
        return BackendRegistry(singles, self.pools, self.urls)


def _from_spec(loaded: LoadedScenario) -> _Gateway:
    from apimgen.model.resolve import resolve
    from apimgen.render.policies import render_policy_files
    from apimgen.spec.load import load_spec

    source = loaded.scenario.policies
    assert source.spec is not None
    spec_path = (loaded.base_dir / source.spec).resolve()
    spec = load_spec(spec_path)
    gateway = resolve(spec.spec, spec.fragment_texts)
    files = render_policy_files(gateway)
    named = {nv.name: nv.value or f"<secret:{nv.name}>" for nv in gateway.named_values}
    texts = {name.removeprefix("policies/"): text for name, text in files.items()}
    policies = policy_set_from_texts(texts, named, prefix=f"{spec_path.name}:policies/")
    behaviours = loaded.scenario.backends
    _check_spec_backends(loaded, [backend.name for backend in gateway.backends])
    deployments: dict[str, MockDeployment] = {}
    breakers: dict[str, BreakerRule | None] = {}
    for backend in gateway.backends:
        behaviour = behaviours.get(backend.name, BackendBehaviour(tpm=DEFAULT_TPM))
        rule = backend.circuit_breaker
        breaker = (
            BreakerRule(
                rule.failure_count,
                rule.failure_percentage,
                rule.interval_seconds,
                rule.status_code_ranges,
                rule.trip_duration_seconds,
                rule.accept_retry_after,
            )
            if rule
            else None
        )
        model, region = _account_model_and_region(gateway, backend.account)
        deployments[backend.name] = _deployment(backend.name, behaviour, model, region)
        breakers[backend.name] = breaker
    pools = {
        pool.name: [PoolMember(m.backend, m.priority, m.weight) for m in pool.members]
        for pool in gateway.pools
    }
    api_name = loaded.scenario.api or gateway.apis[0].name
    api = next((a for a in gateway.apis if a.name == api_name), None)
    if api is None:
        raise loaded.refused(
            ("api",),
            f"the spec has no API '{api_name}'",
            f"APIs: {', '.join(a.name for a in gateway.apis)}",
        )
    _check_products(loaded, [product.name for product in gateway.products])
    urls = {backend.name: backend.url for backend in gateway.backends}
    key_names = SubscriptionKeyParameterNames(
        api.subscription_key_header, api.subscription_key_query
    )
    return _Gateway(
        policies,
        deployments,
        breakers,
        pools,
        api.name,
        api.path,
        urls,
        key_names=key_names,
        subscription_required=api.subscription_required,
    )


def _check_spec_backends(loaded: LoadedScenario, names: list[str]) -> None:
    """Scenario backend settings a spec scenario would silently ignore: settings for a backend
    the spec lacks, and what the spec itself sets (breakers, URLs, pools)."""
    for name, behaviour in loaded.scenario.backends.items():
        if name not in names:
            raise loaded.refused(
                ("backends", name), "the spec has no such backend", f"backends: {', '.join(names)}"
            )
        for key in ("circuit_breaker", "url"):
            if getattr(behaviour, key) is not None:
                raise loaded.refused(
                    ("backends", name, key),
                    f"the spec sets this backend's {key}",
                    "change it in the spec; the scenario's is for policy folders",
                )
    if loaded.scenario.pools:
        raise loaded.refused(
            ("pools",),
            "the spec defines the pools",
            "change them in the spec; the scenario's are for policy folders",
        )


def _deployment(
    name: str,
    behaviour: BackendBehaviour,
    model: str | None = None,
    region: str | None = None,
) -> MockDeployment:
    """A backend's mock deployment; ``model`` and ``region`` are the spec's, which the
    scenario's own settings override."""
    reservation = reservation_for(behaviour.model or model or DEFAULT_MODEL)
    override = behaviour.reservation
    if override is not None:
        reservation = Reservation(
            reservation.without_max_tokens
            if override.without_max_tokens is None
            else override.without_max_tokens,
            reservation.counts_prompt if override.counts_prompt is None else override.counts_prompt,
        )
    return MockDeployment(
        name,
        behaviour.tpm,
        latency_base=behaviour.latency_base,
        latency_per_token=behaviour.latency_per_token,
        reservation=reservation,
        region=behaviour.region or region or DEFAULT_REGION,
        error_rate=behaviour.error_rate,
        outages=tuple(Outage(o.start, o.end, o.status) for o in behaviour.outages),
        scripted=tuple(
            Scripted(
                frozenset(a.calls or ()),
                float(a.start or 0),
                float(a.end or 0),
                a.status,
                tuple(a.headers.items()),
                None if a.latency is None else float(a.latency),
            )
            for a in behaviour.answers
        ),
    )


def _account_model_and_region(
    gateway: GatewayModel, account_name: str | None
) -> tuple[str | None, str | None]:
    """The model a spec backend's account deploys (its first deployment's) and its location."""
    account = next((a for a in gateway.openai_accounts if a.name == account_name), None)
    if account is None:
        return None, None
    model = account.deployments[0].model if account.deployments else None
    return model, account.location


def _from_folder(loaded: LoadedScenario) -> _Gateway:
    source = loaded.scenario.policies
    assert source.folder is not None
    policies = load_policy_folder(
        loaded.base_dir / source.folder, source.named_values, source.placeholders
    )
    behaviours = loaded.scenario.backends
    pools = {
        name: [PoolMember(m.backend, m.priority, m.weight) for m in members]
        for name, members in loaded.scenario.pools.items()
    }
    if source.api_backend is not None and source.api_backend not in {*behaviours, *pools}:
        raise loaded.refused(
            ("policies", "api_backend"),
            f"no backend or pool '{source.api_backend}' in the scenario",
            f"backends and pools: {', '.join(sorted({*behaviours, *pools})) or 'none'}",
        )
    api = loaded.scenario.api or next(iter(sorted(policies.apis)), "api")
    if policies.apis and api not in policies.apis:
        raise loaded.refused(
            ("api",),
            f"the policy folder has no apis/{api}.xml",
            f"APIs with policies: {', '.join(sorted(policies.apis))}",
        )
    return _Gateway(
        policies,
        {name: _deployment(name, behaviour) for name, behaviour in behaviours.items()},
        {name: _breaker(behaviour) for name, behaviour in behaviours.items()},
        pools,
        api,
        api,
        {name: behaviour.url for name, behaviour in behaviours.items() if behaviour.url},
        source.api_backend,
        subscription_required=source.subscription_required is not False,
    )


def _breaker(behaviour: BackendBehaviour) -> BreakerRule | None:
    rule = behaviour.circuit_breaker
    if rule is None:
        return None
    return BreakerRule(
        rule.failure_count,
        rule.failure_percentage,
        rule.interval,
        tuple(rule.status_codes),
        rule.trip_duration,
        rule.accept_retry_after,
    )


@dataclass(frozen=True)
class _Caller:
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


def _token_times(scenario: Scenario) -> dict[str, int]:
    """The times of a consumer's token where the scenario gives none: issued when the run
    starts, valid an hour past its end (Entra tokens live about that long; a client renews
    one before it expires). Without them validate-jwt refuses every call."""
    start = int(scenario.starts_at.timestamp())
    return {"iat": start, "nbf": start, "exp": start + int(scenario.duration) + 3600}


def _caller(
    consumer: Consumer, gateway: _Gateway, operation: str, region: str, times: dict[str, int]
) -> _Caller:
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
    return _Caller(
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
class _Pipelines:
    """Each (operation, product) pair's compiled pipeline, compiled on first use, and the
    policies skipped in any of them (--skip-unknown), each listed once."""

    gateway: _Gateway
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


@dataclass
class _Callers:
    """Each consumer's caller parts per gateway node, made on its first request."""

    gateway: _Gateway
    token_times: dict[str, int]
    made: dict[tuple[int, str], _Caller] = field(default_factory=dict)

    def get(self, order: int, consumer: Consumer, region: str, operation: str) -> _Caller:
        caller = self.made.get((order, region))
        if caller is None:
            caller = _caller(consumer, self.gateway, operation, region, self.token_times)
            self.made[(order, region)] = caller
        return caller


_Lane = tuple["_NodeRing", "_Caller", CompiledPipeline, bool]


def _context(call: PlannedCall, caller: _Caller, attempt: int = 0) -> Context:
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


def _without_key(pipeline: CompiledPipeline, state: RequestState) -> Iterator[float]:
    """A call without a subscription key to an API that requires one: the gateway's built-in
    authorization step fails it before any policy, with 401, and on-error runs (Learn:
    predefined errors for built-in steps; its error-handling example is such a call)."""
    headers = {"Content-Type": "application/json"}
    response = Response(401, "Access Denied", headers, error_body(401, _MISSING_KEY))
    error = PolicyError("SubscriptionKeyNotFound", _MISSING_KEY, None, response, "authorization")
    return on_error(pipeline, state, error)


# The limit policies' refusals: counted in the 429 and 403 columns, not listed as failures.
_THROTTLING = frozenset(
    {
        "RateLimitExceeded",
        "QuotaExceeded",
        "OpenAITokenLimitExceeded",
        "OpenAITokenQuotaExceeded",
        "ConcurrencyLimitExceeded",
    }
)


@dataclass
class _Collector:
    """Folds finished requests into per-consumer and per-minute totals as they complete."""

    consumers: dict[str, ConsumerStats]
    per_minute: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: Counter[str] = field(default_factory=Counter)
    empty_bodies: int = 0  # answers whose body a policy used up (read without preserveContent)
    unforwarded: int = 0  # calls no forward-request sent on and nothing answered or failed

    def done(self, state: RequestState) -> None:
        response = state.context.Response
        status = response.StatusCode
        if response.Body is not None and response.Body.consumed:
            self.empty_bodies += 1
        if not (state.backend_calls or state.returned or state.error):
            self.unforwarded += 1
        tokens = state.usage["total_tokens"] if state.usage else 0
        minute = int(state.services.now // 60)
        self.consumers[state.consumer_name].record(minute, status, tokens, state.backend_calls)
        if tokens:
            self.per_minute[minute] += tokens
        if state.error is not None:
            reason, message = state.error
            # Throttling has its own columns; any other failure is listed with its reason.
            if reason not in _THROTTLING:
                self.errors[f"{status} {reason}: {message}"] += 1


def _check_products(loaded: LoadedScenario, products: list[str]) -> None:
    """A consumer in a product the spec lacks would run without that product's policies. (A
    policy folder's products are not all known: one without a file has no policies.)"""
    for index, consumer in enumerate(loaded.scenario.consumers):
        if consumer.product is not None and consumer.product not in products:
            raise loaded.refused(
                ("consumers", index, "product"),
                f"the spec has no product '{consumer.product}'",
                f"products: {', '.join(products) or 'none'}",
            )


def _check_expected_backends(loaded: LoadedScenario, gateway: _Gateway) -> None:
    """An expectation naming a backend the gateway lacks would measure nothing and pass."""
    known = sorted(gateway.deployments)
    for index, expectation in enumerate(loaded.scenario.expect):
        for key in ("backend", "while_available"):
            name = getattr(expectation, key)
            if name is not None and name not in gateway.deployments:
                raise loaded.refused(
                    ("expect", index, key),
                    f"unknown backend '{name}'",
                    f"backends: {', '.join(known)}",
                )


class _NodeRing:
    """A region's gateway nodes, taking its calls in turn as its load balancer hands them
    out (round robin, so runs repeat)."""

    __slots__ = ("nodes", "turn")

    def __init__(self, nodes: list[GatewayServices]) -> None:
        self.nodes = nodes
        self.turn = 0

    def next(self) -> GatewayServices:
        nodes = self.nodes
        if len(nodes) == 1:
            return nodes[0]
        node = nodes[self.turn]
        self.turn = (self.turn + 1) % len(nodes)
        return node


def _nodes(
    loaded: LoadedScenario, gateway: _Gateway, seed: int, semantic_cache: SemanticCache
) -> dict[str, _NodeRing]:
    """Each region's gateway nodes. A region's nodes share its limit counters and value
    cache (reference section 12: counting is per region); each node keeps its own breakers,
    pool rotation and concurrency slots. The semantic cache is shared by all, like the
    external Redis cache the nodes would share."""
    scenario = loaded.scenario
    watched = _watched_backends(loaded)
    rings: dict[str, _NodeRing] = {}
    for index, region in enumerate(scenario.regions):
        members: list[GatewayServices] = []
        for unit in range(scenario.gateway.nodes):
            node = GatewayServices(
                seed=seed * 1000 + index + 100 * unit, region=region, epoch=scenario.starts_at
            )
            node.backends = gateway.registry()
            node.backends.watched = watched
            node.semantic_cache = semantic_cache
            node.retry_reselects_backend = scenario.gateway.retry_reselects_backend
            node.endpoints = scenario.endpoints
            if members:
                node.counters = members[0].counters
                node.cache = members[0].cache
                node.response_cache = members[0].response_cache
            else:
                # the region its own tokens: a policy may change a JArray it looked up
                node.cache = {
                    key: (math.inf, to_token(value) if isinstance(value, list | dict) else value)
                    for key, value in scenario.cached_values.items()
                }
            members.append(node)
        rings[region] = _NodeRing(members)
    return rings


def _every_node(rings: dict[str, _NodeRing]) -> list[GatewayServices]:
    return [node for ring in rings.values() for node in ring.nodes]


def _watched_backends(loaded: LoadedScenario) -> dict[str, tuple[str, ...]]:
    """Backend → the backends whose availability its calls are counted against."""
    watched: dict[str, set[str]] = defaultdict(set)
    for expectation in loaded.scenario.expect:
        if expectation.backend and expectation.while_available:
            watched[expectation.backend].add(expectation.while_available)
    return {backend: tuple(sorted(others)) for backend, others in watched.items()}


def _backend_stats(
    gateway: _Gateway, nodes: list[GatewayServices], cache: SemanticCache
) -> dict[str, BackendStats]:
    calls, tokens = cache.stats.embedding_calls_by_backend, cache.stats.embedding_tokens_by_backend
    return {
        name: BackendStats(
            requests=deployment.calls,
            tokens=deployment.tokens_served,
            throttled=deployment.throttled,
            trips=sum(node.backends.singles[name].trips for node in nodes),
            tokens_per_minute=dict(deployment.tokens_per_minute),
            embedding_calls=calls[name],
            embedding_tokens=tokens[name],
        )
        for name, deployment in sorted(gateway.deployments.items())
    }


def _local_embedder() -> CachedEmbedder:
    from apimgen.simulate.embeddings.minilm import load_minilm
    from apimgen.simulate.embeddings.provider import CachedEmbedder

    return CachedEmbedder(load_minilm())


def embedder_for(loaded: LoadedScenario) -> CachedEmbedder:
    """The scenario's Azure OpenAI deployment when it names one, else the local model."""
    from apimgen.simulate.embeddings.provider import CachedEmbedder

    remote = loaded.scenario.semantic_cache.azure_openai
    if remote is None:
        return _local_embedder()
    from apimgen.simulate.embeddings.azure_openai import AzureOpenAIEncoder

    return CachedEmbedder(
        AzureOpenAIEncoder(remote.endpoint, remote.deployment, remote.api_version)
    )


def _log_records(nodes: Iterable[GatewayServices]) -> dict[str, dict[str, int]]:
    """What trace and log-to-eventhub wrote over every gateway node, by policy then sink."""
    records: dict[str, dict[str, int]] = {}
    for (policy, sink), count in sorted(sum((n.log_records for n in nodes), Counter()).items()):
        records.setdefault(policy, {})[sink] = count
    return records


def _cache_summary(cache: SemanticCache) -> dict[str, Any] | None:
    stats = cache.stats
    if not stats.lookups and not stats.skipped:
        return None
    embedder = cache.embedder_name
    return {
        "embedder": embedder,
        "distance_scale": cache.distance_scale,
        "lookups": stats.lookups,
        "hits": stats.hits,
        "true_hits": stats.true_hits,
        "false_hits": stats.false_hits,
        "stores": stats.stores,
        "skipped": stats.skipped,
        "hit_ratio": stats.hits / stats.lookups if stats.lookups else 0.0,
        "embedding_tokens": stats.embedding_tokens,
        "tokens_saved": stats.tokens_saved,
        "texts_embedded": cache.embedder.computed if embedder else 0,
        "thresholds": sorted(stats.thresholds),
        "warning": _threshold_warning(cache),
    }


def _threshold_warning(cache: SemanticCache) -> str | None:
    from apimgen.simulate.embeddings.minilm import MODEL_NAME, PARAPHRASE_DISTANCE

    typical = PARAPHRASE_DISTANCE
    swept = cache.threshold_override is not None
    if cache.calibrated or swept or cache.embedder_name != MODEL_NAME:
        return None
    strict = [t for t in sorted(cache.stats.thresholds) if t * 2 < typical]
    if not strict:
        return None
    return (
        f"score-threshold {strict[0]:g} is compared with {cache.embedder_name} distances, which "
        f"put paraphrases about {typical:g} apart (thresholds like 0.05 were set for Azure "
        "OpenAI embeddings): only near-identical prompts can hit. Give the scenario "
        "semantic_cache.distance_scale, or choose with --sweep cache.score-threshold=0.01:0.30:0.01"
    )


def _limits_by_consumer(nodes: Iterable[GatewayServices]) -> dict[str, list[int]]:
    """The tokens-per-minute limits each consumer's calls met, smallest first."""
    limits: dict[str, set[int]] = {}
    for node in nodes:
        for consumer, tpm in node.token_limits:
            limits.setdefault(consumer, set()).add(tpm)
    return {consumer: sorted(values) for consumer, values in sorted(limits.items())}


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
    collector: _Collector,
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
        state = RequestState(_context(planned, caller, call.retries), node, llm=planned.llm)
        state.consumer_name = planned.consumer.name
        state.backend_id = self.api_backend
        state.client_call = call
        state.context.arrived(node.epoch, time)
        if self.retrying is not None:
            self.retrying.started(call, state, time)
        run = _without_key if keyless else process
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
    scenario: Scenario, collector: _Collector, seed: int, resend: _Resender
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
    gateway: _Gateway,
    nodes: dict[str, _NodeRing],
    pipelines: _Pipelines,
    seed: int,
    lanes: list[_Lane],
    scripts: dict[int, list[ScriptStep]],
) -> list[tuple[float, int, PlannedCall, Iterator[PlannedCall]]]:
    """Each consumer's lane (appended to ``lanes``) and its stream of calls, on a heap by
    the time of the next call."""
    streams: list[tuple[float, int, PlannedCall, Iterator[PlannedCall]]] = []
    callers = _Callers(gateway, _token_times(scenario))
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
    gateway = _from_spec(loaded) if scenario.policies.spec else _from_folder(loaded)
    _check_expected_backends(loaded, gateway)
    semantic_cache = SemanticCache(
        (lambda: embedder) if embedder is not None else (lambda: embedder_for(loaded)),
        scenario.semantic_cache.distance_scale,
        threshold_override=score_threshold,
        calibrated="distance_scale" in scenario.semantic_cache.model_fields_set,
    )
    rings = _nodes(loaded, gateway, run_seed, semantic_cache)
    nodes = _every_node(rings)
    pipelines = _Pipelines(gateway, skip, loaded.schemas, explainer)
    collector = _Collector({c.name: ConsumerStats() for c in scenario.consumers})
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
        state = RequestState(_context(call, caller), node, llm=call.llm)
        state.consumer_name = call.consumer.name
        state.backend_id = api_backend
        if retrying is not None and (order in retrying.rules or order in resend.scripts):
            state.client_call = ClientCall(call, order, time)
            retrying.started(state.client_call, state, time)
        state.context.arrived(node.epoch, time)
        if keyless and explainer is not None:
            explainer.built_in(state, "subscription key", "raised SubscriptionKeyNotFound")
        run = _without_key if keyless else process
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
        backends=_backend_stats(gateway, nodes, semantic_cache),
        tokens_per_minute=dict(collector.per_minute),
        metric_samples=sum(node.metrics.samples for node in nodes),
        metric_stores=[node.metrics for node in nodes],
        skipped_policies=pipelines.skipped,
        errors=collector.errors,
        limits_by_consumer=_limits_by_consumer(nodes),
        semantic_cache=_cache_summary(semantic_cache),
        calls_while_available=sum(
            (node.backends.calls_while_available for node in nodes), Counter()
        ),
        endpoint_calls=dict(sum((node.endpoint_calls for node in nodes), Counter())),
        log_records=_log_records(nodes),
        # in the order the requests arrived (they finish in another)
        explained=sorted(explainer.explained, key=lambda e: e.arrived) if explainer else [],
        empty_bodies=collector.empty_bodies,
        unforwarded=collector.unforwarded,
        stopped_at=stopped_at,
    )
    result.check(scenario.expect)
    return result
