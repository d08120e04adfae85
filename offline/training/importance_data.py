"""Deterministic labelled digest windows: what the importance model is trained and judged on until the
synthetic workspace generator (`whybot synth`, which writes a Slack export plus labels.json) lands.

Each thread comes from a kind with a true importance (incidents, decisions, action items, deadlines
and unanswered questions matter; answered questions, bot notices, link shares and chit-chat do
not), with hard cases on both sides: decisions phrased without a cue word, lively chit-chat with
many reactions, quiet incidents. Activity time is independent of importance, so ordering by
recency alone is no better than chance, which is the bar the ranking has to clear.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.backends.importance import ThreadView
from storage import MessageRecord

SERVICES = ("checkout", "payments", "search", "login", "billing", "ledger", "notifications", "api-gateway")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
THINGS = ("Q3 roadmap", "security review", "release 2.14", "SOC2 evidence", "budget plan", "pricing page")
OPTIONS = ("Postgres", "Kafka", "the managed queue", "vendor B", "the monorepo", "feature flags")
TOPICS = ("the flaky e2e suite", "our on-call rota", "the staging database", "the deploy pipeline", "SSO for partners")


@dataclass(slots=True)
class LabelledThread:
    thread: ThreadView
    important: bool
    kind: str
    window_end: datetime
    window_hours: float
    grade: int | None = None  # graded importance 0..3 where the labels have it (synthetic workspaces)

    @property
    def gain(self) -> float:
        """Graded relevance for nDCG: the label's 0..3 grade, else 1 for important and 0 for not."""
        return float(self.grade if self.grade is not None else int(self.important))


class _Builder:
    def __init__(self, rng: random.Random, channel: str, end: datetime, hours: float, start_id: int) -> None:
        self.rng, self.channel, self.end, self.hours = rng, channel, end, hours
        self.next_id = start_id

    def thread(self, texts: list[str], *, people: int, reactions: int = 0, bot_root: bool = False,
               files: int = 0, mentions: int = 0) -> ThreadView:
        rng = self.rng
        users = [f"U{rng.randrange(1, 400):03d}" for _ in range(max(1, people))]
        at = self.end - timedelta(hours=self.hours) + timedelta(seconds=rng.uniform(0, self.hours * 3600 * 0.97))
        root_ts = f"{at.timestamp():.6f}"
        messages: list[MessageRecord] = []
        for i, text in enumerate(texts):
            if at >= self.end:
                break
            self.next_id += 1
            is_bot = bot_root and i == 0
            messages.append(MessageRecord(
                id=self.next_id, tenant_id="synthetic:T0", channel_id=1, channel_external_id=self.channel,
                channel_name=self.channel.lower(), external_id=root_ts if i == 0 else f"{at.timestamp():.6f}",
                thread_external_id=None if i == 0 else root_ts,
                user_external_id="B001" if is_bot else users[0 if i == 0 else rng.randrange(len(users))],
                user_name="bot" if is_bot else "someone", text=text, created_at=at,
                reaction_count=reactions if i == 0 else rng.choice((0, 0, 0, 1)),
                reply_count=len(texts) - 1 if i == 0 else 0, mention_count=mentions if i == 0 else 0,
                file_count=files if i == 0 else 0, permalink=f"https://example.test/{self.channel}/p{root_ts}",
                is_bot=is_bot))
            at += timedelta(seconds=rng.uniform(20, 1500))
        return ThreadView(self.channel, root_ts, messages)


