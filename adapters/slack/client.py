"""The Web API client: slack_sdk's AsyncWebClient with its retry handlers, plus per-channel pacing.

slack_sdk retries 429s (honouring Retry-After), 5xx and connection errors for us. What it does not do
is keep us under Slack's one-message-per-second-per-channel posting limit, so `ChannelPacer` spaces
posts to the same channel within this process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

DEFAULT_API_URL = "https://slack.com/api/"


def retry_handlers() -> list[AsyncRetryHandler]:
    """429 with Retry-After, 5xx and dropped connections: retried by slack_sdk, never by hand."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def build_client(api_url: str = DEFAULT_API_URL, token: str | None = None, *, timeout: int = 30) -> AsyncWebClient:
    base = api_url if api_url.endswith("/") else api_url + "/"
    return AsyncWebClient(token=token, base_url=base, timeout=timeout, retry_handlers=retry_handlers())


class ChannelPacer:
    """Spaces posts to one channel at least `interval` seconds apart (Slack: about one a second).

    One lock per channel keeps order; posts to different channels never wait for each other.
    """

    def __init__(self, interval: float = 1.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, channel_key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(channel_key, asyncio.Lock())
        async with lock:
            wait = self._last.get(channel_key, float("-inf")) + self.interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
            try:
                yield
            finally:
                self._last[channel_key] = self._clock()
                self._forget_idle()

    def _forget_idle(self) -> None:
        """Drop channels idle for a while so the maps stay small in a busy workspace."""
        if len(self._last) < 1024:
            return
        cutoff = self._clock() - max(self.interval, 1.0) * 10
        for key in [k for k, t in self._last.items() if t < cutoff and not self._locks[k].locked()]:
            self._last.pop(key, None)
            self._locks.pop(key, None)
