"""Every policy element APIM accepts, whether or not the simulator models it.

Lint uses it to tell a misspelt policy (an error APIM shows only when saving) from a real policy
that the simulator does not run (fine to deploy, skipped with ``--skip-unknown``). From
Microsoft Learn's policy reference (api-management-policies), GraphQL resolvers included.
"""

from __future__ import annotations

__all__ = ["APIM_POLICIES"]

APIM_POLICIES = frozenset(
    {
        # rate limiting and quotas
        "rate-limit", "rate-limit-by-key", "quota", "quota-by-key", "limit-concurrency",
        "azure-openai-token-limit", "llm-token-limit",
        # authentication and authorization
        "check-header", "get-authorization-context", "ip-filter", "validate-azure-ad-token",
        "validate-jwt", "validate-client-certificate", "authentication-basic",
        "authentication-certificate", "authentication-managed-identity",
        # content validation
        "validate-content", "validate-parameters", "validate-headers", "validate-status-code",
        "validate-graphql-request", "validate-odata-request", "llm-content-safety",
        # routing
        "forward-request", "proxy", "set-backend-service",
        # caching
        "cache-lookup", "cache-store", "cache-lookup-value", "cache-store-value",
        "cache-remove-value", "azure-openai-semantic-cache-lookup",
        "azure-openai-semantic-cache-store", "llm-semantic-cache-lookup",
        "llm-semantic-cache-store",
        # transformation
        "set-method", "set-status", "set-variable", "set-body", "set-header",
        "set-query-parameter", "rewrite-uri", "json-to-xml", "xml-to-json", "xsl-transform",
        "find-and-replace", "redirect-content-urls", "mock-response", "return-response",
        # cross-domain
        "cors", "jsonp", "cross-domain",
        # integration and external communication
        "send-request", "send-one-way-request", "log-to-eventhub", "send-service-bus-message",
        "publish-to-dapr", "invoke-dapr-binding",
        # logging
        "trace", "emit-metric", "azure-openai-emit-token-metric", "llm-emit-token-metric",
        # GraphQL resolvers
        "http-data-source", "cosmosdb-data-source", "sql-data-source", "publish-event",
        "set-graphql-resolver",
        # policy control and flow
        "choose", "retry", "wait", "include-fragment",
    }
)  # fmt: skip
