"""App Home: app_home_opened and every click there become inbox turns; the worker publishes a `home` view
through the fake Web API's views.publish (which refuses views that break Block Kit's limits). A person sees
their digests (and changes them there), their recent questions with Why?, and an admin the knowledge gaps
and engagement, counted only over what that admin may see."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from adapters.slack import home, render
from bot.engagement import Engagement, WeekStats
from bot.gaps import Gap, GapTopic, KnowledgeGaps
from bot.home import AdminHome, Home, HomeSubscription, RecentQuestion, schedule_choices
from bot.home_rules import MAX_RULES, HomeRule
from bot.rules import AnswerMode
from storage import tenant_key
from tests.adapters.slack.conftest import ALICE, BOB, CAROL, GENERAL, SECRET, SlackRig, eventually
from tests.conftest import settled
from tests.peers.slack import TEAM, action_form, view_problems

TENANT = tenant_key("slack", TEAM)
Blocks = list[dict[str, Any]]


def texts(blocks: Blocks) -> str:
    """Everything a person reads in the blocks, as one string."""
    out: list[str] = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            out.append(e.get("text", "") if isinstance(e.get("text"), str) else e.get("text", {}).get("text", ""))
    return "\n".join(out)


def headers(blocks: Blocks) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "header"]


def action(blocks: Blocks, action_id: str) -> list[dict[str, Any]]:
    found = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id]
    return found + [b["accessory"] for b in blocks if b.get("accessory", {}).get("action_id") == action_id]


async def open_home(rig: SlackRig, user: str, *, tab: str = "home", count: int = 1) -> Blocks:
    """Open the tab as Slack does (with the view it last showed, if any); returns the published blocks."""
    event: dict[str, Any] = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab,
                             "event_ts": rig.fake.next_ts()}
    if user in rig.fake.home_views:
        event["view"] = rig.fake.home_views[user]
    response = await rig.event(event)
    assert response.status == 200
    return await published(rig, user, count)


def publishes(rig: SlackRig, user: str) -> list[dict[str, Any]]:
    return [c.args for c in rig.fake.called("views.publish") if c.args.get("user_id") == user]


async def published(rig: SlackRig, user: str, count: int) -> Blocks:
    """The `count`-th view published for `user`, once Slack has it."""
    await rig.fake.wait_for(lambda: len(publishes(rig, user)) >= count)
    view = publishes(rig, user)[count - 1]["view"]
    assert view["type"] == "home" and rig.fake.home_views[user]["blocks"] == view["blocks"], "Slack accepted it"
    blocks: Blocks = view["blocks"]
    return blocks


async def home_click(rig: SlackRig, user: str, element: dict[str, Any], *, count: int,
                     selected: str | None = None) -> Blocks:
    """A click in the Home tab, in the block_actions shape Slack sends for views; returns the next view."""
    view = rig.fake.home_views[user]
    act: dict[str, Any] = {"type": element["type"], "action_id": element["action_id"], "block_id": "b",
                           "action_ts": "1.0"}
    if element["type"] == "button":
        act |= {"value": element["value"], "text": element["text"]}
    elif element["type"] in ("static_select", "overflow"):
        act["selected_option"] = next(o for o in element["options"] if o["value"] == selected)
    elif element["type"] == "conversations_select":
        act["selected_conversation"] = selected
    payload = {"type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM},
               "api_app_id": "A0FAKE", "token": "legacy", "container": {"type": "view", "view_id": view["id"]},
               "trigger_id": f"trig.{rig.next_id()}", "team": {"id": TEAM, "domain": "fake"}, "view": view,
               "actions": [act]}
    response = await rig.send(action_form(payload), content_type="application/x-www-form-urlencoded")
    assert response.status == 200
    return await published(rig, user, count)


async def ask(rig: SlackRig, channel: str, user: str, text: str, posts: int) -> str:
    """Mention whybot; returns the decision id of its answer (the `posts`-th message it posted)."""
    assert (await rig.mention(channel, user, text)).status == 200
    calls = await rig.fake.wait_calls("chat.postMessage", posts)
    why = [e for b in calls[posts - 1].args["blocks"] if b["type"] == "actions" for e in b["elements"]
           if e["action_id"] == render.WHY]
    return str(why[0]["value"])


async def seed_questions(rig: SlackRig) -> dict[str, str]:
    """Two declined VPN questions and an answered one that got 👎 in #general; a declined one in the
    private #secret-plans (Alice and the bot only)."""
    await rig.message(GENERAL, BOB, "The release freeze starts on Friday at noon; no deploys after that.")
    ids = {"vpn_password": await ask(rig, GENERAL, BOB, "what is the vpn password?", 1),
           "vpn_token": await ask(rig, GENERAL, ALICE, "how do I reset my vpn token?", 2),
           "freeze": await ask(rig, GENERAL, CAROL, "when does the release freeze start?", 3),
           "secret": await ask(rig, SECRET, ALICE, "what is the acquisition budget codename?", 4)}
    general_ts = rig.fake.channels[GENERAL].messages[-1]["ts"]
    await rig.click(render.UNHELPFUL, render.encode_value(ids["freeze"]), user=ALICE, message_ts=general_ts,
                    hook="down")
    await rig.click(render.HELPFUL, render.encode_value(ids["freeze"]), user=BOB, message_ts=general_ts, hook="up")
    await eventually(lambda: _votes(rig, ids["freeze"]), 2)
    return ids


