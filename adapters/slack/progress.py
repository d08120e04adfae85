"""A Slack answer while it is written: a status line in assistant threads, and the model's text streamed.

Streaming uses `chat.startStream` / `chat.appendStream` / `chat.stopStream`. The generator hands us the
whole text so far; we send what is new since the last flush, at most about once a second (Slack's safe
pace for updating one message). Where streaming is unavailable (the API answers an error, or there is
no thread to stream into) the text goes into a posted message redrawn with paced `chat.update`; a text
that restarts (a retried completion) stops the stream and continues the same way, since streamed text
cannot be taken back. `finish` redraws the message as the final reply (Block Kit, Why?, 👍/👎) carrying
the turn key in its metadata, so a retried turn finds it instead of posting a second answer.

Everything here is best-effort until `finish`: a status or a chunk that fails is logged, never fatal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.poster import Poster
from bot.models import Reply

log = logging.getLogger(__name__)

Mode = Literal["stream", "update"]
MAX_STATUS = 150  # ours, not Slack's: a status is a few words, never a paragraph


def short_status(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_STATUS else text[:MAX_STATUS - 1].rstrip() + "…"


class SlackProgress:
    def __init__(self, client: AsyncWebClient, poster: Poster, *, team: str, channel: str, thread_ts: str | None,
                 user: str, mode: Mode | None, status_thread: bool, title: str | None = None,
                 metadata_type: str, interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.poster = poster
        self.team, self.channel, self.thread_ts, self.user = team, channel, thread_ts, user
        self.mode: Mode | None = mode if (mode != "stream" or thread_ts) else "update"
        self.status_thread = status_thread and bool(thread_ts)
        self.title = title
        self.metadata_type = metadata_type
        self.interval = interval
        self.clock = clock
        self.ts: str | None = None  # the message the text is shown in, once there is one
        self.streaming = False  # a stream is open on `ts`
        self.shown = ""  # what the reader sees so far
        self.latest = ""  # what the generator has written so far
        self.last_flush = float("-inf")

    @property
    def streams(self) -> bool:
        return self.mode is not None

    # status ------------------------------------------------------------------------------------

    async def status(self, text: str) -> None:
        if not self.status_thread or self.thread_ts is None:
            return
        await self._name()
        try:
            await self.client.assistant_threads_setStatus(channel_id=self.channel, thread_ts=self.thread_ts,
                                                          status=short_status(text))
        except SlackApiError as exc:
            log.info("assistant status in %s not shown: %s", self.channel, exc.response.get("error"))

    async def _name(self) -> None:
        """Name the thread after its first question, once (at the first status, or when the answer is done)."""
        if not self.title or self.thread_ts is None:
            return
        title, self.title = self.title, None
        try:
            await self.client.assistant_threads_setTitle(channel_id=self.channel, thread_ts=self.thread_ts,
                                                         title=title)
        except SlackApiError as exc:
            log.info("assistant thread in %s not named: %s", self.channel, exc.response.get("error"))

    # text --------------------------------------------------------------------------------------

    async def text(self, so_far: str) -> None:
        if self.mode is None or not so_far.strip():
            return
        self.latest = so_far
        if self.clock() - self.last_flush < self.interval:
            return
        await self._flush()

    async def _flush(self) -> None:
        """Show `latest`; any failure moves to the next cheaper way, and at worst shows nothing more."""
        self.last_flush = self.clock()
        text = self.latest
        if text == self.shown:
            return
        try:
            if self.mode == "stream":
                await self._stream(text)
            else:
                await self._redraw(text)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.info("streaming into %s failed (%s); %s", self.channel, error,
                     "redrawing with chat.update instead" if self.mode == "stream" else "not shown until done")
            if self.mode == "stream":
                await self._end_stream()
                self.mode = "update"
            else:
                self.mode = None

    async def _stream(self, text: str) -> None:
        assert self.thread_ts is not None
        if self.ts is None:
            started = await self.client.chat_startStream(
                channel=self.channel, thread_ts=self.thread_ts, markdown_text=text,
                recipient_team_id=self.team, recipient_user_id=self.user)
            self.ts, self.streaming, self.shown = str(started["ts"]), True, text
            return
        if not text.startswith(self.shown):  # the text restarted: what was streamed cannot be taken back
            await self._end_stream()
            self.mode = "update"
            await self._redraw(text)
            return
        await self.client.chat_appendStream(channel=self.channel, ts=self.ts, markdown_text=text[len(self.shown):])
        self.shown = text

    async def _redraw(self, text: str) -> None:
        if self.ts is None:
            posted = await self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text,
                                                        unfurl_links=False, unfurl_media=False)
            self.ts = str(posted["ts"])
        else:
            await self.client.chat_update(channel=self.channel, ts=self.ts, text=text)
        self.shown = text

    async def _end_stream(self, metadata: dict[str, Any] | None = None) -> None:
        if self.ts is None or not self.streaming:
            return
        self.streaming = False
        try:
            await self.client.chat_stopStream(channel=self.channel, ts=self.ts, metadata=metadata)
        except SlackApiError as exc:
            log.info("could not stop the stream in %s: %s", self.channel, exc.response.get("error"))

    # the final reply ---------------------------------------------------------------------------

    async def finish(self, reply: Reply, *, key: str) -> dict[str, Any] | None:
        """The shown message becomes the reply; None (the pipeline sends it) when nothing was shown, or
        the reply is for the asker alone and the text went where others see it (then it is removed)."""
        await self._name()
        if self.ts is None:
            return None
        metadata = {"event_type": self.metadata_type, "event_payload": {"key": key, "decision_id": reply.decision_id}}
        await self._end_stream(metadata)
        if reply.private and not self.channel.startswith("D"):
            await self._remove()
            return None
        try:
            return await self.poster.replace(self.client, team_id=self.team, channel=self.channel, ts=self.ts,
                                             reply=reply, thread_ts=self.thread_ts, metadata=metadata)
        except SlackApiError as exc:
            log.warning("could not turn the streamed message in %s into decision %s (%s); posting it instead",
                        self.channel, reply.decision_id, exc.response.get("error"))
            await self._remove()
            return None

    async def _remove(self) -> None:
        assert self.ts is not None
        try:
            await self.client.chat_delete(channel=self.channel, ts=self.ts)
        except SlackApiError as exc:
            log.info("could not remove the streamed message in %s: %s", self.channel, exc.response.get("error"))
        self.ts = None
