"""Per-person rate limits (WHYBOT_RATE_LIMIT_PER_MINUTE, WHYBOT_RATE_LIMIT_PER_HOUR; 0 = off).

Counted in the database (storage/rate_limits.py), so the count is the same on every worker process and
replica. The pipeline asks before answering; a refusal carries the sentence the person is shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from bot.settings import Settings
from storage import Limit, Storage

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
RETENTION = timedelta(days=1)  # counted requests older than this are purged (longer than any window)


class RateVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    allowed: bool
    message: str = ""  # for the person, when not allowed
    counted: int = 0
    window: str = ""  # "minute" or "hour"
    retry_after_s: int = 0


def _wait(seconds: float) -> str:
    if seconds < 60:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    n = math.ceil(seconds / 60)
    return f"{n} minute{'s' if n != 1 else ''}"


class RateLimiter:
    def __init__(self, storage: Storage, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock

    @property
    def limits(self) -> list[Limit]:
        return [Limit(MINUTE, self.settings.rate_limit_per_minute), Limit(HOUR, self.settings.rate_limit_per_hour)]

    async def admit(self, tenant_id: str, user: str, key: str) -> RateVerdict:
        """Count this request (once per turn key) unless the person is over a limit."""
        now = self.clock()
        admission = await self.storage.rate_limits.admit(tenant_id, user, key, now, self.limits)
        if admission.admitted:
            return RateVerdict(allowed=True)
        window = "minute" if admission.window == MINUTE else "hour"
        wait = max(1.0, ((admission.retry_at or now) - now).total_seconds())
        message = (f"You've asked me {admission.counted} questions in the last {window}; "
                   f"try again in {_wait(wait)}.")
        return RateVerdict(allowed=False, message=message, counted=admission.counted, window=window,
                           retry_after_s=math.ceil(wait))
