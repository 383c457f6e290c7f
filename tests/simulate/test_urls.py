"""Which configured URL a called URL falls under (send-request endpoints, base-url backends)."""

from __future__ import annotations

import pytest

from apimgen.simulate.urls import longest_prefix

ENDPOINTS = [
    "https://graph.microsoft.com/v1.0",
    "https://graph.microsoft.com/v1.0/me",
    "https://graph.microsoft.com/v1.0/groups/g1/members?$filter=id eq 'alice'",
]


@pytest.mark.parametrize(
    ("url", "served_by"),
    [
        ("https://graph.microsoft.com/v1.0/me", ENDPOINTS[1]),
        ("https://GRAPH.microsoft.com/v1.0/me/", ENDPOINTS[1]),
        ("https://graph.microsoft.com/v1.0/me?$select=id", ENDPOINTS[1]),
        ("https://graph.microsoft.com/v1.0/me#top", ENDPOINTS[1]),
        ("https://graph.microsoft.com/v1.0/meetings", ENDPOINTS[0]),
        ("https://graph.microsoft.com/v1.0/groups/g1/members?$filter=id eq 'alice'", ENDPOINTS[2]),
        (
            "https://graph.microsoft.com/v1.0/groups/g1/members?$filter=id eq 'alice'&$select=id",
            ENDPOINTS[2],
        ),
        ("https://graph.microsoft.com/v1.0/groups/g1/members?$filter=id eq 'bob'", ENDPOINTS[0]),
        # a base URL ending in / joined with "/openai": the doubled slash is one
        ("https://graph.microsoft.com//v1.0//me", ENDPOINTS[1]),
        ("https://graph.microsoft.com/v1.0/groups/g1/members?$filter=id eq '//'", ENDPOINTS[0]),
        ("https://graph.microsoft.com/v2", None),
        ("https://login.microsoftonline.com/", None),
    ],
)
def test_a_call_goes_to_the_longest_url_it_extends_at_a_boundary(
    url: str, served_by: str | None
) -> None:
    assert longest_prefix(url, ENDPOINTS) == served_by
