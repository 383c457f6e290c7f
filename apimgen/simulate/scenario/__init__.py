"""The scenario file: which policies run, what traffic arrives, how the backends behave, and
what the run must show. Validated like the spec, with located errors.

``document`` holds the file as a whole, ``consumers`` who calls, ``backends`` how the Azure
side answers, ``expectations`` what the run must show, and ``load`` reads and checks a file.
"""

from __future__ import annotations

from apimgen.simulate.scenario.backends import (
    BackendBehaviour,
    Endpoint,
    Outage,
    PoolMemberSpec,
    ReservationOverride,
    ScriptedAnswer,
)
from apimgen.simulate.scenario.consumers import (
    EMBEDDINGS,
    RESPONSES,
    Arrival,
    Client,
    Consumer,
    Distribution,
    ScriptedCall,
    Seconds,
    api_of,
)
from apimgen.simulate.scenario.document import (
    AzureOpenAIEmbedder,
    GatewayBehaviour,
    PolicySource,
    Scenario,
    SemanticCacheSettings,
)
from apimgen.simulate.scenario.expectations import BACKEND_MEASURES, CLIENT_MEASURES, Expectation
from apimgen.simulate.scenario.load import LoadedScenario, load_scenario

__all__ = [
    "BACKEND_MEASURES",
    "CLIENT_MEASURES",
    "EMBEDDINGS",
    "RESPONSES",
    "Arrival",
    "AzureOpenAIEmbedder",
    "BackendBehaviour",
    "Client",
    "Consumer",
    "Distribution",
    "Endpoint",
    "Expectation",
    "GatewayBehaviour",
    "LoadedScenario",
    "Outage",
    "PolicySource",
    "PoolMemberSpec",
    "ReservationOverride",
    "Scenario",
    "ScriptedAnswer",
    "ScriptedCall",
    "Seconds",
    "SemanticCacheSettings",
    "api_of",
    "load_scenario",
]
