"""SlackProgress against the fake Web API: paced deltas, a text that restarts, falling back from streaming to
chat.update, and the final redraw that carries Why? and the turn key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from adapters.slack import render
from adapters.slack.client import ChannelPacer, build_client
from adapters.slack.poster import Poster
from adapters.slack.progress import SlackProgress, short_status
from bot.models import Rationale, Reply, Route, RouteKind
from storage import Storage
from tests.adapters.slack.conftest import ALICE, DM_ALICE, GENERAL, populate
from tests.peers.slack import BOT_TOKEN, TEAM, FakeSlack

THREAD = "1700000001.000000"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.1) -> None:
        self.now += seconds


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    populate(slack)
    await slack.start()
    yield slack
    await slack.close()


def reply(*, private: bool = False) -> Reply:
    return Reply(title="About the freeze", body="It starts Friday [1].", private=private,
                 rationale=Rationale(decision_id="d_0123456789abcdef0123", skill="ask",
                                     route=Route(kind=RouteKind.EXPLICIT, skill="ask", reason="explicit")))


async def progress(fake: FakeSlack, sqlite_storage: Storage, clock: Clock, *, channel: str = DM_ALICE,
                   thread_ts: str | None = THREAD, status_thread: bool = True, title: str | None = None
                   ) -> SlackProgress:
    client = build_client(fake.api_url, BOT_TOKEN)
    return SlackProgress(client, Poster(sqlite_storage, ChannelPacer(0)), team=TEAM, channel=channel,
                         thread_ts=thread_ts, user=ALICE, mode="stream", status_thread=status_thread, title=title,
                         metadata_type="whybot_reply", interval=1.0, clock=clock)


async def test_deltas_are_paced_and_a_restart_continues_by_redrawing(fake: FakeSlack,
                                                                     sqlite_storage: Storage) -> None:
    clock = Clock()
    p = await progress(fake, sqlite_storage, clock)
    assert p.streams
    await p.text("The freeze")
    clock.tick()
    await p.text("The freeze starts")
    await p.text("The freeze starts Fri")  # within the second: held back
    await p.text("The freeze starts Friday")
    assert [c.args["markdown_text"] for c in fake.called("chat.appendStream")] == [" starts"]
    clock.tick()
    await p.text("The freeze starts Friday.")
    assert [c.args["markdown_text"] for c in fake.called("chat.appendStream")] == [" starts", " Friday."]
    [start] = fake.called("chat.startStream")
    assert start.args == {"channel": DM_ALICE, "thread_ts": THREAD, "markdown_text": "The freeze",
                          "recipient_team_id": TEAM, "recipient_user_id": ALICE}
    clock.tick()
    await p.text("Actually, it starts Monday")  # a retried completion: streamed text cannot be taken back
    assert len(fake.called("chat.stopStream")) == 1
    [update] = fake.called("chat.update")
    assert update.args["text"] == "Actually, it starts Monday"
    posted = await p.finish(reply(), key="slack:Ev1")
    assert posted is not None and posted["ts"] == fake.called("chat.appendStream")[0].args["ts"]
    [message] = [m for m in fake.channels[DM_ALICE].messages if m["ts"] == posted["ts"]]
    assert render.WHY in json.dumps(message["blocks"])
    assert message["metadata"] == {"event_type": "whybot_reply",
                                   "event_payload": {"key": "slack:Ev1", "decision_id": "d_0123456789abcdef0123"}}
    assert posted["thread_ts"] == THREAD and "streaming" not in message


async def test_a_failed_append_falls_back_to_redrawing_the_same_message(fake: FakeSlack,
                                                                       sqlite_storage: Storage) -> None:
    clock = Clock()
    p = await progress(fake, sqlite_storage, clock)
    await p.text("One")
    fake.fail_next("chat.appendStream", 200, body={"ok": False, "error": "message_not_in_streaming_state"})
    clock.tick()
    await p.text("One two")  # swallowed: progress never fails the turn
    clock.tick()
    await p.text("One two three")
    assert [c.args["text"] for c in fake.called("chat.update")] == ["One two three"]
    assert len(fake.called("chat.startStream")) == 1 and len(fake.called("chat.postMessage")) == 0
    assert (await p.finish(reply(), key="k")) is not None


async def test_without_a_thread_the_text_is_posted_then_redrawn(fake: FakeSlack, sqlite_storage: Storage) -> None:
    clock = Clock()
    p = await progress(fake, sqlite_storage, clock, thread_ts=None, status_thread=False)
    await p.status("Searching…")
    await p.text("Hello")
    clock.tick()
    await p.text("Hello there")
    assert not fake.called("chat.startStream") and not fake.called("assistant.threads.setStatus")
    assert [c.args["text"] for c in fake.called("chat.postMessage")] == ["Hello"]
    assert [c.args["text"] for c in fake.called("chat.update")] == ["Hello there"]


async def test_a_private_reply_never_stays_where_others_read(fake: FakeSlack, sqlite_storage: Storage) -> None:
    clock = Clock()
    p = await progress(fake, sqlite_storage, clock, channel=GENERAL, status_thread=False)
    await p.text("Something")
    assert fake.called("chat.startStream")
    assert (await p.finish(reply(private=True), key="k")) is None  # the pipeline answers in private instead
    assert fake.called("chat.delete") and not [m for m in fake.channels[GENERAL].messages if m.get("thread_ts")]


async def test_status_names_the_thread_once_and_failures_are_swallowed(fake: FakeSlack,
                                                                       sqlite_storage: Storage) -> None:
    p = await progress(fake, sqlite_storage, Clock(), title="when does the freeze start?")
    fake.fail_next("assistant.threads.setStatus", 200, body={"ok": False, "error": "ratelimited"})
    await p.status("Searching what you can see in 12 channels…")
    await p.status("Found 3 matching messages among 12,400; writing the answer…")
    assert [c.args["title"] for c in fake.called("assistant.threads.setTitle")] == ["when does the freeze start?"]
    statuses = [c.args["status"] for c in fake.called("assistant.threads.setStatus")]
    assert statuses == ["Searching what you can see in 12 channels…",
                        "Found 3 matching messages among 12,400; writing the answer…"]
    assert short_status("x  y\n" * 100).startswith("x y x y") and short_status("x" * 400).endswith("…")
    assert await p.finish(reply(), key="k") is None  # nothing was shown: the pipeline sends the reply
