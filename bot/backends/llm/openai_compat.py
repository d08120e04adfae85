"""The LLM generator: any OpenAI-compatible chat-completions endpoint, through the official client.

OpenAI, Azure OpenAI (v1 endpoint), vLLM, Ollama and LM Studio all speak this API, so one client
covers them; `OPENAI_BASE_URL` picks the server and `WHYBOT_LLM_MODEL` the model.

Reliability rules, because an LLM must make answers better without making the bot less reliable:
- one retry policy (tenacity; the client's own retries are off): 429, 5xx and connection errors are
  retried with exponential backoff and jitter, and a server's Retry-After is honoured;
- every reply has a time budget (`WHYBOT_REPLY_BUDGET`); each request gets at most
  `WHYBOT_LLM_TIMEOUT` of it, no retry starts that could not finish inside it, and when the budget
  runs out, or the model fails in any other way, the extractive answer goes out instead and the
  rationale says why;
- sources enter prompts as escaped, quoted data (see prompts.py); secrets are scrubbed from every
  text before it leaves the process, PII too when `WHYBOT_REDACT_PII` is on; prompts are never logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import openai
from openai.types import CompletionUsage
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from bot.backends.llm import prompts
from bot.backends.llm.base import Draft, Passage, Rewrite, TextSink
from bot.backends.llm.citations import check_citations
from bot.backends.llm.extractive import ExtractiveGenerator
from bot.backends.llm.redact import Redactor, describe
from bot.backends.llm.tokens import TokenCounter
from bot.models import Conversation, Generator
from bot.settings import Settings

log = logging.getLogger(__name__)

ANSWER_MAX_TOKENS = 400
SUMMARY_MAX_TOKENS = 600
HEADLINE_MAX_TOKENS = 60
REWRITE_MAX_TOKENS = 80
REWRITE_SHARE = 1 / 3  # of the reply budget: the answer still needs the rest
MAP_CONCURRENCY = 4
PROMPT_MARGIN_TOKENS = 64  # chat formatting overhead per request, plus slack for estimate error
MAX_WAIT_S = 4.0
BACKSTOP_GRACE_S = 0.25


def _host(url: str) -> str:
    """host[:port] only: a base URL may carry credentials, and this string goes into logs and rationales."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or "")


SLOW_NOTICE = "The model didn't answer in time, so these are the sources' own words."
FAILED_NOTICE = "The model couldn't answer just now, so these are the sources' own words."


class LLMFailure(Exception):
    """The model could not produce a usable draft in time; `reason` is what the rationale shows, `notice`
    the one plain line the reply itself carries."""

    def __init__(self, reason: str, notice: str = FAILED_NOTICE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.notice = notice


@dataclass
class _Usage:
    """What one reply cost, summed over its requests (map-reduce makes several)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    requests: int = 0
    redacted: dict[str, int] = field(default_factory=dict)

    def redact(self, redactor: Redactor, text: str) -> str:
        result = redactor(text)
        for kind, n in result.counts.items():
            self.redacted[kind] = self.redacted.get(kind, 0) + n
        return result.text


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed is not None else None


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx and connection failures. Not timeouts: a model that used up the request timeout will
    not answer faster in what is left of the reply budget."""
    if isinstance(exc, openai.APITimeoutError):
        return False
    if isinstance(exc, openai.APIConnectionError):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)


class _Wait:
    """Retry-After when the server sent one (plus a little jitter), else exponential backoff with jitter."""

    def __init__(self, *, multiplier: float = 0.5, max_s: float = MAX_WAIT_S) -> None:
        self.backoff = wait_random_exponential(multiplier=multiplier, max=max_s)
        self.jitter = wait_random_exponential(multiplier=0.05, max=0.25)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after_s(exc) if exc is not None else None
        if asked is not None:
            return asked + float(self.jitter(state))
        return float(self.backoff(state))


