"""The playground over real HTTP on loopback: pages, the bot, Why?, feedback and bad input."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.playground import create_adapter
from bot.app import create_app
from bot.services import Services

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def base(demo: Services, serve: Serve) -> str:
    return await serve(create_app(demo, factories={"playground": create_adapter}))


async def _post(base: str, path: str, payload: Any, **headers: str) -> tuple[int, dict[str, Any]]:
    """A POST as the playground page makes it: JSON, with its own Origin (unless `headers` say otherwise)."""
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = ({"data": payload, "headers": {"Content-Type": "application/json"}}
                                  if isinstance(payload, str | bytes) else {"json": payload})
        kwargs["headers"] = {**kwargs.get("headers", {}), "Origin": base, **headers}
        async with http.post(base + path, **kwargs) as response:
            return response.status, await response.json()


async def _get(base: str, path: str) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(base + path) as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body, dict(response.headers)


async def test_page_health_and_metrics(base: str) -> None:
    status, page, headers = await _get(base, "/")
    assert status == 200 and "whybot playground" in page and "script-src 'self'" in headers["Content-Security-Policy"]
    status, script, _ = await _get(base, "/static/app.js")
    assert status == 200 and "toggleWhy" in script
    status, health, _ = await _get(base, "/healthz")
    assert status == 200 and health["status"] == "ok" and health["adapters"] == ["playground"]
    status, metrics, _ = await _get(base, "/metrics")
    assert status == 200 and "whybot_replies_total" in metrics


async def test_channels_follow_membership(base: str) -> None:
    _, state, _ = await _get(base, "/api/playground/state?user=frank")
    assert "leadership" not in [c["id"] for c in state["channels"]]
    _, state, _ = await _get(base, "/api/playground/state?user=alice")
    assert "leadership" in [c["id"] for c in state["channels"]]
    status, body, _ = await _get(base, "/api/playground/channels/leadership/messages?user=frank")
    assert status == 404 and "private" in body["error"]


async def test_mention_reply_why_and_feedback(base: str) -> None:
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "engineering", "user": "frank", "text": "@whybot when does the release freeze start?"})
    assert status == 200
    reply = body["reply"]
    assert reply["is_bot"] and reply["thread_id"] == body["message"]["id"], "a mention is answered in its thread"
    assert "Thursday at 18:00 UTC" in reply["reply_html"] and ">Why?</button>" in reply["reply_html"]
    decision = reply["decision_id"]
    status, why = await _post(base, "/api/playground/why", {"decision_id": decision, "user": "erin",
                                                            "channel": "engineering"})
    assert status == 200 and "Where I looked" in why["html"] and "What I found" in why["html"]
    assert decision in why["html"]  # in the closed "Details for admins"
    status, fb = await _post(base, "/api/playground/feedback", {"decision_id": decision, "user": "erin",
                                                                "channel": "engineering", "helpful": True})
    assert status == 200 and fb == {"ok": True}
    _, listing, _ = await _get(base, "/api/playground/channels/engineering/messages?user=frank")
    assert any(m.get("decision_id") == decision for m in listing["messages"]), "the reply was not kept"


async def test_a_follow_up_in_the_thread_continues_it_and_why_says_so(base: str) -> None:
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "engineering", "user": "frank", "text": "@whybot when does the release freeze start?"})
    assert status == 200
    thread = body["reply"]["thread_id"]
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "engineering", "user": "erin", "text": "@whybot and who said that?", "thread_id": thread})
    assert status == 200
    reply = body["reply"]
    assert reply["thread_id"] == thread and "Thursday at 18:00 UTC" in reply["reply_html"], \
        "answered from the message the first answer cited"
    status, why = await _post(base, "/api/playground/why", {"decision_id": reply["decision_id"], "user": "erin",
                                                            "channel": "engineering"})
    assert status == 200
    assert "Continues:</strong> when does the release freeze start? → searched as: and who said that?" in why["html"]
    assert "preferring the thread my earlier answer cited" in why["html"]


async def test_why_on_unknown_or_private_decisions_leaks_nothing(base: str) -> None:
    status, body = await _post(base, "/api/playground/why", {"decision_id": "d_nope", "user": "frank",
                                                             "channel": "engineering"})
    assert status == 404 and body["error"] == "This explanation is not available."
    _, secret = await _post(base, "/api/playground/messages", {
        "channel": "leadership", "user": "alice", "text": "/whybot ask what is the reorg plan?"})
    decision = secret["reply"]["decision_id"]
    status, body = await _post(base, "/api/playground/why", {"decision_id": decision, "user": "frank",
                                                             "channel": "engineering"})
    assert status == 404 and "reorg" not in str(body)


async def test_slash_command_is_answered_and_not_stored_as_history(base: str) -> None:
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "incidents", "user": "bob", "text": "/whybot summarize last 48h"})
    assert status == 200 and body["message"] is None and "#incidents" in body["reply"]["reply_html"]


@pytest.mark.parametrize(("payload", "error"), [
    ("not json", "the body must be JSON"),
    ({"channel": "engineering", "user": "frank"}, "text"),
    ({"channel": "engineering", "user": "frank", "text": "   "}, "type a message first"),
    ({"channel": "engineering", "user": "frank", "text": "x" * 40_001}, "text"),
    ({"channel": "engineering", "user": "nobody", "text": "hi"}, "unknown person"),
    ({"channel": ["a"], "user": "frank", "text": "hi"}, "channel"),
])
async def test_bad_input_is_a_clear_400(base: str, payload: Any, error: str) -> None:
    status, body = await _post(base, "/api/playground/messages", payload)
    assert status == 400 and error in body["error"]


async def test_html_in_messages_is_escaped_everywhere(base: str) -> None:
    nasty = "Deploy note <script>alert('x')</script> <img src=x onerror=alert(1)> about zebrafish"
    status, _ = await _post(base, "/api/playground/messages", {"channel": "random", "user": "erin", "text": nasty})
    assert status == 200
    _, body = await _post(base, "/api/playground/messages", {
        "channel": "random", "user": "frank", "text": "@whybot anything about zebrafish?"})
    html = body["reply"]["reply_html"]
    assert "zebrafish" in html and "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    big = "🚀 ünïcødé " * 1000
    status, body = await _post(base, "/api/playground/messages", {"channel": "random", "user": "dan", "text": big})
    assert status == 200 and body["message"]["text"] == big


async def _leadership_decision(base: str) -> str:
    _, secret = await _post(base, "/api/playground/messages", {
        "channel": "leadership", "user": "alice", "text": "/whybot ask what is the reorg plan?"})
    return str(secret["reply"]["decision_id"])


async def test_why_and_feedback_ignore_the_channel_named_in_the_body(base: str, demo: Services) -> None:
    """frank is not in #leadership: naming it in the body used to satisfy the same-channel check."""
    decision = await _leadership_decision(base)
    status, body = await _post(base, "/api/playground/why", {"decision_id": decision, "user": "frank",
                                                             "channel": "leadership"})
    assert status == 404 and "reorg" not in str(body)
    status, body = await _post(base, "/api/playground/feedback", {"decision_id": decision, "user": "frank",
                                                                  "channel": "leadership", "helpful": False})
    assert status == 404
    assert await demo.storage.decisions.feedback(decision) == [], "no feedback was recorded from a non-member"
    status, body = await _post(base, "/api/playground/why", {"decision_id": decision, "user": "alice",
                                                             "channel": "random"})
    assert status == 200, "a member may open it whatever channel the page names"
    status, _ = await _post(base, "/api/playground/why", {"decision_id": decision, "user": "nobody"})
    assert status == 404


