"""Storage behaviour, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import Database, NewMessage, Storage, tenant_key


async def test_schema_is_at_head(storage: Storage) -> None:
    assert await storage.db.current_revision() == Database.head_revision()


async def test_channels_users_and_membership(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1", "Acme")
    assert tenant == tenant_key("slack", "T1")
    await storage.workspace.upsert_channel(tenant, "C1", name="general")
    await storage.workspace.upsert_channel(tenant, "G1", name="secret", is_private=True)
    await storage.workspace.upsert_user(tenant, "U1", name="ann", display_name="Ann", tz="Europe/Berlin")
    await storage.workspace.set_members(tenant, "G1", ["U1", "U2"])
    await storage.workspace.add_member(tenant, "G1", "U3")
    await storage.workspace.remove_member(tenant, "G1", "U2")
    secret = await storage.workspace.channel(tenant, "G1")
    assert secret is not None and secret.is_private and secret.member_ids == {"U1", "U3"}
    # Upserting again keeps one row and updates the name.
    await storage.workspace.upsert_channel(tenant, "C1", name="general-renamed")
    names = [c.name for c in await storage.workspace.channels(tenant)]
    assert sorted(names) == ["general-renamed", "secret"]
    user = await storage.workspace.get_user(tenant, "U1")
    assert user is not None and user.label == "Ann" and user.tz == "Europe/Berlin"


async def test_channels_seen_by_one_person_leave_out_restricted_channels_they_are_not_in(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    other = await storage.workspace.ensure_tenant("slack", "T2")
    await storage.workspace.upsert_channel(tenant, "C1", name="general")
    await storage.workspace.upsert_channel(tenant, "G1", name="ann-and-bo", is_private=True)
    await storage.workspace.upsert_channel(tenant, "G2", name="bo-only", is_private=True)
    await storage.workspace.upsert_channel(tenant, "G3", name="here-without-ann", is_private=True)
    await storage.workspace.upsert_channel(tenant, "D1", name="dm-ann", kind="dm")
    await storage.workspace.upsert_channel(tenant, "D2", name="dm-bo", kind="dm")
    await storage.workspace.upsert_channel(other, "G9", name="elsewhere", is_private=True)
    await storage.workspace.set_members(tenant, "C1", ["U1", "U2", "U3"])
    await storage.workspace.set_members(tenant, "G1", ["U1", "U2"])
    await storage.workspace.set_members(tenant, "G2", ["U2"])
    await storage.workspace.set_members(tenant, "G3", ["U3"])
    await storage.workspace.set_members(tenant, "D1", ["U1", "B1"])
    await storage.workspace.set_members(tenant, "D2", ["U2", "B1"])
    await storage.workspace.set_members(other, "G9", ["U1"])  # the same user id in another tenant counts nothing

    seen = {c.external_id: c for c in await storage.workspace.channels_seen_by(tenant, "U1", "G3")}
    assert sorted(seen) == ["C1", "D1", "G1", "G3"]
    assert seen["C1"].member_ids == frozenset()  # an open channel's members decide nothing
    assert seen["G1"].member_ids == {"U1", "U2"} and seen["D1"].member_ids == {"U1", "B1"}
    assert seen["G3"].member_ids == {"U3"}  # where they ask: its members are who reads the answer
    assert all(not c.restricted for c in seen.values() if c.external_id == "C1")
    assert sorted(c.external_id for c in await storage.workspace.channels_seen_by(tenant, "U9")) == ["C1"]


async def test_messages_threads_edits_and_deletes(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    root = await storage.messages.upsert(tenant, NewMessage("C1", "100.1", "Deploy failed?", t0, "U1"))
    await storage.messages.upsert(tenant, NewMessage("C1", "100.2", "Rolled back.", t0 + timedelta(minutes=1), "U2",
                                                     thread_external_id="100.1"))
    # The same delivery twice must not double the reply count.
    await storage.messages.upsert(tenant, NewMessage("C1", "100.2", "Rolled back.", t0 + timedelta(minutes=1), "U2",
                                                     thread_external_id="100.1"))
    thread = await storage.messages.thread(tenant, "C1", "100.1")
    assert [m.external_id for m in thread] == ["100.1", "100.2"]
    assert thread[0].reply_count == 1 and thread[0].created_at == t0 and thread[0].created_at.tzinfo is not None
    edited = await storage.messages.edit(tenant, "C1", "100.2", "Rolled back to v2.13.")
    assert edited is not None and edited.text == "Rolled back to v2.13." and edited.edited_at is not None
    assert await storage.messages.mark_deleted(tenant, "C1", "100.2") is not None
    assert [m.external_id for m in await storage.messages.thread(tenant, "C1", "100.1")] == ["100.1"]
    assert await storage.messages.mark_deleted(tenant, "C1", "nope") is None
    window = await storage.messages.window(tenant, ["C1"], t0, t0 + timedelta(hours=1))
    assert [m.id for m in window] == [root.id]


async def test_threads_reads_several_threads_at_once_by_channel_and_root(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    other = await storage.workspace.ensure_tenant("slack", "T2")
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    for channel in ("C1", "C2"):  # the same root ts in two channels: two threads
        await storage.messages.upsert(tenant, NewMessage(channel, "100.1", f"root in {channel}", at(0), "U1"))
        await storage.messages.upsert(tenant, NewMessage(channel, "100.3", "late reply", at(3), "U2",
                                                         thread_external_id="100.1"))
        await storage.messages.upsert(tenant, NewMessage(channel, "100.2", "first reply", at(1), "U3",
                                                         thread_external_id="100.1"))
    await storage.messages.upsert(tenant, NewMessage("C1", "200.1", "alone", at(5), "U1"))
    await storage.messages.mark_deleted(tenant, "C2", "100.3")
    await storage.messages.upsert(other, NewMessage("C1", "100.4", "another tenant", at(2), "U1",
                                                    thread_external_id="100.1"))
    ids = {c.external_id: c.id for c in await storage.workspace.channels(tenant)}
    c1, c2 = ids["C1"], ids["C2"]
    elsewhere = next(c.id for c in await storage.workspace.channels(other))
    keys = [(c1, "100.1"), (c2, "100.1"), (c1, "200.1"), (c1, "999.9"), (elsewhere, "100.1")]
    found = await storage.messages.threads(tenant, [*keys, (c1, "100.1")])
    assert list(found) == keys  # asked order, each once, missing ones empty
    assert [m.external_id for m in found[(c1, "100.1")]] == ["100.1", "100.2", "100.3"]  # oldest first
    assert [m.external_id for m in found[(c2, "100.1")]] == ["100.1", "100.2"]  # deleted reply left out
    assert [m.text for m in found[(c1, "200.1")]] == ["alone"]
    assert found[(c1, "999.9")] == []
    assert found[(elsewhere, "100.1")] == []  # another tenant's channel is never read
    for channel, root in keys[:4]:  # the same as one thread at a time
        external = "C1" if channel == c1 else "C2"
        assert found[(channel, root)] == await storage.messages.thread(tenant, external, root)
    assert await storage.messages.threads(tenant, []) == {}


async def test_bulk_insert_is_idempotent_and_unicode_safe(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    long_text = "🚀 ünïcödé <script>alert(1)</script> " * 300
    items = [NewMessage("C1", f"{i}.0", long_text if i == 0 else f"message {i}", t0 + timedelta(seconds=i), "U1")
             for i in range(1200)]
    assert await storage.messages.bulk_insert(tenant, items) == 1200
    assert await storage.messages.bulk_insert(tenant, items) == 0
    assert await storage.messages.count(tenant) == 1200
    first = await storage.messages.find(tenant, "C1", "0.0")
    assert first is not None and first.text == long_text
    batches = [len(b) async for b in storage.messages.stream(tenant, batch=500)]
    assert batches == [500, 500, 200]


async def test_decisions_and_feedback(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("teams", "tid")
    now = datetime.now(UTC)
    await storage.decisions.save(decision_id="d_1", tenant_id=tenant, channel_external_id="C1",
                                 user_external_id="U1", private=False, skill="ask", rationale={"skill": "ask"},
                                 reply={"title": "x"}, created_at=now)
    record = await storage.decisions.get("d_1")
    assert record is not None and record.rationale == {"skill": "ask"} and record.tenant_id == tenant
    await storage.decisions.set_posted_ref("d_1", {"ts": "1.2"})
    await storage.decisions.record_feedback("d_1", "U1", True)
    await storage.decisions.record_feedback("d_1", "U1", False)  # a changed vote, not a second one
    await storage.decisions.record_feedback("d_1", "U2", True, item_id="thread:1")
    assert await storage.decisions.feedback("d_1") == [("U1", "", False), ("U2", "thread:1", True)]
    assert (await storage.decisions.get("d_1")).posted_ref == {"ts": "1.2"}  # type: ignore[union-attr]
    await storage.decisions.record_feedback("d_1", "U2", False, item_id="thread:1", comment="stale thread")
    assert await storage.decisions.feedback("d_1") == [("U1", "", False), ("U2", "thread:1", False)]


async def test_a_decision_is_found_by_the_message_it_was_posted_as(storage: Storage) -> None:
    """Teams' feedback loop names the bot's message, not our decision: the posted ref maps it back, within
    its tenant and channel only."""
    tenant = await storage.workspace.ensure_tenant("teams", "tid")
    other = await storage.workspace.ensure_tenant("teams", "other")
    now = datetime.now(UTC)
    for decision, owner, channel in (("d_a", tenant, "19:c"), ("d_b", tenant, "a:dm"), ("d_x", other, "19:c")):
        await storage.decisions.save(decision_id=decision, tenant_id=owner, channel_external_id=channel,
                                     user_external_id="U1", private=False, skill="ask", rationale={},
                                     reply={}, created_at=now)
    await storage.decisions.set_posted_ref("d_a", {"platform": "teams", "activity_id": "bot-1"})
    await storage.decisions.set_posted_ref("d_b", {"platform": "teams", "activity_id": "bot-2"})
    await storage.decisions.set_posted_ref("d_x", {"platform": "teams", "activity_id": "bot-1"})
    assert await storage.decisions.posted_as(tenant, "19:c", "bot-1") == "d_a"
    assert await storage.decisions.posted_as(other, "19:c", "bot-1") == "d_x"
    assert await storage.decisions.posted_as(tenant, "a:dm", "bot-2") == "d_b"
    assert await storage.decisions.posted_as(tenant, "19:c", "bot-2") is None  # another channel's message
    assert await storage.decisions.posted_as(tenant, "19:c", "") is None
    assert await storage.decisions.posted_as(tenant, "19:c", "nope") is None


async def test_subscriptions_and_references(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    sub = await storage.subscriptions.subscribe(tenant_id=tenant, platform="slack", channel_external_id="C1",
                                                cron="0 9 * * *", tz="Europe/Berlin", description="daily",
                                                top_n=5, created_by="U1")
    again = await storage.subscriptions.subscribe(tenant_id=tenant, platform="slack", channel_external_id="C1",
                                                  cron="0 8 * * 1", tz="UTC", description="weekly", top_n=3,
                                                  created_by="U2")
    assert again.id == sub.id and again.cron == "0 8 * * 1"
    assert [s.id for s in await storage.subscriptions.active()] == [sub.id]
    assert await storage.subscriptions.deactivate(tenant, "C1") is True
    assert await storage.subscriptions.deactivate(tenant, "C1") is False
    assert await storage.subscriptions.active() == []
    await storage.subscriptions.save_reference(tenant, "C1", {"conversation": {"id": "C1"}})
    await storage.subscriptions.save_reference(tenant, "C1", {"conversation": {"id": "C1", "v": 2}})
    assert await storage.subscriptions.reference(tenant, "C1") == {"conversation": {"id": "C1", "v": 2}}


async def test_deleting_a_tenant_removes_its_data(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T9")
    other = await storage.workspace.ensure_tenant("slack", "T8")
    now = datetime.now(UTC)
    await storage.messages.upsert(tenant, NewMessage("C1", "1.0", "hello", now, "U1"))
    await storage.messages.upsert(other, NewMessage("C1", "1.0", "hello", now, "U1"))
    await storage.workspace.delete_tenant(tenant)
    assert await storage.messages.count(tenant) == 0
    assert await storage.messages.count(other) == 1
    assert not await storage.workspace.tenant_exists(tenant)


async def test_changes_reads_new_then_edited_messages_in_id_order_up_to_the_limit(storage: Storage) -> None:
    """The in-process index's catch-up read: new messages after an id and messages edited since a time, one row
    each (a message both new and edited once), lowest ids first, at most `limit` (the rest on the next read)."""
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    old = [await storage.messages.upsert(tenant, NewMessage("C1", f"1.{i}", f"old {i}", t0, "U1")) for i in range(3)]
    new = [await storage.messages.upsert(tenant, NewMessage("C1", f"2.{i}", f"new {i}", t0, "U1")) for i in range(3)]
    since = datetime.now(UTC) - timedelta(seconds=1)
    await storage.messages.edit(tenant, "C1", "1.1", "old 1, edited", datetime.now(UTC))
    await storage.messages.edit(tenant, "C1", "2.0", "new 0, edited", datetime.now(UTC))
    after = old[-1].id
    rows = await storage.messages.changes(tenant, after_id=after, edited_since=since)
    assert [r[0] for r in rows] == [old[1].id, *(m.id for m in new)]
    assert rows[1][2] == "new 0, edited"  # the edited text, once
    first = await storage.messages.changes(tenant, after_id=after, edited_since=since, limit=2)
    assert [r[0] for r in first] == [old[1].id, new[0].id]
    assert await storage.messages.changes(tenant, after_id=new[-1].id, edited_since=datetime.now(UTC)) == []
