"""A local OpenAI-compatible `/v1/embeddings` server over a sentence-transformers model on disk.

Why: whybot's dense path speaks only the OpenAI embeddings API, and the tests drive it with a hashed
test embedding. This serves a real model from a local folder (no hub, no network), so `whybot eval`
can measure what a real model does to recall and declines:

    python -m offline.embeddings_server --model-path DIR --name all-MiniLM-L6-v2 --port 8089
    WHYBOT_EMBEDDINGS_MODEL=all-MiniLM-L6-v2 OPENAI_BASE_URL=http://127.0.0.1:8089/v1 whybot eval --no-llm

Offline tooling only: the runtime never imports it, and only `main` needs sentence-transformers
(and so torch); the HTTP shaping takes any `encode` function, which is how its tests run without torch.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("whybot.embeddings_server")

Vectors = npt.NDArray[np.float32]
Encode = Callable[[list[str]], Vectors]  # texts -> one row per text, any scale (the server normalizes)
CountTokens = Callable[[list[str]], int]
MAX_INPUTS = 2048  # OpenAI's limit per request


class EmbeddingRequest(BaseModel):
    """The request body of `POST /v1/embeddings`, as OpenAI defines it. Token arrays are refused: this
    server has its own tokenizer and no contract for another's ids."""

    model_config = ConfigDict(extra="ignore")  # provider extras (vLLM's truncate_prompt_tokens, …)

    model: str
    input: str | list[str]
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


class Encoder:
    """The model behind the server: `encode` texts, `count` their tokens, `dim` of a vector."""

    def __init__(self, encode: Encode, dim: int, count: CountTokens | None = None) -> None:
        self.encode = encode
        self.dim = dim
        self.count: CountTokens = count or (lambda texts: sum(len(t.split()) for t in texts))


def error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> web.Response:
    """OpenAI's error body, so the official clients raise the matching exception (400 BadRequestError, …)."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}},
                             status=status)


def shaped(vectors: Vectors, dimensions: int | None) -> Vectors:
    """Unit-length rows, cut to `dimensions` first when asked (as OpenAI's shortened embeddings are; a
    model not trained for it loses more by the cut than one that was)."""
    rows = np.asarray(vectors, dtype=np.float32)
    if dimensions is not None:
        rows = rows[:, :dimensions]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def encoded(vector: Vectors, encoding_format: str) -> list[float] | str:
    """A float list, or base64 of little-endian float32 (what the openai SDK asks for by default)."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


