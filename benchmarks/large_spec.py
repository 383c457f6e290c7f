"""A large but realistic spec: many regions' backends in pools, many APIs and products."""

from __future__ import annotations

from typing import Any


def large_spec(apis: int = 50, backends: int = 100, products: int = 20) -> dict[str, Any]:
    """50 APIs over 10 pools of 10 backends, 20 products with limits, metrics everywhere."""
    backend_list = [
        {
            "name": f"aoai-{i:03d}",
            "url": f"https://aoai-{i:03d}.openai.azure.com/openai",
            "circuit_breaker": {"failure_count": 1, "interval": "10s", "trip_duration": "1m"},
        }
        for i in range(backends)
    ]
    pool_size = 10
    pools = [
        {
            "name": f"pool-{p:02d}",
            "members": [
                {"backend": f"aoai-{i:03d}", "priority": 1 if i % pool_size == 0 else 2}
                for i in range(p * pool_size, min((p + 1) * pool_size, backends))
            ],
        }
        for p in range(backends // pool_size)
    ]
    api_list = [
        {
            "name": f"api-{a:02d}",
            "path": f"tenant-{a:02d}/openai",
            "backend": pools[a % len(pools)]["name"],
            "token_limits": [{"key": "subscription", "tokens_per_minute": 10_000 + a}],
            "token_metrics": {
                "dimensions": ["api", "subscription", {"name": "App", "header": "X-App-Id"}]
            },
        }
        for a in range(apis)
    ]
    product_list = [
        {
            "name": f"tier-{p:02d}",
            "apis": [f"api-{a:02d}" for a in range(p, apis, products)],
            "token_limits": [
                {
                    "key": "subscription",
                    "tokens_per_minute": 1000 * (p + 1),
                    "quota": {"tokens": 1_000_000 * (p + 1), "period": "monthly"},
                }
            ],
        }
        for p in range(products)
    ]
    return {
        "apimgen": 1,
        "gateway": {
            "name": "bench-gateway",
            "resource_group": "rg-bench",
            "location": "swedencentral",
            "publisher_name": "Bench",
            "publisher_email": "bench@example.com",
        },
        "backends": backend_list,
        "pools": pools,
        "apis": api_list,
        "products": product_list,
        "consumers": [
            {"name": f"app-{c:03d}", "product": f"tier-{c % products:02d}"} for c in range(100)
        ],
        "observability": {"app_insights": {"name": "bench-insights"}},
    }
