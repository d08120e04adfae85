"""Posting through slack_sdk against the fake Web API: retries, pacing, long replies, digest delivery."""

from __future__ import annotations

import asyncio
import itertools
import time

from adapters.slack.client import ChannelPacer, build_client
from adapters.slack.delivery import METADATA_EVENT, SlackDelivery
from adapters.slack.oauth import TokenSource
from adapters.slack.poster import Poster
from bot.adapter import DeliveryTarget
from bot.models import Platform, Reply
from tests.adapters.slack.conftest import GENERAL, SECRET, SlackRig
from tests.adapters.slack.test_render import huge_reply, rationale
from tests.peers.slack import BOT_TOKEN, TEAM, block_kit_problems


def small_reply(text: str = "hello") -> Reply:
    return Reply(title="Hi", body=text, rationale=rationale())


async def test_429_and_5xx_are_retried_by_slack_sdk(rig: SlackRig) -> None:
    client = build_client(rig.fake.api_url, BOT_TOKEN)
    poster = Poster(rig.services.storage, ChannelPacer(0))
    rig.fake.fail_next("chat.postMessage", 429, headers={"Retry-After": "1"},
                       body={"ok": False, "error": "ratelimited"})
    rig.fake.fail_next("chat.postMessage", 503, body={"ok": False, "error": "service_unavailable"})
    ts = await poster.post(client, team_id=TEAM, channel=GENERAL, reply=small_reply())
    calls = rig.fake.called("chat.postMessage")
    assert len(calls) == 3 and ts == rig.fake.channels[GENERAL].messages[-1]["ts"]
    assert calls[1].at - calls[0].at >= 0.95, "waited for Retry-After"
    assert len(rig.fake.channels[GENERAL].messages) == 1, "posted once"


async def test_posts_to_one_channel_are_paced_to_one_a_second(rig: SlackRig) -> None:
    client = build_client(rig.fake.api_url, BOT_TOKEN)
    poster = Poster(rig.services.storage, ChannelPacer(1.0))
    started = time.monotonic()
    await asyncio.gather(*[poster.post(client, team_id=TEAM, channel=GENERAL, reply=small_reply(str(i)))
                           for i in range(3)],
                         poster.post(client, team_id=TEAM, channel=SECRET, reply=small_reply("other")))
    general = [c.at for c in rig.fake.called("chat.postMessage") if c.args["channel"] == GENERAL]
    other = [c.at for c in rig.fake.called("chat.postMessage") if c.args["channel"] == SECRET]
    gaps = [b - a for a, b in itertools.pairwise(general)]
    assert len(general) == 3 and all(g >= 0.95 for g in gaps), gaps
    assert other[0] - started < 0.5, "another channel does not wait"


async def test_a_reply_too_long_for_one_message_continues_in_the_thread_with_a_link(rig: SlackRig) -> None:
    client = build_client(rig.fake.api_url, BOT_TOKEN)
    poster = Poster(rig.services.storage, ChannelPacer(0))
    ts = await poster.post(client, team_id=TEAM, channel=GENERAL, reply=huge_reply())
    posts = rig.fake.called("chat.postMessage")
    assert len(posts) >= 2 and all(p.args.get("thread_ts") == ts for p in posts[1:])
    assert all(not block_kit_problems(p.args["blocks"]) for p in posts)
    [update] = rig.fake.called("chat.update")
    first_continuation = rig.fake.channels[GENERAL].messages[1]["ts"].replace(".", "")
    assert "read the rest" in str(update.args["blocks"]) and first_continuation in str(update.args["blocks"])


async def test_digest_delivery_carries_its_key_in_metadata_and_is_found_again(rig: SlackRig) -> None:
    poster = Poster(rig.services.storage, ChannelPacer(0))
    delivery = SlackDelivery(rig.fake.api_url, poster, TokenSource(bot_token=BOT_TOKEN))
    target = DeliveryTarget(platform=Platform.SLACK, tenant=TEAM, channel=GENERAL)
    assert await delivery.find_posted(target, "digest:1:2026-11-26T09:00") is None
    ts = await delivery.post(target, small_reply("the digest"), key="digest:1:2026-11-26T09:00")
    [post] = rig.fake.called("chat.postMessage")
    assert post.args["metadata"]["event_type"] == METADATA_EVENT
    assert await delivery.find_posted(target, "digest:1:2026-11-26T09:00") == ts
    assert await delivery.find_posted(target, "digest:1:2026-11-27T09:00") is None
    history = rig.fake.called("conversations.history")
    assert str(history[-1].args["include_all_metadata"]).lower() in ("1", "true")


async def test_the_adapter_registers_its_delivery(rig: SlackRig) -> None:
    assert rig.services.deliveries[Platform.SLACK] is rig.adapter.delivery