async def test_cross_site_and_non_json_posts_are_refused(base: str) -> None:
    payload = '{"channel": "engineering", "user": "frank", "text": "/whybot digest daily 09:00"}'
    for headers in [{"Origin": "https://evil.example", "Content-Type": "text/plain"},
                    {"Origin": "https://evil.example", "Content-Type": "application/json"},
                    {"Origin": "null", "Content-Type": "application/json"},
                    {"Origin": base, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}]:
        async with aiohttp.ClientSession() as http, \
                http.post(base + "/api/playground/messages", data=payload, headers=headers) as response:
            assert response.status == 403, headers
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/api/playground/messages", data=payload,
                             headers={"Content-Type": "text/plain"}) as response:
            assert response.status == 403, "no Origin and no Sec-Fetch-Site: not the page"
        async with http.post(base + "/api/playground/messages", data=payload,
                             headers={"Origin": base, "Content-Type": "text/plain"}) as response:
            assert response.status == 415
        async with http.post(base + "/api/playground/messages", data=payload, headers={
                "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}) as response:
            assert response.status == 200, "the page's own fetch"


async def test_foreign_host_names_are_refused(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    async with aiohttp.ClientSession() as http:
        for host in ["evil.example", f"evil.example:{port}", f"rebind.attacker.test:{port}", "", "[::2]:1"]:
            async with http.get(base + "/api/playground/state?user=alice", headers={"Host": host}) as response:
                assert response.status == 421, host
            async with http.get(base + "/", headers={"Host": host}) as response:
                assert response.status == 421, host
        for host in [f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"]:
            async with http.get(base + "/api/playground/state?user=alice", headers={"Host": host}) as response:
                assert response.status == 200, host
        async with http.get(base + "/healthz", headers={"Host": "evil.example"}) as response:
            assert response.status == 200, "health and metrics are not the playground's"


async def test_configured_host_names_are_accepted(demo: Services, serve: Serve) -> None:
    settings = demo.settings.model_copy(update={"playground_hosts": "whybot.internal, [fd00::1]"})
    services = dataclasses.replace(demo, settings=settings)
    base = await serve(create_app(services, factories={"playground": create_adapter}))
    async with aiohttp.ClientSession() as http:
        for host, status in [("whybot.internal:80", 200), ("[fd00::1]:3978", 200), ("evil.example", 421)]:
            async with http.get(base + "/api/playground/state", headers={"Host": host}) as response:
                assert response.status == status, host


async def test_a_playground_bound_off_loopback_is_logged_loudly(demo: Services, serve: Serve,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    settings = demo.settings.model_copy(update={"host": "0.0.0.0"})
    services = dataclasses.replace(demo, settings=settings)
    with caplog.at_level(logging.ERROR, logger="adapters.playground.adapter"):
        await serve(create_app(services, factories={"playground": create_adapter}))
    assert any("PLAYGROUND" in r.getMessage() and "0.0.0.0" in r.getMessage() for r in caplog.records)


async def test_deeply_nested_bodies_are_400(base: str) -> None:
    for path in ["/api/playground/messages", "/api/playground/why", "/api/playground/feedback"]:
        status, body = await _post(base, path, "[" * 100_000 + "]" * 100_000)
        assert status == 400 and "JSON" in body["error"], path


async def test_a_thread_reply_continues_the_conversation(base: str) -> None:
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "engineering", "user": "frank", "text": "@whybot when does the release freeze start?"})
    assert status == 200
    thread = body["reply"]["thread_id"]
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "engineering", "user": "frank", "text": "@whybot and who said that?", "thread_id": thread})
    assert status == 200
    reply = body["reply"]
    assert reply["thread_id"] == thread
    status, why = await _post(base, "/api/playground/why", {"decision_id": reply["decision_id"], "user": "frank",
                                                            "channel": "engineering"})
    assert status == 200 and "Continues:" in why["html"] and "searched as:" in why["html"]
    assert "release freeze" in why["html"]


# What each of the page's example buttons must show (keyed by its label: a new example needs a line here).
EXAMPLE_SHOWS: dict[str, tuple[list[str], list[str]]] = {
    # label: (in the reply, never in the reply)
    "Ask a question": (["Thursday at 18:00 UTC", ">Why?</button>"], []),
    "Ask it in other words": (["Thursday at 18:00 UTC"], ["find this"]),
    "Follow up in the thread": (["Carol Diaz"], ["find this"]),
    "Who decided?": (["Alice Chen", "decided"], []),
    "Who knows?": (["Bob Okafor"], []),
    "Summarize a channel": (["#incidents, last 24h", "checkout API"], []),
    "Today's digest": (["Digest for #engineering", "release freeze"], []),
    "An honest “not found”": (["find this"], []),
    "Private channel, as a non-member": (["find this"], ["director", "leadership", "reorg plan merges"]),
    "Private channel, as a member": (["director"], []),
    "In your DM with whybot": (["95–115k EUR"], []),
}


async def test_every_example_button_is_answered_by_the_demo(base: str) -> None:
    """The playground's example buttons ask what the demo can answer (and show the privacy rule)."""
    _, state, _ = await _get(base, "/api/playground/state?user=alice")
    examples = state["examples"]
    assert [e["label"] for e in examples] == list(EXAMPLE_SHOWS)
    threads: dict[str, str] = {}
    for example in examples:
        user = example["user"] or "frank"
        payload = {"channel": example["channel"], "user": user, "text": example["text"],
                   "thread_id": threads.get(example["channel"]) if example["in_thread"] else None}
        status, body = await _post(base, "/api/playground/messages", payload)
        assert status == 200, (example, body)
        html = body["reply"]["reply_html"]
        shows, hides = EXAMPLE_SHOWS[example["label"]]
        assert all(s in html for s in shows), (example["label"], html)
        assert not any(h in html for h in hides), (example["label"], html)
        if example["in_thread"]:
            assert body["reply"]["thread_id"] == payload["thread_id"], "a follow-up is answered in its thread"
        threads[example["channel"]] = body["reply"]["thread_id"]


async def test_people_roles_and_direct_messages_in_the_state(base: str) -> None:
    _, state, _ = await _get(base, "/api/playground/state?user=frank")
    assert {"id": "frank", "name": "Frank Moreau", "role": "New backend engineer"} in state["users"]
    dms = {c["id"]: c["name"] for c in state["channels"] if c["kind"] == "dm"}
    assert dms == {"dm-frank-whybot": "whybot", "dm-bob-frank": "Bob Okafor", "dm-alice-frank": "Alice Chen"}
    status, _, _ = await _get(base, "/api/playground/channels/dm-alice-carol/messages?user=frank")
    assert status == 404, "someone else's direct message"
    # In a DM with whybot every message is a question; in a DM between people it is only history.
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "dm-frank-whybot", "user": "frank", "text": "how do I get access to the staging environment?"})
    assert status == 200 and "access form" in body["reply"]["reply_html"]
    status, body = await _post(base, "/api/playground/messages", {
        "channel": "dm-bob-frank", "user": "frank", "text": "thanks for the help with staging!"})
    assert status == 200 and body["reply"] is None