async def _votes(rig: SlackRig, decision_id: str) -> int:
    return len(await rig.services.storage.decisions.feedback(decision_id))


def make_admin(rig: SlackRig, user: str) -> None:
    rig.fake.users[user]["is_admin"] = True


async def test_a_person_sees_their_digests_and_questions_but_no_admin_sections(rig: SlackRig) -> None:
    ids = await seed_questions(rig)
    assert (await rig.command("digest daily 09:00", user=BOB)).status == 200
    await eventually(lambda: _active(rig), [GENERAL])

    blocks = await open_home(rig, BOB)
    assert headers(blocks) == ["whybot", "Your digests", "Your recent questions", "Channel rules"]
    shown = texts(blocks)
    assert "*#general* · top 5 threads daily at 09:00 (America/New_York)" in shown
    [schedule] = action(blocks, home.HOME_SCHEDULE)
    assert schedule["initial_option"]["text"]["text"] == "Daily at 09:00"
    assert action(blocks, home.HOME_OFF)[0]["value"] == GENERAL
    assert action(blocks, home.HOME_ADD)[0]["filter"]["include"] == ["public", "private"]
    assert "“what is the vpn password?”\n_I couldn't answer · #general" in shown
    assert [b["value"] for b in action(blocks, home.HOME_WHY)] == [ids["vpn_password"]], "only Bob's own question"
    assert "vpn token" not in shown and "acquisition" not in shown and "Knowledge gaps" not in shown

    await open_home(rig, BOB, tab="messages", count=1)  # the Messages tab draws nothing
    assert len(rig.fake.called("views.publish")) == 1


async def _active(rig: SlackRig) -> list[str]:
    return [s.channel_external_id for s in await rig.services.storage.subscriptions.active()]


