"""Checks that span several parts of a spec: references, uniqueness, tier rules, prerequisites.

Field-level rules live on the models; what needs the whole document lives here. Every finding is
located at the key that has to change, and all findings are returned together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from apimgen.errors import Diagnostic, Severity
from apimgen.files import OutsideRootError, confine
from apimgen.model.resolve import api_key_named_value
from apimgen.resources import builtin_fragment_names
from apimgen.spec.document import Spec
from apimgen.spec.paths import format_path
from apimgen.spec.policies import MAX_CUSTOM_DIMENSIONS, FragmentIncludes, ScopePolicies
from apimgen.spec.resources import Sku
from apimgen.spec.validation_errors import did_you_mean
from apimgen.spec.yaml_source import KeyPath, YamlSource

__all__ = ["MAX_POOL_MEMBERS", "SCORE_THRESHOLD_WARNING", "check_spec"]

MAX_POOL_MEMBERS = 30
SCORE_THRESHOLD_WARNING = 0.2


@dataclass
class _Findings:
    source: YamlSource
    items: list[Diagnostic] = field(default_factory=list)

    def error(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.items.append(Diagnostic(self.source.locate(path), format_path(path), message, hint))

    def warning(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.items.append(
            Diagnostic(self.source.locate(path), format_path(path), message, hint, Severity.WARNING)
        )


def _unique(findings: _Findings, kind: str, entries: Iterable[tuple[KeyPath, str]]) -> None:
    seen: dict[str, KeyPath] = {}
    for path, name in entries:
        key = name.lower()  # APIM ids are case-insensitive
        if key in seen:
            first = findings.source.locate(seen[key])
            findings.error(
                path,
                f"duplicate {kind} '{name}' (first defined on line {first.line})",
                hint="names must be unique (case-insensitive)",
            )
        else:
            seen[key] = path


def _reference(
    findings: _Findings, path: KeyPath, name: str, kind: str, known: Iterable[str]
) -> bool:
    names = list(known)
    if name in names:
        return True
    hint = did_you_mean(name, names) or (
        f"known {kind}s: {', '.join(names)}" if names else f"define it under the {kind}s list"
    )
    findings.error(path, f"unknown {kind} '{name}'", hint=hint)
    return False


def _scopes(spec: Spec) -> Iterator[tuple[KeyPath, ScopePolicies]]:
    yield ("global",), spec.global_
    for i, product in enumerate(spec.products):
        yield ("products", i), product
    for i, api in enumerate(spec.apis):
        yield ("apis", i), api
        for j, operation in enumerate(api.operations or []):
            yield ("apis", i, "operations", j), operation


def _check_names(spec: Spec, findings: _Findings) -> None:
    # Backends and pools are both `service/backends` entities: one namespace.
    _unique(
        findings,
        "backend or pool",
        [(("backends", i, "name"), b.name) for i, b in enumerate(spec.backends)]
        + [(("pools", i, "name"), p.name) for i, p in enumerate(spec.pools)],
    )
    _unique(findings, "API", [(("apis", i, "name"), a.name) for i, a in enumerate(spec.apis)])
    _unique(findings, "API path", [(("apis", i, "path"), a.path) for i, a in enumerate(spec.apis)])
    _unique(
        findings,
        "product",
        [(("products", i, "name"), p.name) for i, p in enumerate(spec.products)],
    )
    _unique(
        findings,
        "consumer",
        [(("consumers", i, "name"), c.name) for i, c in enumerate(spec.consumers)],
    )
    _unique(
        findings,
        "named value",
        [(("named_values", i, "name"), n.name) for i, n in enumerate(spec.named_values)],
    )
    _unique(
        findings,
        "fragment",
        [(("fragments", i, "name"), f.name) for i, f in enumerate(spec.fragments)],
    )
    _unique(
        findings,
        "OpenAI account",
        [(("openai", i, "name"), a.name) for i, a in enumerate(spec.openai)],
    )
    reserved = {
        api_key_named_value(b.name): b.name for b in spec.backends if b.auth.type == "api_key"
    }
    for i, named_value in enumerate(spec.named_values):
        if named_value.name in reserved:
            findings.error(
                ("named_values", i, "name"),
                f"'{named_value.name}' is reserved for the API key of backend "
                f"'{reserved[named_value.name]}'",
                hint="rename the named value",
            )
    for i, api in enumerate(spec.apis):
        _unique(
            findings,
            "operation",
            [
                (("apis", i, "operations", j, "name"), o.name)
                for j, o in enumerate(api.operations or [])
            ],
        )
    for i, account in enumerate(spec.openai):
        _unique(
            findings,
            "deployment",
            [
                (("openai", i, "deployments", j, "name"), d.name)
                for j, d in enumerate(account.deployments)
            ],
        )


def _check_backends(spec: Spec, findings: _Findings) -> None:
    accounts = [a.name for a in spec.openai]
    singles = {b.name for b in spec.backends}
    pools = {p.name for p in spec.pools}
    for i, account in enumerate(spec.openai):
        other_group = account.resource_group not in (None, spec.gateway.resource_group)
        if account.existing and other_group and account.grant_gateway_access:
            findings.error(
                ("openai", i, "resource_group"),
                f"apimgen cannot grant the gateway access to '{account.name}' in resource group "
                f"'{account.resource_group}': a Bicep deployment only writes to its own group",
                hint="set grant_gateway_access: false and assign 'Cognitive Services OpenAI "
                "User' to the gateway's identity on that account yourself",
            )
    for i, backend in enumerate(spec.backends):
        if backend.account is not None:
            _reference(
                findings, ("backends", i, "account"), backend.account, "OpenAI account", accounts
            )
    for i, pool in enumerate(spec.pools):
        if len(pool.members) > MAX_POOL_MEMBERS:
            findings.error(
                ("pools", i, "members"),
                f"a pool holds at most {MAX_POOL_MEMBERS} backends, this one has "
                f"{len(pool.members)}",
                hint="split the members over several pools",
            )
        seen: set[str] = set()
        for j, member in enumerate(pool.members):
            path = ("pools", i, "members", j, "backend")
            if member.backend in pools:
                findings.error(
                    path,
                    f"'{member.backend}' is a pool; pools cannot contain pools",
                    hint="list the pool's single backends instead",
                )
                continue
            if not _reference(findings, path, member.backend, "backend", sorted(singles)):
                continue
            if member.backend in seen:
                findings.error(path, f"backend '{member.backend}' is listed twice in this pool")
            seen.add(member.backend)
        priorities = {m.priority for m in pool.members}
        if len(priorities) > 1:
            by_name = {b.name: b for b in spec.backends}
            for j, member in enumerate(pool.members):
                member_backend = by_name.get(member.backend)
                if member_backend is not None and member_backend.circuit_breaker is None:
                    findings.warning(
                        ("pools", i, "members", j, "backend"),
                        f"backend '{member.backend}' has no circuit_breaker, so this pool can "
                        "never fail over from its priority group",
                        hint="lower priorities only get traffic while every higher member is "
                        "tripped; add a circuit_breaker to the backend",
                    )


def _pool_auth_types(spec: Spec, backend_name: str) -> set[tuple[str, str]]:
    by_name = {b.name: b for b in spec.backends}
    pool = next((p for p in spec.pools if p.name == backend_name), None)
    members = [m.backend for m in pool.members] if pool else [backend_name]
    return {(by_name[m].auth.type, by_name[m].auth.resource) for m in members if m in by_name}


def _check_apis(spec: Spec, findings: _Findings) -> None:
    targets = [b.name for b in spec.backends] + [p.name for p in spec.pools]
    for i, api in enumerate(spec.apis):
        path = ("apis", i, "backend")
        if not _reference(findings, path, api.backend, "backend or pool", targets):
            continue
        if len(_pool_auth_types(spec, api.backend)) > 1:
            findings.error(
                path,
                f"the members of pool '{api.backend}' authenticate differently",
                hint="one API sends one kind of credential; give all members the same auth",
            )
        if isinstance(api.retry.count, int) and api.retry.enabled and api.retry.count > 50:
            findings.error(("apis", i, "retry", "count"), "retry count must be 50 or less")
    api_names = [a.name for a in spec.apis]
    for i, product in enumerate(spec.products):
        for j, api_name in enumerate(product.apis):
            _reference(findings, ("products", i, "apis", j), api_name, "API", api_names)
    product_names = [p.name for p in spec.products]
    for i, consumer in enumerate(spec.consumers):
        if consumer.product is not None and consumer.api is not None:
            findings.error(
                ("consumers", i),
                "a subscription is for one product or one API, not both",
                hint="drop `api` or `product`",
            )
        if consumer.product is not None:
            _reference(
                findings, ("consumers", i, "product"), consumer.product, "product", product_names
            )
        if consumer.api is not None:
            _reference(findings, ("consumers", i, "api"), consumer.api, "API", api_names)


def _check_scopes(spec: Spec, findings: _Findings, spec_dir: Path | None) -> None:
    singles = [b.name for b in spec.backends]
    fragments = [f.name for f in spec.fragments] + sorted(builtin_fragment_names())
    first_metrics: KeyPath | None = None
    first_cache: KeyPath | None = None
    for base, scope in _scopes(spec):
        if spec.gateway.sku is Sku.CONSUMPTION and scope.token_limits:
            findings.error(
                (*base, "token_limits"),
                "token limits are not available on the Consumption tier",
                hint="choose a v2 or classic tier for gateway.sku",
            )
        if scope.token_metrics is not None:
            first_metrics = first_metrics or (*base, "token_metrics")
            custom = [d for d in scope.token_metrics.dimensions if d.is_custom]
            if len(custom) > MAX_CUSTOM_DIMENSIONS:
                findings.error(
                    (*base, "token_metrics", "dimensions"),
                    f"{len(custom)} custom dimensions; APIM keeps at most "
                    f"{MAX_CUSTOM_DIMENSIONS} and silently drops the rest",
                    hint="remove custom dimensions or use built-in ones (api, user, ...)",
                )
            names = [d.name or d.builtin or "" for d in scope.token_metrics.dimensions]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                findings.error(
                    (*base, "token_metrics", "dimensions"),
                    f"dimension '{dupes[0]}' is listed twice",
                )
        cache = scope.semantic_cache
        if cache is not None:
            first_cache = first_cache or (*base, "semantic_cache")
            if cache.score_threshold > SCORE_THRESHOLD_WARNING:
                findings.warning(
                    (*base, "semantic_cache", "score_threshold"),
                    f"score_threshold {cache.score_threshold} is a distance: above "
                    f"{SCORE_THRESHOLD_WARNING} unrelated prompts start to share answers",
                    hint="start near 0.05 and measure with `apimgen simulate`",
                )
            if spec.gateway.identity != "system_assigned":
                findings.error(
                    (*base, "semantic_cache"),
                    "semantic caching calls the embeddings backend with the gateway's "
                    "system-assigned identity, and this gateway has none",
                    hint="use gateway.identity: system_assigned",
                )
            _reference(
                findings,
                (*base, "semantic_cache", "embeddings_backend"),
                cache.embeddings_backend,
                "backend",
                singles,
            )
        for section in FragmentIncludes.SECTIONS:
            for index, name in enumerate(getattr(scope.include_fragments, section)):
                _reference(
                    findings,
                    (*base, "include_fragments", section, index),
                    name,
                    "fragment",
                    fragments,
                )
    if first_metrics and spec.observability.app_insights is None:
        findings.error(
            first_metrics,
            "token metrics need an Application Insights destination; without it APIM drops "
            "them silently",
            hint="add `observability: {app_insights: {name: ...}}`",
        )
    if first_cache and spec.redis is None:
        findings.error(
            first_cache,
            "semantic caching needs an external Redis cache with RediSearch",
            hint="add `redis: {name: ...}` (Azure Managed Redis)",
        )
    if spec_dir is not None:
        for i, fragment in enumerate(spec.fragments):
            try:
                confine(spec_dir, fragment.file)
            except OutsideRootError as outside:
                findings.error(("fragments", i, "file"), str(outside), hint=outside.hint)
                continue
            if not (spec_dir / fragment.file).is_file():
                findings.error(
                    ("fragments", i, "file"),
                    f"fragment file '{fragment.file}' not found",
                    hint="paths are relative to the spec file",
                )


def _check_gateway(spec: Spec, findings: _Findings) -> None:
    gateway = spec.gateway
    if gateway.sku is Sku.CONSUMPTION and gateway.capacity != 0:
        findings.error(("gateway", "capacity"), "the Consumption tier needs capacity 0")
    if gateway.sku is not Sku.CONSUMPTION and gateway.capacity == 0:
        findings.error(
            ("gateway", "capacity"), f"the {gateway.sku.value} tier needs capacity 1 or more"
        )
    if gateway.additional_regions and gateway.sku is not Sku.PREMIUM:
        findings.error(
            ("gateway", "additional_regions"),
            f"extra gateway regions need the Premium tier, not {gateway.sku.value}",
        )


def _check_environments(spec: Spec, findings: _Findings) -> None:
    _unique(
        findings,
        "environment",
        [(("environments", i, "name"), e.name) for i, e in enumerate(spec.environments)],
    )
    for i, env in enumerate(spec.environments):
        sku = env.sku or spec.gateway.sku
        capacity = env.capacity if env.capacity is not None else spec.gateway.capacity
        if spec.gateway.additional_regions and sku is not Sku.PREMIUM:
            findings.error(
                ("environments", i, "sku"),
                f"environment '{env.name}' uses {sku.value}, but the gateway has "
                "additional_regions, which need the Premium tier",
            )
        if (sku is Sku.CONSUMPTION) != (capacity == 0):
            findings.error(
                ("environments", i),
                f"environment '{env.name}': {sku.value} needs capacity "
                + ("0" if sku is Sku.CONSUMPTION else "1 or more"),
            )
        if sku is Sku.PREMIUM_V2 and not spec.gateway.allow_preview_api:
            findings.error(
                ("environments", i, "sku"),
                "PremiumV2 needs gateway.allow_preview_api: true",
            )


def check_spec(spec: Spec, source: YamlSource, spec_dir: Path | None = None) -> list[Diagnostic]:
    """Every cross-reference problem and warning in ``spec``, located in ``source``."""
    findings = _Findings(source)
    _check_gateway(spec, findings)
    _check_environments(spec, findings)
    _check_names(spec, findings)
    _check_backends(spec, findings)
    _check_apis(spec, findings)
    _check_scopes(spec, findings, spec_dir)
    return sorted(findings.items, key=lambda d: (d.location.line, d.location.column, d.key_path))
