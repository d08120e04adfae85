"""Dense embeddings: a static model shipped with whybot (in process, the default), or any OpenAI-compatible
`/v1/embeddings` (OpenAI, Azure, Ollama, vLLM).

The built-in model is a Model2Vec distillation of all-MiniLM-L6-v2 (one vector per word piece, averaged):
it needs no network, no GPU and no server, embeds about 20,000 messages a second on one core, and carries
enough meaning to bridge "get into the VPN" and "remote access" (QUALITY.md measures it against words alone
and against the full transformer).

For a server, two paths with different promises: `embed_documents` (ingest, backfill) batches and retries with
backoff, because a message that misses its vector is only found by words; `embed_query` (answering)
is time-boxed and never retried, because a reply must not wait on a slow embedding server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from model2vec import StaticModel
from openai import APIConnectionError, APITimeoutError, AsyncOpenAI, InternalServerError, RateLimitError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.settings import BUILTIN_EMBEDDINGS, Settings

log = logging.getLogger(__name__)

BUILTIN_MODEL_DIR = Path(__file__).parent / "weights" / "static-minilm-128"

Vectors = npt.NDArray[np.float32]
MAX_CHARS = 2000  # a chat message rarely needs more; long pastes are cut, not rejected by the server


class EmbeddingUnavailable(Exception):
    """The query could not be embedded in time (or at all): answer from words alone and say so."""


class Embedder(Protocol):
    model: str
    batch_size: int  # texts a call embeds well at once (the built-in model: thousands; a server: tens)

    async def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    async def embed_query(self, text: str) -> Vectors: ...

    async def close(self) -> None: ...


def normalized(rows: list[list[float]] | npt.NDArray[np.float32]) -> Vectors:
    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


class OpenAIEmbedder:
    def __init__(self, client: AsyncOpenAI, model: str, *, batch_size: int = 64, query_timeout_s: float = 0.8,
                 attempts: int = 4, dimensions: int | None = None) -> None:
        self.client = client
        self.model = model
        self.dimensions = dimensions  # shortened vectors (OpenAI text-embedding-3 and others): 1M x 256 = 1 GB
        self.batch_size = batch_size
        self.query_timeout_s = query_timeout_s
        self.attempts = attempts

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEmbedder | None:
        """None unless `WHYBOT_EMBEDDINGS_MODEL` names a model on the server."""
        if not settings.embeddings_model:
            return None
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
        client = AsyncOpenAI(api_key=key, base_url=settings.openai_base_url, max_retries=0,
                             timeout=settings.embeddings_timeout_s * 10)
        return cls(client, settings.embeddings_model, batch_size=settings.embeddings_batch,
                   query_timeout_s=settings.embeddings_timeout_s, dimensions=settings.embeddings_dimensions)

    async def _call(self, texts: Sequence[str]) -> Vectors:
        inputs = [t[:MAX_CHARS] or " " for t in texts]
        response = (await self.client.embeddings.create(model=self.model, input=inputs, dimensions=self.dimensions)
                    if self.dimensions else await self.client.embeddings.create(model=self.model, input=inputs))
        rows = sorted(response.data, key=lambda d: d.index)
        return normalized([list(d.embedding) for d in rows])

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Vectors for many texts, in batches, each retried with exponential backoff on transient errors."""
        out: list[Vectors] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self.attempts), wait=wait_exponential(multiplier=0.5, max=8), reraise=True,
                    retry=retry_if_exception_type((APIConnectionError, APITimeoutError, RateLimitError,
                                                   InternalServerError))):
                with attempt:
                    out.append(await self._call(batch))
        return np.vstack(out) if out else np.zeros((0, 0), dtype=np.float32)

    async def embed_query(self, text: str) -> Vectors:
        try:
            return (await asyncio.wait_for(self._call([text]), self.query_timeout_s))[0]
        except TimeoutError as exc:
            raise EmbeddingUnavailable(f"the embedding server took longer than {self.query_timeout_s:g} s") from exc
        except Exception as exc:  # any client or server failure: the answer goes on with words alone
            raise EmbeddingUnavailable(f"the embedding server failed ({type(exc).__name__})") from exc

    async def close(self) -> None:
        """Close the HTTP connections on shutdown (left to the garbage collector, they outlive the loop)."""
        await self.client.close()


@cache
def load_static_model(path: Path = BUILTIN_MODEL_DIR) -> StaticModel:
    """Loaded once per process (half a second, 36 MB resident), at start-up rather than on a first question, where the
    load would hold the event loop (and with it the worker's lease renewals); every tenant's index and every
    test's services share it."""
    return StaticModel.from_pretrained(path)


class StaticEmbedder:
    """The built-in model: a table lookup and an average per text, so it runs in process and never times out.
    Batches of documents are embedded in a thread, so a large backfill does not hold the event loop."""

    def __init__(self, model: StaticModel, *, name: str = BUILTIN_EMBEDDINGS, batch_size: int = 2048) -> None:
        self.static = model
        self.model = name
        self.batch_size = batch_size

    def _encode(self, texts: Sequence[str]) -> Vectors:
        inputs = [t[:MAX_CHARS] or " " for t in texts]
        rows = self.static.encode(inputs, use_multiprocessing=False, batch_size=self.batch_size)
        return normalized(rows.astype(np.float32))

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return await asyncio.to_thread(self._encode, texts)

    async def embed_query(self, text: str) -> Vectors:
        return self._encode([text])[0]  # a fraction of a millisecond: not worth a thread hop

    async def close(self) -> None:
        """Nothing to release: the model is shared and holds no connections."""


def build_embedder(settings: Settings) -> Embedder | None:
    """The server's model when `WHYBOT_EMBEDDINGS_MODEL` names one, else the built-in one unless
    `WHYBOT_STATIC_EMBEDDINGS=false`."""
    if settings.embeddings_source == "builtin":
        return StaticEmbedder(load_static_model())
    return OpenAIEmbedder.from_settings(settings)