class _StopAtDeadline(stop_base):
    """Stop retrying when the next attempt could not start before the reply budget runs out."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline = deadline
        self.clock = clock

    def __call__(self, state: RetryCallState) -> bool:
        return self.clock() + state.upcoming_sleep >= self.deadline - 0.05


class OpenAIGenerator:
    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI, model: str, *, timeout_s: float = 8.0, budget_s: float = 9.0,
                 max_attempts: int = 3, context_tokens: int = 8192, counter: TokenCounter | None = None,
                 redactor: Redactor | None = None, fallback: ExtractiveGenerator | None = None,
                 endpoint: str = "") -> None:
        self.client = client
        self.model = model
        self.timeout_s = timeout_s
        self.budget_s = budget_s
        self.max_attempts = max(1, max_attempts)
        self.context_tokens = context_tokens
        self.counter = counter or TokenCounter.for_model(model)
        self.redactor = redactor or Redactor()
        self.fallback = fallback or ExtractiveGenerator()
        self.endpoint = endpoint or _host(str(client.base_url))
        self.wait = _Wait()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIGenerator:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        # Local servers (Ollama, vLLM, LM Studio) ignore the key but the client insists on one.
        client = openai.AsyncOpenAI(api_key=key or "not-needed", base_url=settings.openai_base_url,
                                    max_retries=0, timeout=settings.llm_timeout_s)
        secrets = [s.get_secret_value() if s else None for s in (
            settings.openai_api_key, settings.slack_bot_token, settings.slack_signing_secret,
            settings.slack_app_token, settings.slack_client_secret, settings.microsoft_app_password)]
        endpoint = _host(settings.openai_base_url) if settings.openai_base_url else "api.openai.com"
        return cls(client, settings.llm_model, timeout_s=settings.llm_timeout_s, budget_s=settings.reply_budget_s,
                   max_attempts=settings.llm_max_attempts, context_tokens=settings.llm_context_tokens,
                   redactor=Redactor.with_secrets(secrets, pii=settings.redact_pii), endpoint=endpoint)

    # the TextGenerator protocol -----------------------------------------------------------------

    async def answer(self, question: str, passages: list[Passage], *, on_text: TextSink | None = None) -> Draft:
        async def run(usage: _Usage, deadline: float) -> Draft:
            template = prompts.ANSWER
            q = usage.redact(self.redactor, question)
            fitted, dropped = self._fit(passages, template, ANSWER_MAX_TOKENS, extra=q)
            text = await self._complete(template, {"question": q, "sources": self._sources(fitted, usage)},
                                        ANSWER_MAX_TOKENS, usage, deadline, on_text)
            caveats = [f"{dropped} lower-ranked source(s) left out to fit the model's context"] if dropped else []
            if text.strip().rstrip(".") == prompts.NOT_FOUND:
                return self._draft("", [], template.version, usage, caveats=[
                    "the model found no answer in the sources", *caveats])
            return self._checked(text, fitted, template.version, usage, caveats)

        return await self._guarded(run, lambda reason: self.fallback.with_reason(reason).answer(question, passages))

    async def summarize(self, passages: list[Passage], *, focus: str = "", max_points: int = 6) -> Draft:
        if not passages:
            return await self.fallback.summarize(passages, focus=focus, max_points=max_points)

        async def run(usage: _Usage, deadline: float) -> Draft:
            focus_line = f"Focus on: {usage.redact(self.redactor, focus)}\n\n" if focus else ""
            values = {"focus": focus_line, "max_points": str(max_points)}
            chunks = self._chunks(passages, prompts.SUMMARIZE, SUMMARY_MAX_TOKENS, extra=focus_line)
            if len(chunks) == 1:
                text = await self._complete(prompts.SUMMARIZE, {**values, "sources": self._sources(chunks[0], usage)},
                                            SUMMARY_MAX_TOKENS, usage, deadline)
                return self._checked(text, passages, prompts.SUMMARIZE.version, usage, [])
            notes = await self._map(chunks, values, usage, deadline)
            text = await self._reduce(notes, values, usage, deadline)
            caveat = f"{len(passages)} messages were summarized in {len(chunks)} parts, then merged (map-reduce)"
            return self._checked(text, passages, f"{prompts.SUMMARIZE.version}+{prompts.REDUCE.version}", usage,
                                 [caveat])

        return await self._guarded(run, lambda reason: self.fallback.with_reason(reason).summarize(
            passages, focus=focus, max_points=max_points))

    async def headline(self, passages: list[Passage]) -> Draft:
        if not passages:
            return await self.fallback.headline(passages)

        async def run(usage: _Usage, deadline: float) -> Draft:
            fitted, _ = self._fit(passages, prompts.HEADLINE, HEADLINE_MAX_TOKENS)
            text = await self._complete(prompts.HEADLINE, {"sources": self._sources(fitted, usage)},
                                        HEADLINE_MAX_TOKENS, usage, deadline)
            line = " ".join(text.split())
            return self._checked(line, fitted, prompts.HEADLINE.version, usage, [])

        return await self._guarded(run, lambda reason: self.fallback.with_reason(reason).headline(passages))

    async def rewrite(self, question: str, conversation: Conversation) -> Rewrite:
        """The follow-up as a standalone question, within a third of the reply budget (the answer needs
        the rest). A failure is returned, not raised: the skill then uses the offline rewrite."""
        template = prompts.REWRITE
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.budget_s * REWRITE_SHARE
        usage = _Usage()
        turns = [(usage.redact(self.redactor, t.question), usage.redact(self.redactor, t.answer))
                 for t in reversed(conversation.turns)]
        values = {"conversation": prompts.quote_conversation(turns), "question": usage.redact(self.redactor, question)}

        def generator(reason: str = "") -> Generator:
            return Generator(kind="llm", model=self.model, prompt_version=template.version, reason=reason,
                             prompt_tokens=usage.prompt_tokens or None,
                             completion_tokens=usage.completion_tokens or None,
                             retries=usage.retries, latency_ms=round((loop.time() - started) * 1000, 2))

        try:
            async with asyncio.timeout_at(deadline + BACKSTOP_GRACE_S):
                text = await self._complete(template, values, REWRITE_MAX_TOKENS, usage, deadline)
        except TimeoutError:
            return Rewrite(generator=generator(), reason=f"rewrite did not finish within "
                                                         f"{self.budget_s * REWRITE_SHARE:.1f} s")
        except LLMFailure as failure:
            return Rewrite(generator=generator(), reason=failure.reason.replace("; extractive answer sent", ""))
        line = " ".join(text.split()).strip().strip('"').strip()
        if not line or len(line) > 400:
            return Rewrite(generator=generator(), reason="the model's rewrite was empty or too long")
        return Rewrite(query=line, generator=generator("follow-up rewritten into a standalone question"))

    # budget, retries, fallback ------------------------------------------------------------------

    async def _guarded(self, run: Callable[[_Usage, float], Awaitable[Draft]],
                       fallback: Callable[[str], Awaitable[Draft]]) -> Draft:
        """Run within the reply budget; on any failure, the extractive draft with the reason attached."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.budget_s
        usage = _Usage()
        try:
            # The client's own timeout normally fires first; this is the backstop for everything else.
            async with asyncio.timeout_at(deadline + BACKSTOP_GRACE_S):
                draft = await run(usage, deadline)
        except TimeoutError:
            reason = f"LLM did not finish within the {self.budget_s:.1f} s reply budget; extractive answer sent"
            return await self._fall_back(fallback, reason, SLOW_NOTICE, usage, loop.time() - started)
        except LLMFailure as failure:
            return await self._fall_back(fallback, failure.reason, failure.notice, usage, loop.time() - started)
        draft.generator.latency_ms = round((loop.time() - started) * 1000, 2)
        return draft

    async def _fall_back(self, fallback: Callable[[str], Awaitable[Draft]], reason: str, notice: str,
                         usage: _Usage, spent_s: float) -> Draft:
        log.warning("LLM %s at %s: %s (after %.2f s, %d retries)", self.model, self.endpoint, reason, spent_s,
                    usage.retries)
        draft = await fallback(reason)
        draft.generator.retries = usage.retries
        draft.generator.fallback_from = self.model
        draft.generator.latency_ms = round(spent_s * 1000 + (draft.generator.latency_ms or 0.0), 2)
        draft.caveats.insert(0, reason)
        draft.notice = notice
        return draft

    async def _complete(self, template: prompts.PromptTemplate, values: dict[str, str], max_tokens: int,
                        usage: _Usage, deadline: float, on_text: TextSink | None = None) -> str:
        loop = asyncio.get_running_loop()
        messages: Any = template.messages(**values)
        attempt_number = 0
        request_timeout = self.timeout_s
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_retryable), wait=self.wait,
                stop=stop_after_attempt(self.max_attempts) | _StopAtDeadline(deadline, loop.time), reraise=True,
            ):
                with attempt:
                    attempt_number += 1
                    if attempt_number > 1:
                        usage.retries += 1
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        raise TimeoutError
                    usage.requests += 1
                    request_timeout = min(self.timeout_s, remaining)
                    if on_text is None:
                        response = await self.client.chat.completions.create(
                            model=self.model, messages=messages, temperature=0, max_tokens=max_tokens,
                            timeout=request_timeout)
                        content = response.choices[0].message.content if response.choices else None
                        counted = response.usage
                    else:
                        content, counted = await self._streamed(messages, max_tokens, request_timeout, on_text)
        except openai.APITimeoutError as exc:
            raise LLMFailure(f"LLM timed out after {request_timeout:.1f} s"
                             f"{f' on attempt {attempt_number}' if attempt_number > 1 else ''}; "
                             "extractive answer sent", SLOW_NOTICE) from exc
        except openai.RateLimitError as exc:
            asked = retry_after_s(exc)
            detail = f"; it asked to wait {asked:.0f} s, past the reply budget" if asked and \
                asked + loop.time() >= deadline else ""
            raise LLMFailure(f"LLM rate-limited the request (429) {attempt_number} time(s){detail}; "
                             "extractive answer sent") from exc
        except openai.APIStatusError as exc:
            kind = "server error" if exc.status_code >= 500 else "rejected the request"
            raise LLMFailure(f"LLM {kind} (HTTP {exc.status_code}) after {attempt_number} attempt(s); "
                             "extractive answer sent") from exc
        except openai.APIConnectionError as exc:
            raise LLMFailure(f"could not reach the LLM at {self.endpoint} after {attempt_number} attempt(s); "
                             "extractive answer sent") from exc
        except (openai.APIError, ValueError) as exc:  # unparseable body (JSONDecodeError is a ValueError)
            raise LLMFailure(f"LLM sent a malformed response ({type(exc).__name__}); extractive answer sent") from exc
        if counted is not None:
            usage.prompt_tokens += counted.prompt_tokens or 0
            usage.completion_tokens += counted.completion_tokens or 0
        if content is None or not content.strip():
            # An empty completion is a failure of the model, not its verdict that the sources lack an answer.
            raise LLMFailure("LLM returned no text; extractive answer sent")
        # The model never saw a secret, but a reply is scrubbed too before anyone reads it.
        return self.redactor(content).text

    async def _streamed(self, messages: Any, max_tokens: int, request_timeout: float,
                        on_text: TextSink) -> tuple[str | None, CompletionUsage | None]:
        """One streamed completion: the text so far goes to `on_text` (scrubbed like the final text) as
        chunks arrive; the "not found" sentinel is never shown while it could still be one."""
        stream = await self.client.chat.completions.create(
            model=self.model, messages=messages, temperature=0, max_tokens=max_tokens, timeout=request_timeout,
            stream=True, stream_options={"include_usage": True})
        parts: list[str] = []
        counted: CompletionUsage | None = None
        async for chunk in stream:
            if chunk.usage is not None:
                counted = chunk.usage
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if not delta:
                continue
            parts.append(delta)
            so_far = "".join(parts)
            if not prompts.NOT_FOUND.startswith(so_far.strip().rstrip(".")):
                await on_text(self.redactor(so_far).text)
        return "".join(parts) if parts else None, counted

    # prompt building ------------------------------------------------------------------------------

    def _sources(self, passages: Sequence[Passage], usage: _Usage) -> str:
        return prompts.quote_sources(passages, [usage.redact(self.redactor, p.text) for p in passages])

    def _input_budget(self, template: prompts.PromptTemplate, max_tokens: int, extra: str = "") -> int:
        fixed = self.counter.count(template.system) + self.counter.count(template.user) + self.counter.count(extra)
        return max(256, self.context_tokens - max_tokens - fixed - PROMPT_MARGIN_TOKENS)

    def _fit(self, passages: Sequence[Passage], template: prompts.PromptTemplate, max_tokens: int,
             extra: str = "") -> tuple[list[Passage], int]:
        """The best-ranked passages that fit the context (at least one)."""
        chunks = self._chunks(passages, template, max_tokens, extra)
        first = chunks[0] if chunks else []
        return first, len(passages) - len(first)

    def _chunks(self, passages: Sequence[Passage], template: prompts.PromptTemplate, max_tokens: int,
                extra: str = "") -> list[list[Passage]]:
        budget = self._input_budget(template, max_tokens, extra)
        chunks: list[list[Passage]] = [[]]
        used = 0
        for passage in passages:
            size = self.counter.count(prompts.quote_sources([passage]))
            if chunks[-1] and used + size > budget:
                chunks.append([])
                used = 0
            chunks[-1].append(passage)
            used += size
        return chunks

    async def _map(self, chunks: list[list[Passage]], values: dict[str, str], usage: _Usage,
                   deadline: float) -> list[str]:
        gate = asyncio.Semaphore(MAP_CONCURRENCY)

        async def one(chunk: list[Passage]) -> str:
            async with gate:
                return await self._complete(prompts.SUMMARIZE, {**values, "sources": self._sources(chunk, usage)},
                                            SUMMARY_MAX_TOKENS, usage, deadline)

        return list(await asyncio.gather(*(one(c) for c in chunks)))

    async def _reduce(self, notes: list[str], values: dict[str, str], usage: _Usage, deadline: float) -> str:
        """Merge partial summaries, in rounds when even they exceed the context."""
        budget = self._input_budget(prompts.REDUCE, SUMMARY_MAX_TOKENS, values.get("focus", ""))
        while True:
            groups: list[list[str]] = [[]]
            used = 0
            for note in notes:
                size = self.counter.count(note) + 16
                if groups[-1] and used + size > budget:
                    groups.append([])
                    used = 0
                groups[-1].append(note)
                used += size
            merged = await asyncio.gather(*(self._complete(
                prompts.REDUCE, {**values, "sources": prompts.quote_notes(group)}, SUMMARY_MAX_TOKENS, usage,
                deadline) for group in groups))
            if len(merged) == 1:
                return merged[0]
            notes = list(merged)

    # drafts -------------------------------------------------------------------------------------

    def _checked(self, text: str, passages: Sequence[Passage], version: str, usage: _Usage,
                 caveats: list[str]) -> Draft:
        checked = check_citations(text, {p.number for p in passages})
        notes = list(caveats)
        if checked.invented:
            notes.insert(0, f"removed citation(s) {''.join(f'[{n}]' for n in checked.invented)}: "
                            "the model cited sources it was not given")
        if checked.uncited:
            quoted = "; ".join(f"“{c[:80]}”" for c in checked.uncited[:3])
            notes.append(f"{len(checked.uncited)} statement(s) cite no source, check them: {quoted}")
        return self._draft(checked.text, checked.cited, version, usage, caveats=notes)

    def _draft(self, text: str, cited: list[int], version: str, usage: _Usage, *, caveats: list[str]) -> Draft:
        reason_parts = [f"OpenAI-compatible endpoint {self.endpoint}", f"tokens counted by {self.counter.method}"]
        if usage.requests > 1:
            reason_parts.append(f"{usage.requests} requests")
        if usage.redacted:
            reason_parts.append(f"redacted before sending: {describe(usage.redacted)}")
        generator = Generator(kind="llm", model=self.model, prompt_version=version,
                              reason="; ".join(reason_parts), prompt_tokens=usage.prompt_tokens,
                              completion_tokens=usage.completion_tokens, retries=usage.retries)
        return Draft(text=text, cited=cited, generator=generator, caveats=caveats)
