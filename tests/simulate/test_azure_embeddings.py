"""The Azure OpenAI embedder against a local fake of the embeddings REST API over real HTTPS on
127.0.0.1: Entra token sent, batches in order, errors located, tokens never echoed."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from apimgen.errors import ApimgenError, ExitCode
from apimgen.simulate.embeddings.azure_openai import AzureOpenAIEncoder
from tests.conftest import EXAMPLES, run_cli
from tests.fakes.https import https_server

TOKEN = "test-token-never-printed"
WORDS = {"store": 0.0, "shop": 5.0, "Sunday": 60.0, "keynote": 120.0}


class FakeEmbeddings(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200
    calls: ClassVar[list[dict[str, object]]] = []

    def log_message(self, *args: object) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeEmbeddings.calls.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "input": body["input"]}
        )
        if self.status != 200:
            self.send_response(self.status, "Forbidden")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = []
        for index, text in enumerate(body["input"]):
            found = [(text.find(w), a) for w, a in WORDS.items() if w in text]
            angle = math.radians(min(found)[1] if found else 170.0)
            data.append({"index": index, "embedding": [math.cos(angle) * 3, math.sin(angle) * 3]})
        payload = json.dumps(
            {"data": list(reversed(data))}
        ).encode()  # order by index, not position
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    FakeEmbeddings.status = 200
    FakeEmbeddings.calls = []
    with https_server(FakeEmbeddings, tmp_path) as (url, ca_bundle):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_bundle))
        monkeypatch.setenv("APIMGEN_ACCESS_TOKEN", TOKEN)
        yield url


def test_encode_sends_the_token_batches_in_order_and_normalises(endpoint: str) -> None:
    encoder = AzureOpenAIEncoder(endpoint, "emb-small")
    vectors = encoder.encode(["the store", "a shop", "keynote", ""], batch_size=3)
    assert vectors.shape == (4, 2)
    assert abs(float(vectors[0] @ vectors[1]) - math.cos(math.radians(5))) < 1e-6
    assert all(abs(float(v @ v) - 1) < 1e-6 for v in vectors)
    assert [len(c["input"]) for c in FakeEmbeddings.calls] == [3, 1]  # type: ignore[arg-type]
    first = FakeEmbeddings.calls[0]
    assert first["auth"] == f"Bearer {TOKEN}"
    assert first["path"] == "/openai/deployments/emb-small/embeddings?api-version=2024-10-21"
    assert FakeEmbeddings.calls[1]["input"] == [" "], "empty input is sent as one space"


def test_refusals_are_located_and_never_echo_the_token(endpoint: str) -> None:
    FakeEmbeddings.status = 403
    with pytest.raises(ApimgenError) as raised:
        AzureOpenAIEncoder(endpoint, "emb").encode(["x"])
    assert "answered 403" in raised.value.message
    assert "Cognitive Services OpenAI User" in (raised.value.hint or "")
    assert TOKEN not in raised.value.message + (raised.value.hint or "")


def test_plain_http_endpoints_are_refused() -> None:
    with pytest.raises(ApimgenError, match="must be an https URL"):
        AzureOpenAIEncoder("http://127.0.0.1:1", "emb")


def test_a_scenario_can_embed_with_azure_openai(endpoint: str, tmp_path: Path) -> None:
    data = yaml.safe_load((EXAMPLES / "scenarios" / "seed-step4.yaml").read_text())
    data["policies"]["spec"] = str(EXAMPLES / "seed" / "gateway.yaml")
    data["consumers"][0]["prompts_file"] = str(EXAMPLES / "scenarios/prompts/drafting-tasks.txt")
    data["semantic_cache"] = {"azure_openai": {"endpoint": endpoint, "deployment": "emb"}}
    data["expect"] = []
    data["duration"] = "5m"
    path = tmp_path / "remote.yaml"
    path.write_text(yaml.safe_dump(data))
    result = run_cli("simulate", str(path), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    cache = json.loads(result.stdout)["semantic_cache"]
    assert cache["embedder"] == "azure-openai:emb"
    assert cache["hits"] > 0 and cache["warning"] is None
    texts = {t for call in FakeEmbeddings.calls for t in call["input"]}  # type: ignore[attr-defined]
    assert len(texts) == sum(len(c["input"]) for c in FakeEmbeddings.calls), "each text once"  # type: ignore[misc, arg-type]
    FakeEmbeddings.status = 403
    refused = run_cli("simulate", str(path))
    assert refused.exit_code == ExitCode.ERROR
    assert "answered 403" in refused.stderr and TOKEN not in refused.output
