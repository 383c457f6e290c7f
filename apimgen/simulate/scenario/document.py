"""The scenario file as a whole: which policies run, the gateway's own behaviour, the semantic
cache's embedder, and the parts in backends, consumers and expectations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from apimgen.simulate.clock import EPOCH, in_utc
from apimgen.simulate.scenario.backends import BackendBehaviour, Endpoint, PoolMemberSpec, check_url
from apimgen.simulate.scenario.consumers import Consumer
from apimgen.simulate.scenario.expectations import Expectation
from apimgen.spec.types import Duration, SpecModel

__all__ = [
    "AzureOpenAIEmbedder",
    "GatewayBehaviour",
    "PolicySource",
    "Scenario",
    "SemanticCacheSettings",
]


class PolicySource(SpecModel):
    """Where the policies come from: a spec (rendered in memory) or a policies folder."""

    spec: str | None = Field(
        default=None, description="A spec file to render, relative to the scenario."
    )
    folder: str | None = Field(
        default=None, description="A policies/ folder (global.xml, apis/, products/, fragments/)."
    )
    named_values: dict[str, str] = Field(
        default_factory=dict, description="Values for {{name}} references (folder policies)."
    )
    placeholders: dict[str, str] = Field(
        default_factory=dict,
        description="Folder policies that are Bicep or Terraform templates: a value for each "
        "{name} or ${name} the template leaves to be filled, e.g. {tpm: '1000'}.",
    )
    skip_unknown: bool = Field(
        default=False,
        description="Skip policies the simulator does not model (listed in the report).",
    )
    api_backend: str | None = Field(
        default=None,
        description="Folder policies: the backend or pool the API's service URL points to, "
        "where forward-request sends a call no policy routed with set-backend-service.",
    )
    subscription_required: bool | None = Field(
        default=None,
        description="Folder policies: whether the API requires a subscription key (default "
        "true, as APIM's); a spec's API says so itself.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PolicySource:
        if (self.spec is None) == (self.folder is None):
            raise ValueError("set exactly one of spec or folder")
        if self.spec is not None and self.placeholders:
            raise ValueError("placeholders are for policy folders: a spec has none")
        if self.spec is not None and self.api_backend is not None:
            raise ValueError("api_backend is for policy folders: a spec's API names its backend")
        if self.spec is not None and self.subscription_required is not None:
            raise ValueError(
                "subscription_required is for policy folders: a spec's API says it itself"
            )
        return self


class AzureOpenAIEmbedder(SpecModel):
    """A real embeddings deployment (Entra ID auth: az login, managed identity, or a token in
    APIMGEN_ACCESS_TOKEN); its distances need no calibration."""

    endpoint: str = Field(description="https://<account>.openai.azure.com")
    deployment: str = Field(description="Embeddings deployment name.")
    api_version: str = Field(default="2024-10-21", description="Azure OpenAI API version.")


class SemanticCacheSettings(SpecModel):
    """Score thresholds are model-specific: APIM's 0.05 starting point was set for Azure OpenAI
    embeddings, while the local all-MiniLM-L6-v2 places paraphrases about 0.2 apart."""

    azure_openai: AzureOpenAIEmbedder | None = Field(
        default=None,
        description="Embed with this Azure OpenAI deployment instead of the local model.",
    )

    distance_scale: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Production distance ÷ local distance for the same prompt pairs; the "
        "policy's score-threshold is compared with local distance times this. Measure it by "
        "embedding a few paraphrase pairs with both models (see the README).",
    )


class GatewayBehaviour(SpecModel):
    """How the gateway runs: its nodes, and where live gateways of different dates were seen
    to behave differently."""

    nodes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Gateway nodes (units) in each region, taking the region's calls in turn: "
        "they share the region's limit counters and value cache, and each keeps its own pool "
        "rotation, circuit breakers and concurrency slots.",
    )

    retry_reselects_backend: bool = Field(
        default=False,
        description="Inside `retry`, pick a pool member anew on every attempt (older gateways) "
        "instead of resending to the same member while it is available (newer gateways).",
    )


class Scenario(SpecModel):
    """An apimgen simulation scenario."""

    apimgen_scenario: Literal[1] = Field(default=1, description="Scenario format version.")
    name: str | None = Field(default=None, description="Shown in reports.")
    policies: PolicySource = Field(description="The policies to run.")
    api: str | None = Field(default=None, description="API the traffic calls (default: the first).")
    operation: str = Field(default="chat-completions", description="Operation the traffic calls.")
    duration: Duration = Field(description="Simulated time, e.g. 30m.")
    seed: int = Field(default=1, description="Random seed; the same seed gives the same run.")
    replay: str | None = Field(
        default=None,
        description="A Log Analytics export of the gateway's own logs (relative to the "
        "scenario) to replay instead of the consumers' traffic, as --replay does.",
    )
    starts_at: datetime = Field(
        default=EPOCH,
        description="When the run's clock starts, in UTC unless an offset is given (default "
        "Monday 2026-01-05 09:00 UTC): what DateTime.UtcNow, context.Timestamp and quota "
        "periods see.",
    )
    regions: list[str] = Field(
        default_factory=lambda: ["West Europe"],
        min_length=1,
        description="Gateway regions; each counts limits and trips breakers on its own.",
    )
    backends: dict[str, BackendBehaviour] = Field(
        default_factory=dict,
        description="Mock deployment per backend id (spec backends default to 100k TPM).",
    )
    pools: dict[str, list[PoolMemberSpec]] = Field(
        default_factory=dict, description="Backend pools (folder policies; specs bring their own)."
    )
    consumers: Annotated[list[Consumer], Field(min_length=1)] = Field(
        description="Who sends traffic."
    )
    endpoints: dict[str, Endpoint] = Field(
        default_factory=dict,
        description="Services send-request calls, by URL: a call goes to the endpoint whose URL "
        "it starts with.",
    )
    schemas: dict[str, str] = Field(
        default_factory=dict,
        description="JSON Schemas that validate-content's schema-id names: id: a JSON or YAML "
        "file, relative to the scenario.",
    )
    cached_values: dict[Annotated[str, Field(min_length=1)], Any] = Field(
        default_factory=dict,
        description="What the value cache (cache-lookup-value) holds when the run starts, by "
        "key, on every gateway node, until a policy replaces or removes it: a warm cache, as "
        "another operation or an earlier run left it. Lists and mappings are JSON tokens "
        "(JArray, JObject), as a policy stores them.",
    )
    expect: list[Expectation] = Field(default_factory=list, description="What the run must show.")

    @field_validator("starts_at")
    @classmethod
    def _in_utc(cls, moment: datetime) -> datetime:
        return in_utc(moment)

    @field_validator("regions")
    @classmethod
    def _distinct_regions(cls, regions: list[str]) -> list[str]:
        repeated = sorted({region for region in regions if regions.count(region) > 1})
        if repeated:  # one gateway node per region: a repeat would silently be one node
            raise ValueError(f"each region once; repeated: {', '.join(repeated)}")
        return regions

    @field_validator("endpoints")
    @classmethod
    def _endpoint_urls(cls, endpoints: dict[str, Endpoint]) -> dict[str, Endpoint]:
        for url in endpoints:
            check_url(url)
        return endpoints

    gateway: GatewayBehaviour = Field(
        default_factory=GatewayBehaviour,
        description="Gateway behaviours that differ between gateway versions.",
    )
    semantic_cache: SemanticCacheSettings = Field(
        default_factory=SemanticCacheSettings,
        description="How the local embedding model stands in for the production one.",
    )
