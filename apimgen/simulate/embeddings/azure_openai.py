"""Embeddings from a real Azure OpenAI deployment, for teams that want the production model's
distances instead of a calibrated local stand-in.

Authentication is Entra ID only, as the gateway itself does it: a pre-obtained token from
``APIMGEN_ACCESS_TOKEN`` (CI) or azure-identity's DefaultAzureCredential. Keys are not
accepted, tokens never appear in errors, and bearer tokens only travel over https.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apimgen.errors import ApimgenError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["COGNITIVE_SERVICES_SCOPE", "AzureOpenAIEncoder"]

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
TOKEN_ENV = "APIMGEN_ACCESS_TOKEN"


def _token() -> str:
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ApimgenError(
            "azure-identity is not installed", hint="pip install azure-identity"
        ) from None
    try:
        return str(DefaultAzureCredential().get_token(COGNITIVE_SERVICES_SCOPE).token)
    except Exception as exc:
        raise ApimgenError(
            f"cannot get an Entra ID token for Azure OpenAI: {type(exc).__name__}",
            hint=f"run `az login`, use a managed identity, or set {TOKEN_ENV}",
        ) from None


def _tls_context() -> ssl.SSLContext:
    """The system trust store, or the bundle named the way Python HTTP clients agree on."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()


@dataclass
class AzureOpenAIEncoder:
    endpoint: str
    deployment: str
    api_version: str = "2024-10-21"
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.endpoint)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ApimgenError(
                f"embeddings endpoint '{self.endpoint}' must be an https URL",
                hint="e.g. https://my-openai.openai.azure.com; tokens never go over plain http",
            )

    @property
    def name(self) -> str:
        return f"azure-openai:{self.deployment}"

    def encode(self, texts: list[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        import numpy as np

        rows: list[list[float]] = []
        for start in range(0, len(texts), batch_size):
            rows.extend(self._call(texts[start : start + batch_size]))
        matrix = np.array(rows, dtype=np.float32).reshape(len(texts), -1)
        norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        unit: npt.NDArray[np.float32] = (matrix / norms).astype(np.float32)
        return unit

    def _call(self, texts: list[str]) -> list[list[float]]:
        if self._token is None:
            self._token = _token()
        deployment = urllib.parse.quote(self.deployment, safe="")
        query = urllib.parse.urlencode({"api-version": self.api_version})
        url = f"{self.endpoint.rstrip('/')}/openai/deployments/{deployment}/embeddings?{query}"
        # Empty strings are rejected by the service; one space embeds the same "nothing".
        body = json.dumps({"input": [t if t else " " for t in texts]}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=_tls_context()) as r:
                document: Any = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            exc.close()  # the error carries the open response
            raise ApimgenError(
                f"embeddings deployment '{self.deployment}' answered {exc.code} {exc.reason}",
                hint=_hint(exc.code),
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApimgenError(
                f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}",
                hint="check the endpoint and the network (and REQUESTS_CA_BUNDLE for a private CA)",
            ) from None
        try:
            data = sorted(document["data"], key=lambda item: item["index"])
            return [list(map(float, item["embedding"])) for item in data]
        except (KeyError, TypeError, ValueError):
            raise ApimgenError(
                f"embeddings deployment '{self.deployment}' sent an answer without embeddings"
            ) from None


def _hint(status: int) -> str:
    return {
        401: f"the token was refused; check the tenant, or refresh {TOKEN_ENV}",
        403: "the identity needs the 'Cognitive Services OpenAI User' role on the account",
        404: "check the deployment name and api_version",
        429: "the deployment is throttled; lower the scenario's traffic or raise its TPM",
    }.get(status, "see the Azure OpenAI resource's logs")
