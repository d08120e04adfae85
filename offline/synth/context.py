"""Shared state the thread generators draw from: the seeded RNG, grammar, people and entities."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from offline.synth import vocab
from offline.synth.grammar import Grammar, SlotValue
from offline.synth.model import QA, Bot, Channel, FileSpec, Person

_FIRST_WORD = re.compile(r"^[A-Z][a-z]")


@dataclass(slots=True)
class KnownFact:
    """A service fact once stated, so later threads repeat the same value and extend one label."""

    value: str
    qa: QA
    thread: int
    day: int


@dataclass(slots=True)
class Ctx:
    rng: random.Random
    grammar: Grammar
    people: list[Person]
    bots: dict[str, Bot]
    channels: list[Channel]
    services: list[str]  # services this workspace talks about
    unused_services: list[str]  # plausible names never mentioned (for unanswerable questions)
    customers: list[str]
    org: str  # GitHub org / company slug
    domain: str  # Slack subdomain
    jira: str  # Jira project key
    by_id: dict[str, Person] = field(default_factory=dict)
    counter: int = 100
    thread_index: int = 0  # index of the thread being generated
    day: int = 0  # days before `now` of the thread being generated
    claims: dict[str, int] = field(default_factory=dict)  # subject key -> threads about it
    kb: dict[tuple[str, str], KnownFact] = field(default_factory=dict)  # (service, attribute) -> fact
    _members: dict[str, list[Person]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {p.id: p for p in self.people}

    # picking ---------------------------------------------------------------------------------

    def members(self, channel: Channel) -> list[Person]:
        """Active members, cached: large workspaces ask this hundreds of thousands of times."""
        cached = self._members.get(channel.id)
        if cached is None:
            cached = [self.by_id[m] for m in channel.members if m in self.by_id and not self.by_id[m].deleted]
            self._members[channel.id] = cached
        return cached

    def person(self, channel: Channel, *, exclude: tuple[Person, ...] = (), team: str | None = None) -> Person:
        members = self.members(channel)
        for _ in range(12):  # rejection sampling keeps this O(1) for big channels
            p = self.rng.choice(members)
            if p not in exclude and (team is None or p.team == team):
                return p
        pool = [p for p in members if p not in exclude]
        preferred = [p for p in pool if p.team == team] if team is not None else pool
        return self.rng.choice(preferred or pool or members)

    def people_in(self, channel: Channel, n: int, *, exclude: tuple[Person, ...] = ()) -> list[Person]:
        members = self.members(channel)
        picked = self.rng.sample(members, min(len(members), n + len(exclude)))
        return [p for p in picked if p not in exclude][:n]

    def claim(self, key: str) -> str:
        """Count a thread about `key`; eval questions whose key is claimed twice are ambiguous and dropped."""
        self.claims[key] = self.claims.get(key, 0) + 1
        return key

    def service(self) -> str:
        return self.rng.choice(self.services)

    def number(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def next_id(self) -> int:
        self.counter += self.rng.randint(1, 9)
        return self.counter

    # text ------------------------------------------------------------------------------------

    def say(self, who: Person | Bot, template: str | Sequence[str], /, **slots: SlotValue) -> str:
        """Expand a frame in the author's style: casual people skip capitals, a few typos slip in."""
        return self._say(who, template, slots, exact=False)

    def quote(self, who: Person | Bot, template: str | Sequence[str], /, **slots: SlotValue) -> str:
        """Like `say`, but verbatim: for messages whose text labels quote (answers, facts)."""
        return self._say(who, template, slots, exact=True)

    def _say(self, who: Person | Bot, template: str | Sequence[str], slots: Mapping[str, SlotValue],
             exact: bool) -> str:
        text = self.grammar.expand(template, slots)
        if isinstance(who, Person) and not exact:
            if who.casual and _FIRST_WORD.match(text) and self.rng.random() < 0.7:
                text = text[0].lower() + text[1:]
            if who.casual and text.endswith(".") and not text.endswith(".."):
                text = text[:-1]
            if self.rng.random() < 0.03:
                text = self._typo(text)
        return text or "ok"

    def _typo(self, text: str) -> str:
        words = text.split(" ")
        plain = [i for i, w in enumerate(words) if w.isalpha() and len(w) > 4]
        if not plain:
            return text
        i = self.rng.choice(plain)
        w = words[i]
        j = self.rng.randrange(1, len(w) - 2)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        return " ".join(words)

    # links and files -------------------------------------------------------------------------

    def pr_link(self, service: str) -> str:
        repo = service.split("-")[0] if self.rng.random() < 0.5 else service
        return f"<https://github.com/{self.org}/{repo}/pull/{self.next_id()}>"

    def ticket(self) -> str:
        key = f"{self.jira}-{self.next_id()}"
        return f"<https://{self.org}.atlassian.net/browse/{key}|{key}>"

    def doc_link(self, label: str) -> str:
        doc = "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
                      for _ in range(20))
        return f"<https://docs.google.com/document/d/{doc}|{label}>"

    def dashboard(self, service: str) -> str:
        return f"<https://grafana.{self.org}.io/d/{self.next_id():x}/{service}|{service} dashboard>"

    def channel_ref(self, name: str) -> str:
        for ch in self.channels:
            if ch.name == name and not ch.private:
                return f"<#{ch.id}|{ch.name}>"
        return f"#{name}"

    def file(self, kind: str, about: str) -> FileSpec:
        slug = re.sub(r"[^a-z0-9]+", "-", about.lower()).strip("-")[:40] or "file"
        if kind == "png":
            return FileSpec(f"{slug}.png", f"{about} graph", "png", "image/png", self.number(40_000, 900_000))
        if kind == "pdf":
            return FileSpec(f"{slug}.pdf", about, "pdf", "application/pdf", self.number(80_000, 3_000_000))
        if kind == "log":
            return FileSpec(f"{slug}.log", f"{about} logs", "text", "text/plain", self.number(2_000, 400_000))
        return FileSpec(f"{slug}.csv", about, "csv", "text/csv", self.number(1_000, 200_000))

    # timing (seconds) ------------------------------------------------------------------------

    def fast(self) -> float:
        return self.rng.uniform(20, 420)

    def normal(self) -> float:
        return self.rng.choice((self.rng.uniform(60, 900), self.rng.uniform(600, 5400)))

    def slow(self) -> float:
        return self.rng.uniform(2 * 3600, 20 * 3600)


def make_customers(rng: random.Random, n: int) -> list[str]:
    names = [c + rng.choice(vocab.CUSTOMER_SUFFIXES) for c in vocab.CUSTOMERS]
    rng.shuffle(names)
    return names[:n]


def make_services(rng: random.Random, n: int) -> tuple[list[str], list[str]]:
    """(used, unused) service names; one name per stem so questions stay unambiguous."""
    stems = list(vocab.SERVICE_STEMS)
    rng.shuffle(stems)
    names = [s + rng.choice(vocab.SERVICE_SUFFIXES) for s in stems]
    return names[:n], names[n:]
