"""Posting through slack_sdk against the fake Web API: retries, pacing, long replies, digest delivery."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from adapters.slack.client import ChannelPacer, build_client
from adapters.slack.poster import Poster
from adapters.slack.surface import DELIVERY_METADATA
from bot.adapter import DeliveryTarget, PlatformUnsure
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
    ts = (await poster.post(client, team_id=TEAM, channel=GENERAL, reply=small_reply()))["ts"]
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
    ts = (await poster.post(client, team_id=TEAM, channel=GENERAL, reply=huge_reply()))["ts"]
    posts = rig.fake.called("chat.postMessage")
    assert len(posts) >= 2 and all(p.args.get("thread_ts") == ts for p in posts[1:])
    assert all(not block_kit_problems(p.args["blocks"]) for p in posts)
    [update] = rig.fake.called("chat.update")
    first_continuation = rig.fake.channels[GENERAL].messages[1]["ts"].replace(".", "")
    assert "read the rest" in str(update.args["blocks"]) and first_continuation in str(update.args["blocks"])


async def test_digest_delivery_carries_its_key_in_metadata_and_is_found_again(rig: SlackRig) -> None:
    delivery = rig.adapter.surface
    target = DeliveryTarget(platform=Platform.SLACK, tenant=TEAM, channel=GENERAL)
    assert await delivery.find_posted(target, "digest:1:2026-11-26T09:00") is None
    ts = await delivery.post(target, small_reply("the digest"), key="digest:1:2026-11-26T09:00")
    [post] = rig.fake.called("chat.postMessage")
    assert post.args["metadata"]["event_type"] == DELIVERY_METADATA
    assert await delivery.find_posted(target, "digest:1:2026-11-26T09:00") == ts
    assert await delivery.find_posted(target, "digest:1:2026-11-27T09:00") is None
    history = rig.fake.called("conversations.history")
    assert str(history[-1].args["include_all_metadata"]).lower() in ("1", "true")


async def test_a_failed_lookup_is_not_a_no(rig: SlackRig) -> None:
    """Slack answering 429 (past the retries) or an error is "can't tell", never "not posted": a second
    digest would be posted on that guess."""
    target = DeliveryTarget(platform=Platform.SLACK, tenant=TEAM, channel=GENERAL)
    for _ in range(4):
        rig.fake.fail_next("conversations.history", 429, headers={"Retry-After": "0"},
                           body={"ok": False, "error": "ratelimited"})
    with pytest.raises(PlatformUnsure):
        await rig.adapter.surface.find_posted(target, "digest:1:2026-11-26T09:00")
    rig.fake.fail_next("conversations.history", 200, body={"ok": False, "error": "internal_error"})
    with pytest.raises(PlatformUnsure):
        await rig.adapter.surface.find_posted(target, "digest:1:2026-11-26T09:00")


async def test_the_lookup_reads_past_the_newest_hundred_messages(rig: SlackRig) -> None:
    target = DeliveryTarget(platform=Platform.SLACK, tenant=TEAM, channel=GENERAL)
    ts = await rig.adapter.surface.post(target, small_reply("the digest"), key="digest:7:slot")
    client = build_client(rig.fake.api_url, BOT_TOKEN)
    poster = Poster(rig.services.storage, ChannelPacer(0))
    for i in range(250):
        await poster.post(client, team_id=TEAM, channel=GENERAL, reply=small_reply(f"later {i}"))
    assert await rig.adapter.surface.find_posted(target, "digest:7:slot") == ts


async def test_the_adapter_registers_its_surface(rig: SlackRig) -> None:
    assert rig.services.surfaces[Platform.SLACK] is rig.adapter.surface