def _incident(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    svc, region = r.choice(SERVICES), r.choice(REGIONS)
    root = r.choice((f"Incident: {svc} is down in {region}, 502s on every request",
                     f"{svc} degraded in {region}, paging on-call", f"sev2: {svc} error rate spiking in {region}",
                     f"seeing a lot of timeouts from {svc} in {region}, anyone else?"))
    replies = [r.choice(("looking", "on it", f"{svc} pods are crashlooping", "rolling back the last deploy",
                         "rolled back, error rate recovering", "customers are reporting failures",
                         "postmortem doc coming", "status page updated")) for _ in range(r.randint(1, 18))]
    return b.thread([root, *replies], people=r.randint(2, 8), reactions=r.randint(0, 9),
                    mentions=r.randint(0, 3)), True


def _decision(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    option, thing = r.choice(OPTIONS), r.choice(THINGS)
    if r.random() < 0.25:  # a decision nobody called one
        root = f"ok so for the {thing} we're going with {option}, thanks all for the input"
    else:
        root = r.choice((f"We decided to go with {option} for the {thing}.",
                         f"Final call on the {thing}: {option}. Agreed in today's sync.",
                         f"Decision: the {thing} moves to {option}, approved by the leads"))
    replies = [r.choice(("makes sense", "+1", "what about the migration cost?", "we'll need a plan for rollout",
                         "agreed", "I'll write it up")) for _ in range(r.randint(0, 10))]
    return b.thread([root, *replies], people=r.randint(1, 7), reactions=r.randint(0, 6)), True


def _action_items(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    thing = r.choice(THINGS)
    root = (f"Action items from the {thing} sync: <@U{r.randrange(400):03d}> can you own the rollout plan, "
            f"<@U{r.randrange(400):03d}> please follow up with legal")
    replies = [r.choice(("on it", "will do by Thursday", "done", "can we push this a week?")) for _ in
               range(r.randint(0, 4))]
    return b.thread([root, *replies], people=r.randint(1, 4), mentions=2, reactions=r.randint(0, 3)), True


def _deadline(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    thing = r.choice(THINGS)
    root = r.choice((f"Reminder: the {thing} deadline is Friday", f"Code freeze for {thing} starts tomorrow",
                     f"{thing} is due by end of day Thursday, please get your parts in"))
    replies = [r.choice(("thanks", "noted", "is there an extension?", "mine is in")) for _ in range(r.randint(0, 5))]
    return b.thread([root, *replies], people=r.randint(1, 5), reactions=r.randint(0, 5)), True


def _unanswered(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    topic = r.choice(TOPICS)
    root = r.choice((f"Does anyone know who owns {topic}? It is blocking our release.",
                     f"How do we get access to {topic}? Customer waiting on this.",
                     f"Where is the runbook for {topic}?"))
    return b.thread([root], people=1, reactions=r.randint(0, 2)), True


def _answered(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    topic = r.choice(TOPICS)
    root = r.choice((f"what is the link to {topic}?", f"how do I restart {topic} locally?",
                     f"quick one: where is the doc for {topic}?"))
    replies = [r.choice(("here you go", "run make restart", "it's in the wiki", "thanks!", "np"))
               for _ in range(r.randint(1, 4))]
    return b.thread([root, *replies], people=r.randint(2, 3), reactions=r.randint(0, 2)), False


def _bot_notice(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    n = r.randrange(1000, 9999)
    root = r.choice((f"Build #{n} passed on main", f"Deploy #{n} to staging finished", f"Nightly backup #{n} ok",
                     f"Build #{n} failed on main: flaky test"))
    replies = ["retrying"] if r.random() < 0.15 else []
    return b.thread([root, *replies], people=1, bot_root=True), False


def _link_share(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    root = r.choice(("FYI interesting read https://example.test/blog/scaling", "nice talk: https://example.test/v/42",
                     "sharing the slides from the meetup https://example.test/s/9"))
    replies = [r.choice(("cool", "thanks for sharing", "nice")) for _ in range(r.randint(0, 3))]
    return b.thread([root, *replies], people=r.randint(1, 4), reactions=r.randint(0, 6), files=r.choice((0, 1))), False


def _chitchat(b: _Builder, r: random.Random) -> tuple[ThreadView, bool]:
    root = r.choice(("lunch anyone? thinking tacos", "happy birthday Sam! 🎉", "my cat just sat on my keyboard lol",
                     "who's around this weekend for coffee?", "congrats on the new baby!",
                     "memes channel is gold today"))
    replies = [r.choice(("haha", "lol", "🎉", "count me in", "congrats!!", "same", "omg", "weekend plans?"))
               for _ in range(r.randint(0, 22))]
    return b.thread([root, *replies], people=r.randint(1, 12), reactions=r.randint(0, 15)), False


KINDS = (  # (kind, maker, share of threads)
    ("incident", _incident, 0.06), ("decision", _decision, 0.07), ("action_items", _action_items, 0.05),
    ("deadline", _deadline, 0.05), ("unanswered", _unanswered, 0.05), ("answered", _answered, 0.16),
    ("bot_notice", _bot_notice, 0.18), ("link_share", _link_share, 0.10), ("chitchat", _chitchat, 0.28),
)


def labelled_window(seed: int, *, threads: int = 60, channel: str = "C1", end: datetime | None = None,
                    hours: float = 24.0, label_noise: float = 0.03, start_id: int = 0) -> list[LabelledThread]:
    """One channel's window of `threads` labelled threads; the same seed always gives the same window."""
    rng = random.Random(seed)
    end = end or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    builder = _Builder(rng, channel, end, hours, start_id)
    makers = list(KINDS)
    weights = [k[2] for k in KINDS]
    out: list[LabelledThread] = []
    for _ in range(threads):
        kind, make, _share = rng.choices(makers, weights)[0]
        view, important = make(builder, rng)
        if rng.random() < label_noise:
            important = not important
        out.append(LabelledThread(view, important, kind, end, hours))
    return out


def labelled_windows(seed: int, windows: int, threads_per_window: int = 60) -> list[list[LabelledThread]]:
    """Several independent windows (channels/days), for training and for held-out evaluation."""
    return [labelled_window(seed * 10_007 + i, threads=threads_per_window, channel=f"C{i}",
                            start_id=i * threads_per_window * 40) for i in range(windows)]
