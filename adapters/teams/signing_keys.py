"""Bot Framework's token signing keys, kept fresh off the request path.

botframework-connector validates a token against OpenID signing keys it caches per metadata URL, and
refreshes them inside the request with a blocking `requests.get` without a timeout: a slow key server
then stalls the event loop that acknowledges every platform. Here the same cache entries are filled
ahead of time with aiohttp (non-blocking, with a timeout), so the library always finds fresh keys and
never fetches on its own. If the keys cannot be had, the request is refused with a 503 (Bot Framework
redelivers) instead of waiting.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import jwt
from botframework.connector.auth import AuthenticationConstants
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

log = logging.getLogger(__name__)

REFRESH_EVERY = timedelta(minutes=30)  # the library refetches itself after a day, or an hour for a new key id
STALE_AFTER = timedelta(hours=12)


class SigningKeysUnavailable(RuntimeError):
    """The keys needed to check a token could not be fetched in time."""


def metadata_urls(config: object) -> list[str]:
    """The two metadata documents CloudAdapter checks tokens against (channel and emulator issuers),
    honouring the same configuration overrides botbuilder reads."""
    return list(dict.fromkeys([
        getattr(config, "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", None)
        or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        getattr(config, "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL", None)
        or AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    ]))


def names_a_key(authorization: str) -> bool:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        return bool(jwt.get_unverified_header(token).get("kid"))
    except jwt.PyJWTError:
        return False


class SigningKeys:
    def __init__(self, urls: list[str], *, timeout_s: float = 5.0) -> None:
        self.urls = urls
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def _entries(self) -> list[Any]:
        return [JwtTokenExtractor.get_open_id_metadata(url) for url in self.urls]

    def _stale(self, entry: Any) -> bool:
        return bool(entry.last_updated < datetime.now() - STALE_AFTER)

    async def ensure_fresh(self, authorization: str) -> None:
        """Before a token is checked: fetch now only if the keys are missing or old (once, for everyone
        waiting); raise SigningKeysUnavailable rather than let the library fetch in the loop. A header
        that names no signing key is left to the library, which refuses it without keys (401)."""
        if not names_a_key(authorization) or not any(self._stale(e) for e in self._entries()):
            return
        async with self._lock:
            stale = [e for e in self._entries() if self._stale(e)]
            if stale:
                await self._refresh(stale)

    async def _refresh(self, entries: list[Any]) -> None:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                for entry in entries:
                    async with http.get(entry.url) as response:
                        response.raise_for_status()
                        jwks_uri = (await response.json(content_type=None))["jwks_uri"]
                    async with http.get(jwks_uri) as response:
                        response.raise_for_status()
                        keys = (await response.json(content_type=None))["keys"]
                    if not isinstance(keys, list):
                        raise ValueError("the key set has no list of keys")
                    entry.keys, entry.last_updated = keys, datetime.now()
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            raise SigningKeysUnavailable(f"could not fetch Bot Framework signing keys: {exc!r}") from exc

    async def _keep_fresh(self) -> None:
        while True:
            try:
                async with self._lock:
                    await self._refresh(self._entries())
            except SigningKeysUnavailable as exc:
                log.warning("%s; retrying in a minute", exc)
                await asyncio.sleep(60)
                continue
            await asyncio.sleep(REFRESH_EVERY.total_seconds())

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_fresh(), name="teams-signing-keys")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
