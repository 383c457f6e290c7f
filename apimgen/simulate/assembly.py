"""A scenario assembled into what it runs against: the policies, the mock Azure OpenAI
deployments and the backend entities over them (from a spec or a policy folder), and each
region's gateway nodes."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
from apimgen.simulate.context import (
    SubscriptionKeyParameterNames,
)
from apimgen.simulate.expr.values import to_token
from apimgen.simulate.policy.scopes import PolicySet, load_policy_folder, policy_set_from_texts
from apimgen.simulate.regions import DEFAULT_REGION
from apimgen.simulate.scenario import (
    BackendBehaviour,
    LoadedScenario,
)
from apimgen.simulate.semantic_cache import SemanticCache
from apimgen.simulate.state import GatewayServices

if TYPE_CHECKING:
    from apimgen.model.gateway import Gateway as GatewayModel
    from apimgen.simulate.embeddings.provider import CachedEmbedder

__all__ = [
    "DEFAULT_TPM",
    "NodeRing",
    "ScenarioGateway",
    "check_expected_backends",
    "embedder_for",
    "every_node",
    "gateway_from_folder",
    "gateway_from_spec",
    "gateway_nodes",
]


DEFAULT_TPM = 100_000


@dataclass
class ScenarioGateway:
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


def gateway_from_spec(loaded: LoadedScenario) -> ScenarioGateway:
    from apimgen.pipeline import build_gateway
    from apimgen.render.policies import render_policy_files
    from apimgen.spec.load import load_spec

    source = loaded.scenario.policies
    assert source.spec is not None
    spec_path = (loaded.base_dir / source.spec).resolve()
    spec = load_spec(spec_path)
    gateway = build_gateway(spec)
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
    return ScenarioGateway(
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


def gateway_from_folder(loaded: LoadedScenario) -> ScenarioGateway:
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
    return ScenarioGateway(
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


def check_expected_backends(loaded: LoadedScenario, gateway: ScenarioGateway) -> None:
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


class NodeRing:
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


def gateway_nodes(
    loaded: LoadedScenario, gateway: ScenarioGateway, seed: int, semantic_cache: SemanticCache
) -> dict[str, NodeRing]:
    """Each region's gateway nodes. A region's nodes share its limit counters and value
    cache (reference section 12: counting is per region); each node keeps its own breakers,
    pool rotation and concurrency slots. The semantic cache is shared by all, like the
    external Redis cache the nodes would share."""
    scenario = loaded.scenario
    watched = _watched_backends(loaded)
    rings: dict[str, NodeRing] = {}
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
        rings[region] = NodeRing(members)
    return rings


def every_node(rings: dict[str, NodeRing]) -> list[GatewayServices]:
    return [node for ring in rings.values() for node in ring.nodes]


def _watched_backends(loaded: LoadedScenario) -> dict[str, tuple[str, ...]]:
    """Backend → the backends whose availability its calls are counted against."""
    watched: dict[str, set[str]] = defaultdict(set)
    for expectation in loaded.scenario.expect:
        if expectation.backend and expectation.while_available:
            watched[expectation.backend].add(expectation.while_available)
    return {backend: tuple(sorted(others)) for backend, others in watched.items()}


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
