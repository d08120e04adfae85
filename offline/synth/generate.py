"""Build a labelled synthetic workspace from a seed: plan threads, write them, then place them in time.

Threads are planned oldest day first so a re-asked question can link to an earlier answer. Roots
fall in their author's working hours (weekdays mostly); replies follow with kind-specific gaps and
wait for the replier's morning unless the thread is an incident. About one thread in eight lands
in the last 24 hours, which is what a daily digest reads.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from offline.synth import facts, threads_talk, threads_work, vocab
from offline.synth.context import Ctx, make_customers, make_services
from offline.synth.grammar import Grammar
from offline.synth.model import Bot, Channel, Message, Person, Reaction, Thread, Workspace
from offline.synth.people import make_bots, make_channels, make_people, slack_id
from offline.synth.utterances import UtteranceGenerator


@dataclass(frozen=True, slots=True)
class SizeSpec:
    people: int
    days: int
    threads: int
    extra_channels: int
    extra_private: int
    services: int
    utterances: int
    unanswerable: int


SIZES: dict[str, SizeSpec] = {
    "small": SizeSpec(30, 14, 480, 0, 0, 12, 400, 30),
    "medium": SizeSpec(140, 60, 6500, 6, 1, 20, 1500, 100),
    "large": SizeSpec(600, 240, 65000, 14, 2, 30, 4000, 300),
}
DEFAULT_NOW = datetime(2025, 3, 14, 16, 30, tzinfo=UTC)
RECENT_SHARE = 0.12

Kind = Callable[[Ctx, Channel], Thread]
KINDS: dict[str, Kind] = {
    "incident": threads_work.incident, "decision": threads_work.decision,
    "action_items": threads_work.action_items, "deadline": threads_work.deadline,
    "support_case": threads_work.support_case, "bot_notification": threads_work.bot_notification,
    "question_answered": threads_talk.question_answered, "question_unanswered": threads_talk.question_unanswered,
    "near_duplicate": threads_talk.near_duplicate, "announcement": threads_talk.announcement,
    "chitchat": threads_talk.chitchat, "off_topic": threads_talk.off_topic, "private": threads_talk.private_discussion,
}
_WORK_MIX = {"decision": 12, "question_answered": 24, "question_unanswered": 7, "action_items": 9, "deadline": 6,
             "bot_notification": 18, "near_duplicate": 6, "off_topic": 4, "chitchat": 3, "incident": 3,
             "support_case": 2, "announcement": 1}
MIXES: dict[str, dict[str, int]] = {
    "incidents": {"incident": 50, "bot_notification": 28, "question_answered": 10, "near_duplicate": 4,
                  "question_unanswered": 4, "action_items": 4},
    "engineering": _WORK_MIX,
    "support": {"support_case": 45, "question_answered": 20, "question_unanswered": 9, "bot_notification": 8,
                "near_duplicate": 6, "deadline": 4, "action_items": 4, "chitchat": 4},
    "random": {"chitchat": 72, "off_topic": 24, "announcement": 4},
    "announcements": {"announcement": 85, "deadline": 15},
}
ACTIVITY = {"engineering": 3.0, "incidents": 1.6, "support": 2.0, "random": 1.5, "announcements": 0.4}


def _mix(channel: Channel) -> dict[str, int]:
    if channel.private:
        return {"private": 1}
    return MIXES.get(channel.name, _WORK_MIX)


def _activity(channel: Channel) -> float:
    return 0.35 if channel.private else ACTIVITY.get(channel.name, 1.1)


def generate(seed: int, size: str = "small", now: datetime = DEFAULT_NOW) -> Workspace:
    spec = SIZES[size]
    rng = random.Random(seed)
    now_s = now.timestamp()
    people = make_people(rng, spec.people)
    bots = make_bots(rng)
    channels = make_channels(rng, people, spec.extra_channels, spec.extra_private, int(now_s))
    services, unused = make_services(rng, spec.services)
    org = rng.choice(("acme", "northwind", "globex", "initech", "contoso", "umbra", "hooli", "vandelay"))
    c = Ctx(rng, Grammar(rng, vocab.LEXICON), people, bots, channels, services, unused,
            make_customers(rng, 12), org, f"{org}-eng", rng.choice(("ENG", "OPS", "PLAT", "CORE", "SUP")))

    weights = [_activity(ch) for ch in channels]
    plan: list[tuple[int, bool, Channel, str]] = []
    for _ in range(spec.threads):
        ch = rng.choices(channels, weights)[0]
        mix = _mix(ch)
        kind = rng.choices(list(mix), list(mix.values()))[0]
        recent = rng.random() < RECENT_SHARE
        plan.append((0 if recent else rng.randint(1, spec.days - 1), recent, ch, kind))
    plan.sort(key=lambda p: -p[0])  # oldest first; stable, so same-day order is the random draw order

    threads: list[Thread] = []
    for index, (day, recent, ch, kind) in enumerate(plan):
        c.thread_index, c.day = index, day
        thread = KINDS[kind](c, ch)
        thread.recent = recent
        _random_deletions(rng, thread)
        threads.append(thread)

    placed = [_place(rng, t, day, recent, now_s) for t, (day, recent, _, _) in zip(threads, plan, strict=True)]
    messages, per_thread, deleted = _materialize(rng, c, threads, placed, now_s)
    gen = UtteranceGenerator(rng, services=services, people=[p.first for p in people] + [p.real_name for p in people],
                             channels=[ch.name for ch in channels if not ch.private], customers=c.customers)
    unanswerable = list(dict.fromkeys([t.unanswered for t in threads if t.unanswered] +
                                      [facts.unanswerable_question(c) for _ in range(spec.unanswerable)]))
    for t in threads:
        t.qa = [qa for qa in t.qa if not qa.key or c.claims.get(qa.key, 0) == 1]
    return Workspace(seed, size, slack_id(rng, "T"), c.domain, now_s, people, list(bots.values()), channels, threads,
                     messages, per_thread, deleted, gen.many(spec.utterances), unanswerable)


def _random_deletions(rng: random.Random, thread: Thread) -> None:
    """A few unlabelled replies are deleted, and now and then a chatty root (leaving a tombstone)."""
    for draft in thread.drafts[1:]:
        if not draft.role and rng.random() < 0.012:
            draft.deleted = True
    if thread.kind in ("chitchat", "off_topic") and rng.random() < 0.02:
        thread.drafts[0].deleted = True


def _local_hour(t: float, who: Person | Bot) -> float:
    offset = who.tz_offset if isinstance(who, Person) else 0
    return ((t + offset) % 86400) / 3600


def _place(rng: random.Random, thread: Thread, day: int, recent: bool, now: float) -> list[float]:
    """Absolute times (epoch seconds) for each draft of `thread`."""
    root = thread.drafts[0].author
    offset = root.tz_offset if isinstance(root, Person) else 0
    anytime = isinstance(root, Bot) or thread.kind == "incident"
    if recent:
        start = now - rng.uniform(300, 86100)
        for _ in range(8):
            if anytime or 8 <= _local_hour(start, root) < 19:
                break
            start = now - rng.uniform(300, 86100)
    else:
        local_day = int((now + offset) // 86400) - day
        weekday = (local_day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        if weekday >= 5 and rng.random() < 0.9:
            local_day -= weekday - rng.randint(0, 4)  # a weekday of the same week
        hour = rng.uniform(0, 24) if anytime and rng.random() < 0.3 else rng.triangular(8.5, 18.5, 11.5)
        start = local_day * 86400 + hour * 3600 - offset
    times = [start]
    t = start
    for draft in thread.drafts[1:]:
        t += draft.gap
        who = draft.author
        if thread.kind != "incident" and isinstance(who, Person) and not 8 <= _local_hour(t, who) < 20:
            t += ((24 - _local_hour(t, who) + 9) % 24) * 3600 + rng.uniform(0, 5400)
        times.append(t)
    if times[-1] > now - 30:
        shift = times[-1] - (now - rng.uniform(30, 1200))
        times = [x - shift for x in times]
    return times


def _ts(t: float, used: set[int]) -> str:
    micros = int(t * 1_000_000)
    while micros in used:
        micros += 1
    used.add(micros)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _reactions(rng: random.Random, c: Ctx, channel: Channel, pool: tuple[str, ...], rate: float,
               author: Person | Bot) -> list[Reaction]:
    if not pool or rate <= 0:
        if isinstance(author, Person) and rng.random() < 0.04:
            pool, rate = ("+1", "eyes", "joy"), 0.03
        else:
            return []
    members = c.members(channel)
    expected = min(25.0, rate * len(members))
    k = min(len(members) - 1, int(rng.expovariate(1 / expected))) if expected > 0 else 0
    if k <= 0:
        return []
    names = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
    by_name: dict[str, list[str]] = {n: [] for n in names}
    users = [u for u in rng.sample(members, k + 1) if u is not author][:k]
    for user, name in zip(users, rng.choices(names, k=len(users)), strict=True):
        by_name[name].append(user.id)
    return [Reaction(n, users) for n, users in by_name.items() if users]


def _materialize(rng: random.Random, c: Ctx, threads: list[Thread], placed: list[list[float]], now: float
                 ) -> tuple[list[Message], list[list[Message | None]], list[tuple[Channel, str, str]]]:
    used: dict[str, set[int]] = {ch.id: set() for ch in c.channels}
    per_thread: list[list[Message | None]] = []
    deleted: list[tuple[Channel, str, str]] = []
    messages: list[Message] = []
    for thread, times in zip(threads, placed, strict=True):
        thread.start = times[0]
        ch = thread.channel
        row: list[Message | None] = []
        root: Message | None = None
        for i, (draft, t) in enumerate(zip(thread.drafts, times, strict=True)):
            ts = _ts(t, used[ch.id])
            has_replies = len(thread.drafts) > 1
            edited = None
            if draft.edited or (isinstance(draft.author, Person) and not draft.role and rng.random() < 0.04):
                edited = _ts(min(now, t + rng.uniform(30, 900)), set())
            subtype = draft.subtype or ("bot_message" if isinstance(draft.author, Bot) else None)
            if i > 0 and draft.broadcast:
                subtype = "thread_broadcast"
            if draft.deleted:
                deleted.append((ch, ts, draft.text))
                if i > 0 or not has_replies:
                    row.append(None)
                    continue
                subtype, text = "tombstone", "This message was deleted."
            else:
                text = draft.text
            msg = Message(ch, ts, draft.author, text, ts if i == 0 and has_replies else (root.ts if root else None),
                          _reactions(rng, c, ch, draft.reactions, draft.reaction_rate, draft.author),
                          draft.files, edited, subtype)
            if i == 0:
                root = msg
            elif root is not None:
                root.replies.append(msg)
                msg.parent = root
            row.append(msg)
            messages.append(msg)
        per_thread.append(row)
    links = {f"\x00{i}\x00": _permalink(c.domain, row[0]) for i, row in enumerate(per_thread) if row and row[0]}
    for msg in messages:
        if "\x00" in msg.text:
            head, _, rest = msg.text.partition("\x00")
            key, _, tail = rest.partition("\x00")
            msg.text = head + links.get(f"\x00{key}\x00", "") + tail
    messages.extend(_joins(rng, c, now, used))
    messages.sort(key=lambda m: (m.channel.id, float(m.ts)))
    return messages, per_thread, deleted


def _joins(rng: random.Random, c: Ctx, now: float, used: dict[str, set[int]]) -> list[Message]:
    """A few `channel_join` / `group_join` system messages, as real exports are full of them."""
    joins: list[Message] = []
    for ch in c.channels:
        for person in c.people_in(ch, rng.randint(1, 3)):
            t = now - rng.uniform(2 * 86400, 12 * 86400)
            subtype = "group_join" if ch.private else "channel_join"
            joins.append(Message(ch, _ts(t, used[ch.id]), person, f"<@{person.id}> has joined the channel", None, [],
                                 (), None, subtype))
    return joins


def _permalink(domain: str, msg: Message) -> str:
    return f"<https://{domain}.slack.com/archives/{msg.channel.id}/p{msg.ts.replace('.', '')}>"
