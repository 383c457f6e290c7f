"""A live gateway's resources read back into a spec a person would have written.

Every child of the service maps to the spec key that deploys it as it is, so that ``apimgen
plan`` of the imported spec against the same instance changes nothing. What the spec cannot
say is kept, not dropped: every policy document and fragment is kept byte for byte in a file
the spec names (``policy_file``, ``fragments``), and a resource the spec has no key for, or a
secret the management API never returns, is left out with a line saying why and what to do.
The spec refers to the service and to the resources beside it (App Insights, Redis) as
existing ones: adopting a gateway takes over what runs inside it, not its infrastructure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apimgen.deploy.kinds import MANAGED_MARK, NAMED_VALUE_TAG
from apimgen.deploy.live import LiveResource
from apimgen.deploy.normalise import duration_seconds
from apimgen.importer.summary import ImportSummary
from apimgen.model.gateway import PolicyScope
from apimgen.model.kept_references import kept_references
from apimgen.render.policies import POLICY_FOLDER

__all__ = ["ImportedSpec", "spec_from_live"]

# Created by API Management itself in every instance: not the gateway's own configuration.
_BUILT_IN = {
    "subscriptions/master": "the built-in all-access subscription every instance has",
    "users/1": "the built-in administrator every instance has",
}


@dataclass
class ImportedSpec:
    """The spec as data (written as YAML) and the files it names, by path under the folder."""

    spec: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    summary: ImportSummary = field(default_factory=lambda: ImportSummary(""))


def _unmarked(text: Any) -> str | None:
    """A description or note without the ownership mark apimgen adds when it deploys."""
    if not isinstance(text, str):
        return None
    stripped = text.removesuffix(MANAGED_MARK).rstrip()
    return stripped or None


def _seconds(iso: Any) -> int:
    """A breaker's ISO duration in whole seconds (60, the spec's default, when unreadable)."""
    return int(duration_seconds(str(iso or "")) or 60)


def _last(arm_id: Any) -> str:
    return str(arm_id or "").rstrip("/").rsplit("/", 1)[-1]


def _children(live: dict[str, LiveResource], *pattern: str) -> list[LiveResource]:
    """Live resources whose path has ``pattern``'s shape ("*" for a name), by path."""
    found = [
        resource
        for path, resource in live.items()
        if len(parts := path.split("/")) == len(pattern)
        and all(p in ("*", s) for p, s in zip(pattern, parts, strict=True))
    ]
    return sorted(found, key=lambda r: r.path)


def _policy_file(scope: PolicyScope) -> str:
    """Where a kept document goes: the file render writes for that scope."""
    return f"{POLICY_FOLDER}/{scope.path}"


def _policy_text(resource: LiveResource) -> str:
    """A policy document or fragment exactly as the service holds it."""
    return str(resource.properties.get("value") or "")