async def test_an_admin_sees_gaps_grouped_by_topic_and_engagement_counted_over_what_they_may_see(
        rig: SlackRig) -> None:
    ids = await seed_questions(rig)
    make_admin(rig, CAROL)
    general_ts = rig.fake.channels[GENERAL].messages[-1]["ts"]
    await rig.click(render.WHY, ids["freeze"], user=CAROL, message_ts=general_ts, hook="why")
    await rig.fake.wait_calls("chat.update")

    blocks = await open_home(rig, CAROL)
    assert headers(blocks) == ["whybot", "Your digests", "Your recent questions", "Channel rules",
                               "Knowledge gaps · last 7 days", "Engagement"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    topics = [t for t in sections if "· 2 questions\n" in t or "· 1 question\n" in t]
    assert len(topics) == 2, topics
    vpn = next(t for t in topics if t.startswith("*vpn"))
    assert "· 2 questions" in vpn and "“what is the vpn password?” — #general, declined" in vpn
    assert "“how do I reset my vpn token?” — #general, declined" in vpn
    freeze = next(t for t in topics if "release" in t.split("\n")[0])
    assert "“when does the release freeze start?” — #general, 👎" in freeze
    shown = texts(blocks)
    assert "acquisition" not in shown and "secret-plans" not in shown, "Carol is not in #secret-plans"
    table = next(b["text"]["text"] for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("```"))
    this_week = table.split("\n")[1].split()
    # week-of (two words), asked 3, answered 1, declined 2, helpful "50% of 2", why? 1, digest 0
    assert this_week[2:] == ["3", "1", "2", "50%", "of", "2", "1", "0"], table

    make_admin(rig, ALICE)
    alice = texts(await open_home(rig, ALICE))
    assert "“what is the acquisition budget codename?” — #secret-plans, declined" in alice, "Alice is a member"


async def test_a_non_admin_s_click_never_draws_admin_sections(rig: SlackRig) -> None:
    await seed_questions(rig)
    blocks = await open_home(rig, BOB)
    why = action(blocks, home.HOME_WHY)[0]
    again = await home_click(rig, BOB, why, count=2)
    assert "Knowledge gaps" not in texts(again) and "Engagement" not in headers(again)


async def test_why_opens_in_the_home_and_is_counted(rig: SlackRig) -> None:
    ids = await seed_questions(rig)
    blocks = await open_home(rig, CAROL)
    opened = await home_click(rig, CAROL, action(blocks, home.HOME_WHY)[0], count=2)
    shown = texts(opened)
    assert "*Why this answer*" in shown and "*Answer*" in shown
    assert [b["value"] for b in action(opened, home.HOME_HIDE)] == [ids["freeze"]]
    assert await rig.services.storage.engagement.opens(ids["freeze"]) == [(CAROL, False)]
    folded = await home_click(rig, CAROL, action(opened, home.HOME_HIDE)[0], count=3)
    assert "Why this answer" not in texts(folded) and action(folded, home.HOME_WHY)
    assert len(await rig.services.storage.engagement.opens(ids["freeze"])) == 1, "hiding is not opening"


async def test_digests_are_added_changed_and_turned_off_from_home(rig: SlackRig) -> None:
    blocks = await open_home(rig, BOB)
    assert "You have not set up a digest" in texts(blocks)

    added = await home_click(rig, BOB, action(blocks, home.HOME_ADD)[0], count=2, selected=GENERAL)
    [sub] = await rig.services.storage.subscriptions.set_up_by(TENANT, BOB)
    assert (sub.channel_external_id, sub.cron, sub.tz, sub.top_n) == (GENERAL, "0 9 * * *", "America/New_York", 5)
    assert "#general will get its top 5 threads daily at 09:00 (America/New_York)." in texts(added)

    [schedule] = action(added, home.HOME_SCHEDULE)
    weekly = home.schedule_value(GENERAL, "weekly mon 09:00")
    changed = await home_click(rig, BOB, schedule, count=3, selected=weekly)
    [sub] = await rig.services.storage.subscriptions.set_up_by(TENANT, BOB)
    assert (sub.cron, sub.description, sub.tz) == ("0 9 * * 1", "weekly on Mon at 09:00", "America/New_York")
    assert action(changed, home.HOME_SCHEDULE)[0]["initial_option"]["value"] == weekly

    off = await home_click(rig, BOB, action(changed, home.HOME_OFF)[0], count=4)
    assert await rig.services.storage.subscriptions.set_up_by(TENANT, BOB) == []
    assert await _active(rig) == []
    assert "Digests for #general are off." in texts(off) and not action(off, home.HOME_OFF)


async def test_a_digest_for_a_channel_the_person_cannot_see_is_refused_without_saying_it_exists(
        rig: SlackRig) -> None:
    await rig.message(SECRET, ALICE, "Budget review on Thursday.", channel_type="group")  # whybot knows it
    blocks = await open_home(rig, BOB)
    refused = await home_click(rig, BOB, action(blocks, home.HOME_ADD)[0], count=2, selected=SECRET)
    unknown = await home_click(rig, BOB, action(refused, home.HOME_ADD)[0], count=3, selected="CNOWHERE")
    assert await _active(rig) == []
    notice = [b["text"]["text"] for b in refused if "information_source" in b.get("text", {}).get("text", "")]
    assert notice and "invite me to that channel first" in notice[0]
    assert "secret" not in texts(refused).lower()
    assert notice[0] in texts(unknown), "a channel Bob may not see and one nobody knows get the same answer"


async def test_a_home_tab_turned_off_in_the_app_settings_is_logged_not_retried(rig: SlackRig) -> None:
    rig.fake.home_tab_enabled = False
    event = {"type": "app_home_opened", "user": BOB, "channel": "DBOB", "tab": "home", "event_ts": rig.fake.next_ts()}
    assert (await rig.event(event)).status == 200
    await rig.fake.wait_calls("views.publish")
    await settled(rig.services)  # done, not handed back for a retry
    assert len(rig.fake.called("views.publish")) == 1 and BOB not in rig.fake.home_views


async def test_malformed_home_clicks_are_acknowledged_and_skipped(rig: SlackRig) -> None:
    blocks = await open_home(rig, BOB)
    schedule: dict[str, Any] = {"type": "static_select", "action_id": home.HOME_SCHEDULE,
                                "options": [{"text": {"type": "plain_text", "text": "x"}, "value": "not json"}]}
    add: dict[str, Any] = {"type": "conversations_select", "action_id": home.HOME_ADD}
    for element in (schedule, add):
        view = rig.fake.home_views[BOB]
        act = {"type": element["type"], "action_id": element["action_id"], "block_id": "b", "action_ts": "1.0"}
        if element is schedule:
            act["selected_option"] = element["options"][0]
        payload = {"type": "block_actions", "user": {"id": BOB, "team_id": TEAM}, "team": {"id": TEAM},
                   "container": {"type": "view", "view_id": view["id"]}, "trigger_id": f"t.{rig.next_id()}",
                   "api_app_id": "A0FAKE", "token": "legacy", "view": view, "actions": [act]}
        response = await rig.send(action_form(payload), content_type="application/x-www-form-urlencoded")
        assert response.status == 200
    assert len(rig.fake.called("views.publish")) == 1, "nothing was queued for them"
    assert rig.fake.home_views[BOB]["blocks"] == blocks


def test_the_view_stays_within_block_kit_limits_with_many_questions_and_gaps() -> None:
    """Hundreds of gaps and long questions still make a view Slack accepts (100 blocks, 3,000 a section)."""
    now = datetime(2026, 3, 4, tzinfo=UTC)
    long = "why " * 900
    gaps = [GapTopic(label=f"topic {n} " + "x" * 200, terms=[f"t{n}"], gaps=[
        Gap(decision_id=f"d{n}_{i}", question=long, asked_at=now, channel_name="#" + "c" * 300, reasons=["declined"])
        for i in range(40)]) for n in range(30)]
    subs = [HomeSubscription(channel_id=f"C{n}", channel_name=f"#c{n}", description="daily at 09:00", tz="UTC",
                             top_n=5, schedule="daily 09:00", next_run=now) for n in range(15)]
    recent = [RecentQuestion(decision_id=f"d{n}", question=long, outcome="answered", where="#general", asked_at=now)
              for n in range(8)]
    admin = AdminHome(gaps=KnowledgeGaps(start=now, end=now, topics=gaps),
                      engagement=Engagement(tenant_id="slack:T", scope="visible",
                                            weeks=[WeekStats(start=now.date(), asked=10**6)] * 4))
    rules = [HomeRule(channel_id=f"C{n}", channel_name="#" + "r" * 80, lines=["**Reading:** " + long[:2000]] * 3,
                      excluded=n % 2 == 0, answer=AnswerMode.MENTION, who="workspace admins", may_change=True)
             for n in range(MAX_RULES)]
    view = home.home_view(Home(tenant="T", user="U", generated_at=now, notice=long, subscriptions=subs,
                               more_subscriptions=3, schedules=schedule_choices(), recent=recent, admin=admin,
                               rules=rules, more_rules=7))
    payload = json.loads(json.dumps(view.to_dict()))
    assert view_problems(payload, kind="home") == []
    assert len(payload["blocks"]) <= 100
    alone = home.home_view(Home(tenant="T", user="U", generated_at=now, rules=rules, more_rules=7)).to_dict()
    assert view_problems(alone, kind="home") == []
    assert len(action(alone["blocks"], home.HOME_RULES)) == MAX_RULES
    assert "…and 7 more: `/whybot settings` in a channel shows and changes its rules." in texts(alone["blocks"])


# channel rules -----------------------------------------------------------------------------------

def rule_of(blocks: Blocks, name: str) -> dict[str, Any]:
    """The "Channel rules" section of one channel."""
    [section] = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith(f"*{name}*\n")]
    return section


