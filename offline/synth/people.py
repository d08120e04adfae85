"""People, bots and channels of a synthetic workspace."""

from __future__ import annotations

import random
import string

from offline.synth import vocab
from offline.synth.model import Bot, Channel, Person

_ID_CHARS = string.ascii_uppercase + string.digits


def slack_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(_ID_CHARS) for _ in range(10))


def make_people(rng: random.Random, n: int) -> list[Person]:
    """`n` people, a few in leadership, each with a role, a time zone and a writing style; the
    last one has left the company (deleted account), as in most real exports."""
    pairs = [(f, last) for f in vocab.FIRST_NAMES for last in vocab.LAST_NAMES]
    rng.shuffle(pairs)
    n_lead = max(4, n // 25)
    people: list[Person] = []
    handles: set[str] = set()
    for i in range(n):
        first, last = pairs[i]
        title, team = vocab.LEADERSHIP_ROLES[i % len(vocab.LEADERSHIP_ROLES)] if i < n_lead else rng.choice(vocab.ROLES)
        tz, label, offset = rng.choice(vocab.TIMEZONES)
        handle = f"{first}.{last}".lower() if rng.random() < 0.6 else f"{first[0]}{last}".lower()
        while handle in handles:
            handle += str(rng.randint(0, 9))
        handles.add(handle)
        people.append(Person(slack_id(rng, "U"), handle, first, last, title, team, tz, label, offset,
                             casual=rng.random() < 0.45, deleted=i == n - 1))
    return people


BOT_NAMES: tuple[tuple[str, str, str], ...] = (
    ("pagerduty", "PagerDuty", ":pager:"), ("alertmanager", "Alertmanager", ":rotating_light:"),
    ("deploybot", "Deploybot", ":rocket:"), ("buildkite", "Buildkite", ":construction_worker:"),
    ("github", "GitHub", ":octocat:"), ("jira", "Jira Cloud", ":jira:"),
)


def make_bots(rng: random.Random) -> dict[str, Bot]:
    return {key: Bot(slack_id(rng, "B"), slack_id(rng, "U"), name, emoji) for key, name, emoji in BOT_NAMES}


# name -> (purpose, teams whose members join, share of everyone else who joins)
BASE_CHANNELS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("announcements", "Company-wide announcements. Please keep chatter in threads.", ("*",), 1.0),
    ("engineering", "Engineering discussion, design decisions and questions.", ("eng", "lead"), 0.15),
    ("incidents", "Production incidents. Alerts land here; one thread per incident.", ("eng", "support"), 0.1),
    ("support", "Customer escalations from the support team.", ("support", "eng"), 0.1),
    ("random", "Non-work banter and water-cooler chat.", ("*",), 0.8),
)
EXTRA_CHANNELS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("product", "Product planning and roadmap.", ("product", "lead"), 0.2),
    ("sre", "Reliability, on-call and infrastructure.", ("eng",), 0.05),
    ("frontend", "Web and mobile front-end work.", ("eng", "product"), 0.05),
    ("data", "Data platform, analytics and reporting.", ("eng", "product"), 0.1),
    ("customer-success", "Account health and renewals.", ("support", "sales"), 0.1),
    ("sales", "Deals, pipeline and customer feedback.", ("sales", "lead"), 0.1),
    ("security", "Security reviews and questions.", ("eng",), 0.2),
    ("eng-payments", "Payments squad.", ("eng",), 0.05),
    ("team-growth", "Growth squad.", ("eng", "product"), 0.05),
    ("design", "Design critique and handoffs.", ("product",), 0.2),
    ("platform", "Platform team: CI, deploys, tooling.", ("eng",), 0.05),
    ("mobile", "iOS and Android.", ("eng",), 0.05),
    ("qa", "Testing and release quality.", ("eng",), 0.05),
    ("devex", "Developer experience.", ("eng",), 0.1),
)
PRIVATE_CHANNELS: tuple[tuple[str, str], ...] = (
    ("leadership", "Leadership team. Confidential."),
    ("exec-hiring", "Senior hiring pipeline. Confidential."),
    ("board-prep", "Board meeting preparation. Confidential."),
)


def make_channels(rng: random.Random, people: list[Person], extra: int, private: int,
                  created: int) -> list[Channel]:
    active = [p for p in people if not p.deleted]
    channels: list[Channel] = []
    for name, purpose, teams, share in (*BASE_CHANNELS, *EXTRA_CHANNELS[:extra]):
        members = [p.id for p in people if "*" in teams or p.team in teams or rng.random() < share]
        creator = rng.choice(active).id
        channels.append(Channel(slack_id(rng, "C"), name, purpose, members, is_general=name == "announcements",
                                creator=creator, created=created - rng.randint(30, 900) * 86400))
    leads = [p for p in active if p.team == "lead"]
    for name, purpose in PRIVATE_CHANNELS[: 1 + private]:
        members = [p.id for p in leads] + [p.id for p in rng.sample(active, min(3, len(active))) if p not in leads]
        channels.append(Channel(slack_id(rng, "G"), name, purpose, members, private=True, creator=leads[0].id,
                                created=created - rng.randint(30, 600) * 86400))
    return channels