class EmbeddingsServer:
    """The aiohttp application. Encoding runs on one worker thread: the loop keeps answering, and the
    model (which uses every core for one batch) is never asked for two batches at once.

    `cache` keeps that many texts' vectors and token counts (least recently used go first). The model is
    deterministic, so a cached answer is the answer; it makes repeated eval runs over the same workspace
    cheap on a small CPU. Leave it off to measure the model's own latency."""

    def __init__(self, encoder: Encoder, name: str, *, cache: int = 0) -> None:
        self.encoder = encoder
        self.name = name
        self.cache_size = cache
        self._cache: OrderedDict[str, tuple[Vectors, int]] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        self.requests = 0
        self.inputs = 0
        self.encoded = 0  # inputs the model actually ran on (not served from the cache)

    def _encode(self, texts: list[str]) -> tuple[Vectors, int]:
        """Vectors and token count for `texts`, the cached ones from the cache (runs on the worker thread)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh: dict[str, tuple[Vectors, int]] = {}
        if todo:
            vectors = np.asarray(self.encoder.encode(todo), dtype=np.float32)
            if len(vectors) != len(todo):
                raise ValueError(f"the model returned {len(vectors)} vectors for {len(todo)} inputs")
            fresh = {t: (vectors[i], self.encoder.count([t]) if self.cache_size else 0) for i, t in enumerate(todo)}
            self.encoded += len(todo)
        if not self.cache_size:  # nothing kept: count the request's tokens in one call
            return np.stack([fresh[t][0] for t in texts]), self.encoder.count(texts)
        rows = []
        tokens = 0
        for t in texts:
            found = fresh.get(t) or self._cache[t]
            self._cache[t] = found
            self._cache.move_to_end(t)
            rows.append(found[0])
            tokens += found[1]
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return np.stack(rows), tokens

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_get("/v1/models", self.models)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _: web.Application) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": self.name, "object": "model", "created": 0, "owned_by": "local"}]})

    def _parse(self, raw: Any) -> EmbeddingRequest | web.Response:
        try:
            body = EmbeddingRequest.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = str(first["loc"][0]) if first["loc"] else None
            if where == "input":
                return error(400, "'input' must be a string or a list of strings (token arrays are not "
                                  "supported by this server)", param="input")
            return error(400, f"'{where}': {first['msg']}", param=where)
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts or any(t == "" for t in texts):
            return error(400, "'input' cannot be empty or contain an empty string", param="input")
        if len(texts) > MAX_INPUTS:
            return error(400, f"'input' has {len(texts)} items; at most {MAX_INPUTS} per request", param="input")
        if body.model != self.name:
            return error(404, f"The model `{body.model}` does not exist; this server has `{self.name}`",
                         param="model", code="model_not_found")
        if body.dimensions is not None and body.dimensions > self.encoder.dim:
            return error(400, f"'dimensions' must be at most {self.encoder.dim} for {self.name}",
                         param="dimensions")
        return body

    async def embeddings(self, request: web.Request) -> web.Response:
        try:
            raw = await request.json()
        except json.JSONDecodeError:
            return error(400, "the request body is not valid JSON")
        parsed = self._parse(raw)
        if isinstance(parsed, web.Response):
            return parsed
        texts = [parsed.input] if isinstance(parsed.input, str) else list(parsed.input)
        started = time.perf_counter()
        try:
            vectors, tokens = await asyncio.get_running_loop().run_in_executor(self._pool, self._encode, texts)
        except ValueError as exc:
            return error(500, str(exc))
        took_ms = (time.perf_counter() - started) * 1000
        self.requests += 1
        self.inputs += len(texts)
        rows = shaped(vectors, parsed.dimensions)
        log.debug("%d input(s) in %.1f ms", len(texts), took_ms)
        return web.json_response(
            {"object": "list", "model": self.name,
             "data": [{"object": "embedding", "index": i, "embedding": encoded(row, parsed.encoding_format)}
                      for i, row in enumerate(rows)],
             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
            headers={"Server-Timing": f"encode;dur={took_ms:.1f}"})


def sentence_transformer(model_path: Path, *, device: str = "cpu", batch_size: int = 64) -> Encoder:
    """A sentence-transformers model from a local folder, loaded without the hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device=device, local_files_only=True)
    dim = getattr(model, "get_embedding_dimension", model.get_sentence_embedding_dimension)()
    if dim is None:
        raise SystemExit(f"{model_path}: the model does not say its embedding dimension")
    limit = int(model.max_seq_length or 512)

    def encode(texts: list[str]) -> Vectors:
        return np.asarray(model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)

    def count(texts: Sequence[str]) -> int:  # what the model read: its tokens, cut at its window
        ids = model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return sum(min(len(row), limit) for row in ids)

    return Encoder(encode, int(dim), count)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m offline.embeddings_server", description=__doc__.split("\n")[0])
    p.add_argument("--model-path", type=Path, required=True, help="folder of a sentence-transformers model")
    p.add_argument("--name", help="model id clients must send (default: the folder's name)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    p.add_argument("--cache", type=int, default=0, metavar="N",
                   help="keep the vectors of N texts (exact: the model is deterministic); speeds up repeated eval "
                        "runs, but leave it off when measuring latency")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads; 1 by default: on a shared machine more threads spin against each "
                        "other (measured 15x slower with 2 on a loaded 2-core machine); 0 = torch's choice")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    encoder = sentence_transformer(args.model_path, device=args.device, batch_size=args.batch_size)
    name = args.name or args.model_path.resolve().name
    log.info("loaded %s (%d dimensions) in %.1f s; serving it as %r on http://%s:%d/v1",
             args.model_path, encoder.dim, time.perf_counter() - started, name, args.host, args.port)
    server = EmbeddingsServer(encoder, name, cache=args.cache)
    web.run_app(server.app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
