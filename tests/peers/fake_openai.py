"""A loopback OpenAI-compatible server (aiohttp) for tests: `/v1/chat/completions`, `/v1/embeddings`
and `/v1/models`.

Tests script its next responses (answer, delay, 429 with Retry-After, 500, malformed JSON) and read
back every request it received, so they can assert on the exact prompt the real `openai` client sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Responder = Callable[[dict[str, Any]], str]

EMBEDDING_DIM = 256
# A few meaning classes, as a real embedding model has them: words of one class land on one
# direction, so a paraphrase ("is prod on fire?") comes near its source ("checkout 5xx").
SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"fire", "outage", "down", "5xx", "500", "502", "503", "incident", "broken", "sev", "sev1", "sev2"}),
    frozenset({"expense", "expenses", "claim", "reimbursement", "reimburse", "refund", "receipts"}),
    frozenset({"vpn", "remote", "access", "tunnel", "wireguard"}),
    frozenset({"prod", "production", "live"}),
)
_CLASS = {w: f"~class{i}" for i, group in enumerate(SYNONYMS) for w in group}
_TOKEN = re.compile(r"[a-z0-9]+")
_FUNCTION_WORDS = frozenset([
    "a", "an", "and", "are", "at", "be", "by", "do", "does", "for", "from", "get", "how", "i", "in", "into",
    "is", "it", "of", "on", "or", "our", "so", "the", "this", "to", "us", "we", "what", "when", "where",
    "which", "who", "why", "with", "you",
])


def _bucket(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % EMBEDDING_DIM, 1.0 if digest[4] & 1 else -1.0


def fake_embedding(text: str) -> list[float]:
    """Deterministic unit vector: hashed content words (synonym classes merged and weighted 3, plural s
    dropped, function words skipped) plus hashed character trigrams weighted 0.5 (so "deploys" and
    "deploy" stay close)."""
    vector = [0.0] * EMBEDDING_DIM
    for word in _TOKEN.findall(text.lower()):
        if word in _FUNCTION_WORDS:
            continue
        word = word[:-1] if len(word) > 3 and word.endswith("s") else word
        index, sign = _bucket(_CLASS.get(word, word))
        vector[index] += (3.0 if word in _CLASS else 2.0) * sign
        padded = f"#{word}#"
        for i in range(len(padded) - 2):
            index, sign = _bucket(padded[i:i + 3])
            vector[index] += 0.5 * sign
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


@dataclass
class Step:
    """One scripted response. kind: answer | delay | status | malformed."""

    kind: str
    content: str | Responder = ""
    delay_s: float = 0.0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    at: float
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body.get("messages", []))

    def content(self, role: str) -> str:
        return "\n".join(m["content"] for m in self.messages if m.get("role") == role)


class FakeOpenAI:
    """Answers with `default` unless steps were queued; each queued step serves one request."""

    def __init__(self, default: str | Responder = "I don't know.", models: tuple[str, ...] = ("gpt-4o-mini",)):
        self.default: str | Responder = default
        self.models = models
        self.steps: deque[Step] = deque()
        self.received: list[Received] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.latency_s = 0.0  # added to every response: a model that takes its time
        self.embedding_requests: list[dict[str, Any]] = []
        self.embedding_steps: deque[Step] = deque()
        self.stream_words = 3  # words per streamed chunk
        self.stream_pause_s = 0.0  # between streamed chunks: a model that writes slowly

    # scripting -------------------------------------------------------------------------------
    def answer(self, content: str | Responder) -> FakeOpenAI:
        self.steps.append(Step("answer", content))
        return self

    def delay(self, seconds: float, content: str | Responder = "late answer [1]") -> FakeOpenAI:
        self.steps.append(Step("delay", content, delay_s=seconds))
        return self

    def rate_limit(self, retry_after: str = "1") -> FakeOpenAI:
        self.steps.append(Step("status", status=429, headers={"retry-after": retry_after}))
        return self

    def error(self, status: int = 500) -> FakeOpenAI:
        self.steps.append(Step("status", status=status))
        return self

    def embedding_delay(self, seconds: float) -> FakeOpenAI:
        self.embedding_steps.append(Step("delay", delay_s=seconds))
        return self

    def embedding_error(self, status: int = 500) -> FakeOpenAI:
        self.embedding_steps.append(Step("status", status=status))
        return self

    def malformed(self) -> FakeOpenAI:
        self.steps.append(Step("malformed"))
        return self

    # server ----------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.embedding_requests.append(body)
        step = self.embedding_steps.popleft() if self.embedding_steps else None
        if step is not None and step.kind == "delay":
            await asyncio.sleep(step.delay_s)
        if step is not None and step.kind == "status":
            return web.json_response({"error": {"message": f"scripted {step.status}", "type": "server_error",
                                                "code": None, "param": None}}, status=step.status)
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        return web.json_response({
            "object": "list", "model": body.get("model", "fake-embed"),
            "data": [{"object": "embedding", "index": i, "embedding": fake_embedding(t)} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": sum(len(t.split()) for t in texts),
                      "total_tokens": sum(len(t.split()) for t in texts)},
        })

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(Received(time.monotonic(), body, dict(request.headers)))
        step = self.steps.popleft() if self.steps else Step("answer", self.default)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if step.kind == "delay":
            await asyncio.sleep(step.delay_s)
        if step.kind == "status":
            error = {"error": {"message": f"scripted {step.status}", "type": "server_error" if step.status >= 500
                               else "rate_limit_exceeded", "code": None, "param": None}}
            return web.json_response(error, status=step.status, headers=step.headers)
        if step.kind == "malformed":
            return web.Response(text='{"id": "chatcmpl-x", "choices": [', content_type="application/json")
        content = step.content(body) if callable(step.content) else step.content
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        if body.get("stream"):
            return await self._stream(request, body, content, prompt_words)
        return web.json_response({
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(content.split()),
                      "total_tokens": prompt_words + len(content.split())},
        })

    async def _stream(self, request: web.Request, body: dict[str, Any], content: str,
                      prompt_words: int) -> web.StreamResponse:
        """Server-sent events as OpenAI sends them: a role chunk, content chunks of a few words each
        (`stream_pause_s` apart), a finish chunk, the usage chunk when asked for, then `[DONE]`."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        ident, created, model = f"chatcmpl-{next(self._ids)}", int(time.time()), body.get("model", "fake")

        async def send(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> None:
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": choices, "usage": usage}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        pieces = re.findall(r"\S+\s*", content)
        for start in range(0, len(pieces), self.stream_words):
            await send([{"index": 0, "delta": {"content": "".join(pieces[start:start + self.stream_words])},
                         "finish_reason": None}])
            if self.stream_pause_s:
                await asyncio.sleep(self.stream_pause_s)
        await send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if (body.get("stream_options") or {}).get("include_usage"):
            words = len(content.split())
            await send([], {"prompt_tokens": prompt_words, "completion_tokens": words,
                            "total_tokens": prompt_words + words})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def payload(received: Received) -> str:
    """The whole request body as text, for 'this string never left the process' assertions."""
    return json.dumps(received.body)
