"""Showing a turn's progress while it runs: a status line ("Searching 12,400 messages…") and, when a
model writes the answer, the text so far. People wait more patiently for a bot that says what it is
doing, and a streamed answer is read while it is written.

A surface hands the pipeline a `Progress` for each answer turn. Skills and text generators only ever
see this protocol, never a platform. Progress is best-effort: a status that fails to show must not fail
the turn, so implementations swallow their platform's errors (and log them).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from bot.models import Reply


@runtime_checkable
class Progress(Protocol):
    @property
    def streams(self) -> bool:
        """Whether `text` is shown as it arrives (a generator may skip streaming work otherwise)."""
        ...

    async def status(self, text: str) -> None:
        """What is happening now, in a few plain words."""
        ...

    async def text(self, so_far: str) -> None:
        """The answer as written so far (the whole text each time, so a restarted attempt just starts
        over; a surface that appends computes the difference itself)."""
        ...

    async def finish(self, reply: Reply, *, key: str) -> dict[str, Any] | None:
        """Turn whatever progress showed into the final reply, if the surface can (a streamed message
        becomes the answer, marked with `key` like any sent reply): returns where the reply went, or
        None when the pipeline should send it the usual way."""
        ...


class NoProgress:
    """For surfaces and callers (eval, tests, retries of a decided turn) with nothing to show."""

    @property
    def streams(self) -> bool:
        return False

    async def status(self, text: str) -> None:
        return None

    async def text(self, so_far: str) -> None:
        return None

    async def finish(self, reply: Reply, *, key: str) -> dict[str, Any] | None:
        return None


NO_PROGRESS = NoProgress()