def notice_of(blocks: Blocks) -> str:
    return next(b["text"]["text"] for b in blocks if "information_source" in b.get("text", {}).get("text", ""))


def forged(channel: str, op: str) -> dict[str, Any]:
    """A rules menu whybot never drew for this person, as a hand-made payload would carry it."""
    return {"type": "overflow", "action_id": home.HOME_RULES,
            "options": [{"text": {"type": "plain_text", "text": op}, "value": home.rule_value(channel, op)}]}


async def test_an_admin_excludes_a_channel_from_home_which_deletes_what_was_stored(rig: SlackRig) -> None:
    await rig.message(GENERAL, BOB, "The release freeze starts on Friday at noon; no deploys after that.")
    make_admin(rig, CAROL)
    blocks = await open_home(rig, CAROL)
    general = rule_of(blocks, "#general")
    assert "*Reading:* yes" in general["text"]["text"] and "only when mentioned" in general["text"]["text"]
    assert "_you can change these_" in general["text"]["text"]
    menu = general["accessory"]
    assert menu["action_id"] == home.HOME_RULES and "confirm" in menu
    assert [o["value"] for o in menu["options"]] == [home.rule_value(GENERAL, "answer_questions"),
                                                     home.rule_value(GENERAL, "exclude")]

    excluded = await home_click(rig, CAROL, menu, count=2, selected=home.rule_value(GENERAL, "exclude"))
    assert not await rig.services.storage.messages.channel_messages(TENANT, GENERAL)
    assert (await rig.services.storage.channel_rules.get(TENANT, GENERAL)).excluded  # type: ignore[union-attr]
    assert "Excluded #general" in notice_of(excluded) and "deleted the 1 message" in notice_of(excluded)
    now = rule_of(excluded, "#general")
    assert "*Reading:* no" in now["text"]["text"]
    assert [o["value"] for o in now["accessory"]["options"]] == [home.rule_value(GENERAL, "include")]

    included = await home_click(rig, CAROL, now["accessory"], count=3, selected=home.rule_value(GENERAL, "include"))
    assert "I read #general again" in notice_of(included)
    assert "*Reading:* yes" in rule_of(included, "#general")["text"]["text"]
    asking = await home_click(rig, CAROL, rule_of(included, "#general")["accessory"], count=4,
                              selected=home.rule_value(GENERAL, "answer_questions"))
    assert "also answer questions asked here without a mention" in notice_of(asking)
    assert "questions asked here without a mention" in rule_of(asking, "#general")["text"]["text"]


