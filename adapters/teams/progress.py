"""Progress in Teams: a typing indicator everywhere, and in personal chats a streamed message.

Streaming is Teams' own protocol (learn.microsoft.com/microsoftteams/platform/bots/streaming-ux), and
Teams allows it in personal (one-on-one) chats only:
- `typing` activities carry a `streaminfo` entity. The first (`streamSequence` 1, no `streamId`) starts
  the stream and its id comes back as the activity id; every later one carries that `streamId` and the
  next sequence number;
- `informative` updates show a status line ("Searching…") and may come only before the answer's text;
  `streaming` updates carry the whole text so far, which must grow from the previous one;
- the `message` that ends it carries `streamType: final` and no sequence, and may hold what updates may
  not: the card, the AI label, citations and the feedback loop. It replaces what was streamed;
- updates faster than about one a second are throttled; after two minutes, or once the person pressed
  Stop, Teams refuses (403) further updates.
In channels and group chats there is only the plain typing indicator, sent again at most every 3 s.

Everything here is best-effort: a failed update is logged and ends the stream's updates, never the turn.
If the final message cannot be sent, `finish` returns None and the pipeline sends the reply the usual
way. A Stop is respected: the partial message stays and no second message is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.schema import Activity, ActivityTypes

from adapters.teams.entities import StreamInfo, StreamType, stream_channel_data
from bot.models import Reply

log = logging.getLogger(__name__)

UPDATE_INTERVAL = 1.0  # seconds between stream updates
TYPING_INTERVAL = 3.0  # a typing indicator shows for about 3 s
MAX_INFORMATIVE = 1000  # characters Teams takes in an informative update

Post = Callable[[Activity], Awaitable[str | None]]


def refusal(exc: BaseException) -> str:
    """The connector's error message (botbuilder's ErrorResponseException), else the exception's text."""
    error = getattr(getattr(exc, "error", None), "error", None)
    message = getattr(error, "message", None)
    return str(message) if message else str(exc)


class TeamsProgress:
    """One answer turn's progress in one conversation. `post` sends an activity to the conversation and
    returns the id the connector gave it; `final` builds the reply's message; `where` is the posted
    reference of a message id (as `Surface.send` returns it)."""

    def __init__(self, post: Post, final: Callable[[Reply], Activity], where: Callable[[str], dict[str, Any]], *,
                 streams: bool, interval: float = UPDATE_INTERVAL, typing_interval: float = TYPING_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._post = post
        self._final = final
        self._where = where
        self._streams = streams
        self._interval = interval
        self._typing_interval = typing_interval
        self._clock = clock
        self._stream_id: str | None = None
        self._sequence = 0
        self._sent_text = ""
        self._last_update: float | None = None
        self._last_typing: float | None = None
        self._ended = False  # no more updates: one failed, or the text could not keep growing
        self._stopped = False  # the person pressed Stop

    @property
    def streams(self) -> bool:
        return self._streams and not self._ended

    async def start(self) -> None:
        await self._typing()

    async def status(self, text: str) -> None:
        if not self._streams:
            await self._typing()
            return
        if self._ended or self._sent_text or self._throttled():  # informative only before the text
            return
        await self._update("informative", text[:MAX_INFORMATIVE])

    async def text(self, so_far: str) -> None:
        if not self._streams:
            await self._typing()
            return
        if self._ended or not so_far.strip() or self._throttled():
            return  # the next call carries this text too: it is the whole text so far
        if not so_far.startswith(self._sent_text):
            # The generator started over (a retried request); Teams takes only growing text, so the updates
            # stop here and the final message replaces what was shown.
            log.info("Teams stream %s: the text started over; no more updates", self._stream_id)
            self._ended = True
            return
        if await self._update("streaming", so_far):
            self._sent_text = so_far

    async def finish(self, reply: Reply, *, key: str) -> dict[str, Any] | None:
        stream_id = self._stream_id
        if stream_id is None:
            return None  # nothing was streamed: the pipeline sends the reply
        if self._stopped:
            return {**self._where(stream_id), "stopped": True}
        activity = self._final(reply)
        activity.entities = [*(activity.entities or []), StreamInfo(stream_type="final", stream_id=stream_id)]
        activity.channel_data = {**(activity.channel_data or {}), **stream_channel_data("final", stream_id, None)}
        try:
            await self._post(activity)
        except Exception as exc:  # the reply is decided and stored: let the pipeline send it the usual way
            self._note_failure(exc)
            if self._stopped:
                return {**self._where(stream_id), "stopped": True}
            log.warning("could not end Teams stream %s for %s (%s); sending the reply as a new message",
                        stream_id, key, refusal(exc))
            return None
        return self._where(stream_id)

    # ---------------------------------------------------------------------------------------------

    def _throttled(self) -> bool:
        return self._last_update is not None and self._clock() - self._last_update < self._interval

    async def _update(self, kind: StreamType, text: str) -> bool:
        sequence = self._sequence + 1
        activity = Activity(type=ActivityTypes.typing, text=text,
                            entities=[StreamInfo(stream_type=kind, stream_id=self._stream_id,
                                                 stream_sequence=sequence)],
                            channel_data=stream_channel_data(kind, self._stream_id, sequence))
        try:
            sent = await self._post(activity)
        except Exception as exc:  # progress must never fail the turn
            self._note_failure(exc)
            return False
        self._sequence = sequence
        self._last_update = self._clock()
        if self._stream_id is None:
            if not sent:
                log.warning("Teams gave no stream id for the first update; not streaming this answer")
                self._ended = True
                return False
            self._stream_id = sent
        return True

    def _note_failure(self, exc: BaseException) -> None:
        message = refusal(exc)
        self._ended = True
        if "cancel" in message.lower():
            self._stopped = True
            log.info("Teams stream %s was stopped by the person", self._stream_id)
        else:
            log.warning("Teams stream %s update failed, no more updates: %s", self._stream_id, message)

    async def _typing(self) -> None:
        now = self._clock()
        if self._last_typing is not None and now - self._last_typing < self._typing_interval:
            return
        self._last_typing = now
        try:
            await self._post(Activity(type=ActivityTypes.typing))
        except Exception as exc:  # an indicator is a courtesy
            log.info("could not show the Teams typing indicator: %s", refusal(exc))