class _Importer:
    def __init__(
        self, service: dict[str, Any], target: tuple[str, str], live: dict[str, LiveResource]
    ) -> None:
        self.service = service
        self.resource_group, self.name = target
        self.live = {path: r for path, r in live.items() if path not in _BUILT_IN}
        self.summary = ImportSummary(self.name)
        self.files: dict[str, str] = {}
        for path, reason in _BUILT_IN.items():
            if path in live:
                self.summary.skipped(path, reason)
        self.key_backends: dict[str, str] = {}  # named value → backend whose key it holds

    # -- the service -------------------------------------------------------------------
    def gateway(self) -> dict[str, Any]:
        properties = self.service.get("properties") or {}
        sku = self.service.get("sku") or {}
        gateway: dict[str, Any] = {
            "name": self.name,
            "resource_group": self.resource_group,
            "location": str(self.service.get("location") or "").replace(" ", "").lower(),
        }
        if sku:
            gateway["sku"] = sku.get("name")
            gateway["capacity"] = sku.get("capacity", 1)
        gateway["publisher_name"] = properties.get("publisherName")
        gateway["publisher_email"] = properties.get("publisherEmail")
        gateway["existing"] = True
        return gateway

    # -- named values and backends ------------------------------------------------------
    def backends(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        singles: list[dict[str, Any]] = []
        pools: list[dict[str, Any]] = []
        for resource in _children(self.live, "backends", "*"):
            name = resource.path.split("/")[1]
            properties = resource.properties
            if properties.get("type") == "Pool":
                members = [
                    {
                        "backend": _last(service.get("id")),
                        "priority": service.get("priority", 1),
                        "weight": service.get("weight", 1),
                    }
                    for service in (properties.get("pool") or {}).get("services") or []
                ]
                pool: dict[str, Any] = {"name": name}
                if description := _unmarked(properties.get("description")):
                    pool["description"] = description
                pool["members"] = members
                pools.append(pool)
                self.summary.mapped(resource.path, f"pools[{len(pools) - 1}]")
                continue
            backend: dict[str, Any] = {"name": name, "url": properties.get("url")}
            if description := _unmarked(properties.get("description")):
                backend["description"] = description
            note = self._backend_auth(backend, properties)
            breaker = self._circuit_breaker(name, properties)
            if breaker is not None:
                backend["circuit_breaker"] = breaker
            singles.append(backend)
            self.summary.mapped(resource.path, f"backends[{len(singles) - 1}]", note)
        return singles, pools

    def _backend_auth(self, backend: dict[str, Any], properties: dict[str, Any]) -> str:
        """A key sent in a header from a Key Vault-backed named value is the spec's api_key
        auth; no credentials means the policy authenticates (managed identity)."""
        headers = ((properties.get("credentials") or {}).get("header")) or {}
        if not headers:
            return ""
        header, values = next(iter(headers.items()))
        reference = re.fullmatch(r"\{\{([^{}]+)\}\}", str((values or [""])[0]).strip())
        named = self.live.get(f"namedValues/{reference.group(1)}") if reference else None
        secret = (
            ((named.properties.get("keyVault") or {}).get("secretIdentifier")) if named else None
        )
        if reference is None or secret is None:
            return (
                "its credentials are not a header from a Key Vault named value; they were left "
                "out: move the key to Key Vault and set auth.key_vault_secret"
            )
        backend["auth"] = {"type": "api_key", "key_vault_secret": secret, "header": header}
        self.key_backends[reference.group(1)] = backend["name"]
        if reference.group(1) != f"{backend['name']}-key":
            return (
                f"apimgen names the key's named value {backend['name']}-key; plan will create it "
                f"beside {reference.group(1)}"
            )
        return ""

    def _circuit_breaker(self, backend: str, properties: dict[str, Any]) -> dict[str, Any] | None:
        rules = (properties.get("circuitBreaker") or {}).get("rules") or []
        if not rules:
            return None
        rule = rules[0]
        condition = rule.get("failureCondition") or {}
        breaker: dict[str, Any] = {}
        if "count" in condition:
            breaker["failure_count"] = condition["count"]
        if "percentage" in condition:
            breaker["failure_percentage"] = condition["percentage"]
        breaker["interval"] = _seconds(condition.get("interval"))
        breaker["status_codes"] = [
            str(r["min"]) if r.get("min") == r.get("max") else f"{r['min']}-{r['max']}"
            for r in condition.get("statusCodeRanges") or []
        ] or ["429"]
        if condition.get("errorReasons"):
            breaker["error_reasons"] = list(condition["errorReasons"])
        breaker["trip_duration"] = _seconds(rule.get("tripDuration"))
        breaker["accept_retry_after"] = bool(rule.get("acceptRetryAfter", False))
        if rule.get("name") and rule["name"] != f"{backend}-breaker":
            breaker["rule_name"] = rule["name"]
        return breaker

    def named_values(self) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = []
        for resource in _children(self.live, "namedValues", "*"):
            name = resource.path.split("/")[1]
            properties = resource.properties
            if name in self.key_backends:
                self.summary.mapped(
                    resource.path, f"backends ({self.key_backends[name]}).auth.key_vault_secret"
                )
                continue
            secret_id = (properties.get("keyVault") or {}).get("secretIdentifier")
            if secret_id:
                values.append({"name": name, "key_vault_secret": secret_id})
            elif properties.get("secret"):
                self.summary.skipped(
                    resource.path,
                    "a secret value, which the management API never returns: put it in Key "
                    f"Vault and add {{name: {name}, key_vault_secret: <secret URI>}} to "
                    "named_values",
                )
                continue
            else:
                values.append({"name": name, "value": properties.get("value") or ""})
            note = ""
            if NAMED_VALUE_TAG not in (properties.get("tags") or []):
                note = f"plan adopts it (adds the tag {NAMED_VALUE_TAG})"
            self.summary.mapped(resource.path, f"named_values[{len(values) - 1}]", note)
        return values

    # -- fragments and policies -----------------------------------------------------------
    def fragments(self) -> list[dict[str, Any]]:
        fragments: list[dict[str, Any]] = []
        for resource in _children(self.live, "policyFragments", "*"):
            name = resource.path.split("/")[1]
            file = f"{POLICY_FOLDER}/fragments/{name}.xml"
            self.files[file] = _policy_text(resource)
            fragment: dict[str, Any] = {"name": name, "file": file}
            if description := _unmarked(resource.properties.get("description")):
                fragment["description"] = description
            fragments.append(fragment)
            self.summary.kept(resource.path, file, "a fragment is deployed as written")
        return fragments

    def keep_policy(self, path: str, file: str, scope: dict[str, Any]) -> None:
        resource = self.live.get(path)
        if resource is None:
            return
        self.files[file] = _policy_text(resource)
        scope["policy_file"] = file
        self.summary.kept(
            path, file, "kept as written; the spec's policy keys are generated documents"
        )

    # -- APIs, products, consumers --------------------------------------------------------
    def apis(self, backends: Iterable[str]) -> list[dict[str, Any]]:
        known = list(backends)
        apis: list[dict[str, Any]] = []
        for resource in _children(self.live, "apis", "*"):
            name = resource.path.split("/")[1]
            properties = resource.properties
            keys = properties.get("subscriptionKeyParameterNames") or {}
            api: dict[str, Any] = {
                "name": name,
                "display_name": properties.get("displayName") or name,
            }
            if description := _unmarked(properties.get("description")):
                api["description"] = description
            api["path"] = properties.get("path") or name
            policy = self.live.get(f"apis/{name}/policies/policy")
            routed = kept_references(_policy_text(policy))[1] if policy else []
            api["backend"] = next((b for b in routed if b in known), known[0] if known else "")
            api["subscription_required"] = bool(properties.get("subscriptionRequired", True))
            api["subscription_key_header"] = keys.get("header") or "Ocp-Apim-Subscription-Key"
            api["subscription_key_query"] = keys.get("query") or "subscription-key"
            operations = []
            for op in _children(self.live, "apis", name, "operations", "*"):
                op_name = op.path.split("/")[3]
                operation: dict[str, Any] = {
                    "name": op_name,
                    "display_name": op.properties.get("displayName") or op_name,
                    "method": op.properties.get("method") or "POST",
                    "url_template": op.properties.get("urlTemplate") or "/",
                }
                self.keep_policy(
                    f"apis/{name}/operations/{op_name}/policies/policy",
                    _policy_file(PolicyScope("operation", api=name, operation=op_name)),
                    operation,
                )
                operations.append(operation)
                self.summary.mapped(op.path, f"apis[{len(apis)}].operations[{len(operations) - 1}]")
            api["operations"] = operations
            self.keep_policy(
                f"apis/{name}/policies/policy", _policy_file(PolicyScope("api", api=name)), api
            )
            apis.append(api)
            note = (
                ""
                if routed
                else "its policy names no backend; the spec's API backend is "
                + (f"{api['backend']}, which only a generated document would use")
            )
            self.summary.mapped(resource.path, f"apis[{len(apis) - 1}]", note)
        return apis

    def products(self) -> list[dict[str, Any]]:
        products: list[dict[str, Any]] = []
        for resource in _children(self.live, "products", "*"):
            name = resource.path.split("/")[1]
            properties = resource.properties
            product: dict[str, Any] = {
                "name": name,
                "display_name": properties.get("displayName") or name,
            }
            if description := _unmarked(properties.get("description")):
                product["description"] = description
            links = _children(self.live, "products", name, "apis", "*")
            product["apis"] = [link.path.split("/")[3] for link in links]
            for link in links:
                self.summary.mapped(link.path, f"products[{len(products)}].apis")
            product["subscription_required"] = bool(properties.get("subscriptionRequired", True))
            if product["subscription_required"]:
                product["approval_required"] = bool(properties.get("approvalRequired", False))
                if properties.get("subscriptionsLimit") is not None:
                    product["subscriptions_limit"] = properties["subscriptionsLimit"]
            product["published"] = properties.get("state") == "published"
            self.keep_policy(
                f"products/{name}/policies/policy",
                _policy_file(PolicyScope("product", product=name)),
                product,
            )
            products.append(product)
            self.summary.mapped(resource.path, f"products[{len(products) - 1}]")
        return products

    def consumers(self) -> list[dict[str, Any]]:
        consumers: list[dict[str, Any]] = []
        owners: set[str] = set()
        for resource in _children(self.live, "subscriptions", "*"):
            name = resource.path.split("/")[1]
            properties = resource.properties
            consumer: dict[str, Any] = {"name": name}
            if properties.get("displayName") and properties["displayName"] != name:
                consumer["display_name"] = properties["displayName"]
            scope = str(properties.get("scope") or "")
            scope_kind = re.search(r"/(products|apis)/([^/]+)$", scope)
            if scope_kind is not None:
                consumer["product" if scope_kind.group(1) == "products" else "api"] = (
                    scope_kind.group(2)
                )
            owner = _last(properties.get("ownerId")) if properties.get("ownerId") else None
            note = ""
            if owner is not None:
                user = self.live.get(f"users/{owner}")
                if owner != name or user is None:
                    note = (
                        f"its owner is user {owner}; the spec gives a consumer its own user, "
                        "named as the subscription, so it was left without one"
                    )
                else:
                    consumer["user"] = {
                        "email": user.properties.get("email"),
                        "first_name": user.properties.get("firstName"),
                        "last_name": user.properties.get("lastName"),
                    }
                    owners.add(owner)
            if properties.get("state") not in (None, "active"):
                consumer["state"] = properties["state"]
            if properties.get("allowTracing"):
                consumer["allow_tracing"] = True
            consumers.append(consumer)
            self.summary.mapped(resource.path, f"consumers[{len(consumers) - 1}]", note)
        for user in _children(self.live, "users", "*"):
            name = user.path.split("/")[1]
            if name in owners:
                self.summary.mapped(user.path, f"consumers ({name}).user")
            else:
                self.summary.skipped(
                    user.path,
                    "a user who owns no subscription: the spec makes users only as owners of "
                    "consumers",
                )
        return consumers

    # -- observability and the cache ------------------------------------------------------
    def observability(self) -> dict[str, Any] | None:
        loggers = _children(self.live, "loggers", "*")
        insights = next(
            (r for r in loggers if r.properties.get("loggerType") == "applicationInsights"), None
        )
        for logger in loggers:
            if logger is not insights:
                self.summary.skipped(
                    logger.path,
                    f"a {logger.properties.get('loggerType')} logger: the spec has a key only "
                    "for one App Insights logger",
                )
        if insights is None:
            for diagnostic in _children(self.live, "diagnostics", "*"):
                self.summary.skipped(diagnostic.path, "no App Insights logger to attach it to")
            return None
        resource_id = str(insights.properties.get("resourceId") or "")
        observability: dict[str, Any] = {
            "app_insights": {"name": _last(resource_id), "existing_id": resource_id}
        }
        self.summary.mapped(insights.path, "observability.app_insights")
        for diagnostic in _children(self.live, "diagnostics", "*"):
            if diagnostic.path != "diagnostics/applicationinsights":
                self.summary.skipped(
                    diagnostic.path, "the spec has a key only for the App Insights diagnostic"
                )
                continue
            properties = diagnostic.properties
            sampling = (properties.get("sampling") or {}).get("percentage")
            if sampling is not None:
                observability["sampling_percentage"] = float(sampling)
            if properties.get("logClientIp"):
                observability["log_client_ip"] = True
            self.summary.mapped(diagnostic.path, "observability")
        return observability

    def redis(self) -> dict[str, Any] | None:
        caches = _children(self.live, "caches", "*")
        chosen: dict[str, Any] | None = None
        for cache in caches:
            resource_id = str(cache.properties.get("resourceId") or "")
            same_group = f"/resourcegroups/{self.resource_group.lower()}/providers/microsoft.cache/"
            if cache.path == "caches/default" and same_group in resource_id.lower():
                chosen = {"name": _last(resource_id)}
                self.summary.mapped(
                    cache.path,
                    "redis",
                    "apply reads its connection string from Azure with your identity",
                )
            else:
                self.summary.skipped(
                    cache.path,
                    "an external cache outside the service's resource group: add redis with "
                    "existing: true and connection_secret (a Key Vault secret URI)",
                )
        return chosen


def spec_from_live(
    service: dict[str, Any], target: tuple[str, str], live: dict[str, LiveResource]
) -> ImportedSpec:
    """The spec and files that deploy ``live`` as it is. ``target`` is (resource group,
    service name)."""
    importer = _Importer(service, target, live)
    backends, pools = importer.backends()
    spec: dict[str, Any] = {"apimgen": 1, "gateway": importer.gateway(), "backends": backends}
    if pools:
        spec["pools"] = pools
    named_values = importer.named_values()
    if named_values:
        spec["named_values"] = named_values
    fragments = importer.fragments()
    if fragments:
        spec["fragments"] = fragments
    global_: dict[str, Any] = {}
    importer.keep_policy("policies/policy", _policy_file(PolicyScope("global")), global_)
    if global_:
        spec["global"] = global_
    spec["apis"] = importer.apis([b["name"] for b in backends] + [p["name"] for p in pools])
    products = importer.products()
    if products:
        spec["products"] = products
    consumers = importer.consumers()
    if consumers:
        spec["consumers"] = consumers
    observability = importer.observability()
    if observability:
        spec["observability"] = observability
    redis = importer.redis()
    if redis:
        spec["redis"] = redis
    return ImportedSpec(spec, importer.files, importer.summary)