async def test_a_non_admin_sees_rules_without_controls_and_a_forged_click_changes_nothing(rig: SlackRig) -> None:
    await rig.message(GENERAL, ALICE, "The release freeze starts on Friday at noon; no deploys after that.")
    blocks = await open_home(rig, BOB)
    general = rule_of(blocks, "#general")
    assert "*Reading:* yes" in general["text"]["text"]
    assert "_only the channel's creator and workspace admins or owners can change these_" in general["text"]["text"]
    assert "accessory" not in general and not action(blocks, home.HOME_RULES)

    refused = await home_click(rig, BOB, forged(GENERAL, "exclude"), count=2,
                               selected=home.rule_value(GENERAL, "exclude"))
    assert "Only some people can change this" in notice_of(refused)
    assert "only the channel's creator and workspace admins or owners can" in notice_of(refused)
    assert len(await rig.services.storage.messages.channel_messages(TENANT, GENERAL)) == 1
    assert await rig.services.storage.channel_rules.get(TENANT, GENERAL) is None, "no rule was written"
    assert "accessory" not in rule_of(refused, "#general")


async def test_a_private_channel_the_viewer_is_not_in_is_never_listed_nor_changed(rig: SlackRig) -> None:
    await rig.message(SECRET, ALICE, "Budget review on Thursday.", channel_type="group")
    await rig.message(GENERAL, BOB, "The release freeze starts on Friday at noon.")
    make_admin(rig, CAROL)  # a workspace admin, but not in #secret-plans
    blocks = await open_home(rig, CAROL)
    assert rule_of(blocks, "#general") and "secret" not in texts(blocks).lower()

    refused = await home_click(rig, CAROL, forged(SECRET, "exclude"), count=2,
                               selected=home.rule_value(SECRET, "exclude"))
    unknown = await home_click(rig, CAROL, forged("CNOWHERE", "exclude"), count=3,
                               selected=home.rule_value("CNOWHERE", "exclude"))
    assert notice_of(refused) == notice_of(unknown), "a channel Carol may not see and one nobody knows: same answer"
    assert "secret" not in texts(refused).lower()
    assert len(await rig.services.storage.messages.channel_messages(TENANT, SECRET)) == 1
    assert await rig.services.storage.channel_rules.get(TENANT, SECRET) is None

    alice = await open_home(rig, ALICE)
    assert "Budget" not in texts(alice) and rule_of(alice, "#secret-plans"), "its member sees its rules"
