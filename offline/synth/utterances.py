"""What people type to the bot, labelled with the skill they mean (ask, people, summarize, digest, help).

Frames cover command words, natural questions and terse fragments ("billing-api runbook"), with
noise people add (greetings, "pls", missing punctuation, typos). Frames avoid another skill's
command word so labels agree with the keyword rules that override the classifier.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from offline.synth import facts, vocab
from offline.synth.grammar import Grammar

SKILLS: tuple[str, ...] = ("ask", "summarize", "digest", "help", "people")
WEIGHTS: tuple[float, ...] = (0.36, 0.2, 0.2, 0.14, 0.1)

_ASK: tuple[str, ...] = (
    "why is {svc} {broken}[ again|][?|]", "did we ever fix the {err}s in {svc}[?|]",
    "where can I find the {thing} for {svc}[?|]", "is {svc} using {ds}[ or {ds2}|][?|]",
    "remind me what we decided about {topic}", "when is {deadline}[?|]", "{svc} {thing}", "{svc} {thing} link",
    "find the thread where {person} explained {topic}", "search for {svc} retry policy",
    "look up the {customer} ticket about {feature}", "what did {person} say about {topic}[?|]",
    "any docs on {topic}[?|]", "has anyone seen {err} from {svc} before[?|]",
    "which dashboard shows {svc} latency[?|]", "how do I get access to {tool}[?|]",
    "how does {svc} handle retries[?|]", "is there a runbook for {svc}[?|]",
    "what was the root cause of the {svc} outage[?|]", "who is on call for {svc} this week[?|]",
    "what's the status of the {customer} escalation[?|]", "which region is {svc} deployed in[?|]",
    "how did we fix {svc} last time[?|]", "what version of {tool} are we on[?|]",
    "do we have a staging env for {svc}[?|]", "where's the {svc} repo[?|]",
    "is {feature} broken for {customer}[?|]", "need the {svc} {thing}", "{customer} {feature} issue cause",
    "what's the {svc} rate limit", "can {svc} talk to {ds} directly[?|]", "how many requests can {svc} take[?|]",
    "when did we migrate {svc} to {ds}[?|]", "who is {person}[?|]", "what does {person} work on[?|]",
    "{person} said something about {topic}, what was it", "link to the {topic} doc", "where do i report a bug in {svc}",
    "remind me how to deploy {svc}", "anybody know why {svc} restarts at midnight", "what is {tool} used for here",
)
_SUMMARIZE: tuple[str, ...] = (
    "summarize[ this thread| this| the thread| {channel}| the last {n} messages| {channel} {time}|]",
    "summarise[ this| this thread| {channel}]", "[give me a |short |quick |]summary of {channel}[ {time}|]",
    "summary of this [thread|discussion|conversation][ please|]", "tl;dr[ please| of this thread| {channel}|?]",
    "tldr[ this| pls|?]", "recap[ {channel}| this thread| the {topic} discussion][ {time}|]",
    "catch me up[ on {channel}| on this thread| on the {topic} thing|]", "what did I miss[ in {channel}| here|"
    " while I was out|][?|]", "give me the gist[ of this thread| of the {topic} discussion|]",
    "boil this [thread |]down[ for me|]", "short version of this [thread|discussion] please",
    "key points from {channel} {time}", "can you condense this conversation[?|]", "too long, didn't read",
    "what's the upshot of this thread[?|]", "I was out {time}, what happened in {channel}[?|]",
    "what happened in {channel} {time}[?|]", "sum up the {topic} thread",
    "main takeaways from this [discussion|thread]",
    "bullet points of this [convo|thread|discussion]", "brief me on {channel} {time}", "what is this thread about[?|]",
    "explain this thread in [3|three|a few] lines", "[can you |]condense {channel} {time}",
    "where did this [thread|discussion] end up[?|]", "what's the conclusion here[?|]",
    "give me the highlights of this thread", "what's going on in this thread[?|]", "wrap up this discussion for me",
    "I'm late to this thread, what's the story[?|]", "the {topic} thread in a nutshell",
)
_DIGEST: tuple[str, ...] = (
    "digest[ please| now| for today| 7d| 24h|]", "what's important today[?|]",
    "anything I should look at[ {time}|][?|]",
    "top threads [today|this week|{time}]", "highlights from {time}", "daily roundup[ please|]",
    "what needs my attention[ today|][?|]", "send me a [daily|morning] digest at {clock}",
    "digest daily {clock}", "digest weekly {day} {clock}", "[stop|pause|turn off|cancel] my [daily |weekly |]digest",
    "unsubscribe me from the [morning|daily|weekly] [roundup|digest|briefing]", "digest status",
    "what's my digest schedule[?|]", "[morning|daily] briefing[ please|]",
    "what were the biggest threads {time}[?|]", "most important discussions {time}",
    "rank the busiest threads[ {time}|]", "anything urgent since yesterday[?|]", "what's hot in {channel} today[?|]",
    "which threads matter most[ {time}|][?|]", "show me what I should read first",
    "prioritized list of what happened today", "any fires I should know about[?|]", "top {n} threads[ {time}|]",
    "every {day} at {clock} send me the top threads", "the important stuff from {time}[ please|]",
    "what should I catch up on first[?|]", "weekly highlights[ every {day}|]",
    "what's worth reading in {channel} {time}[?|]", "was there anything big {time}[?|]",
    "triage {channel} for me", "what are the must-reads today[?|]", "[give me|show] the top stories from {time}",
)
_HELP: tuple[str, ...] = (
    "help[ me| please|!|]", "what can you do[?|]", "what are your commands[?|]", "how do I use you[?|]",
    "how does this bot work[?|]", "what is whybot[?|]", "what can I ask you[?|]", "usage", "options[?|]",
    "I'm new, how do I use this[?|]", "what do you do[?|]", "show me the commands", "list [commands|your features]",
    "what are you good for[?|]", "hello[?|!|]", "hi[ there|]", "hey", "?", "who are you[?|]", "are you a bot[?|]",
    "how do I ask you something[?|]", "what does the Why button do[?|]", "how do i talk to you",
    "what kinds of things can you answer[?|]", "what features do you have", "instructions[ please|]",
    "is there a manual[?|]", "how do I set you up in a channel[?|]", "what commands are there[?|]",
    "getting started", "what's possible with you[?|]", "I don't know what to type", "examples[ please|]",
    "menu", "docs for this bot[?|]", "can you explain what you are",
)
_WHO: tuple[str, ...] = (
    "who knows [about |anything about |the most about ]{topic}[?|]", "who decided [on |about |]{topic}[?|]",
    "who owns {svc}[?|]", "who owns {feature}[?|]", "who approved {topic}[?|]", "who maintains {svc}[?|]",
    "who made the call on {topic}[?|]", "who signed off on {topic}[?|]", "who's the expert on {svc}[?|]",
    "who is the go-to person for {feature}[?|]", "who can help with {svc}[?|]", "who worked on {topic}[?|]",
    "who should I ask about {svc}[?|]", "who should I talk to about {topic}[?|]", "who looks after {svc}[?|]",
    "who is the owner of {svc}[?|]", "who's in charge of {feature}[?|]", "who knows how {svc} works[?|]",
    "who is the point of contact for {customer}[?|]", "who decided to use {tool}[?|]",
)
_FRAMES = {"ask": _ASK, "people": _WHO, "summarize": _SUMMARIZE, "digest": _DIGEST, "help": _HELP}

_THINGS = ("runbook", "dashboard", "staging creds", "repo", "on-call schedule", "design doc", "API docs",
           "alert rules", "deploy pipeline", "feature flags", "SLO", "postmortem")
_TOPICS = ("the Kafka migration", "moving to {tool}", "the pricing change", "the new on-call rotation",
           "dropping v1 of {svc}", "the {release} release", "the flaky tests", "the outage last week",
           "the SSO rollout", "the {svc} rewrite", "the hiring plan", "the Q3 roadmap", "the {customer} contract")
_TIMES = ("today", "yesterday", "this week", "since monday", "in the last 24h", "over the weekend",
          "since friday", "this morning", "last week", "while I was on vacation", "the past 3 days")
_PREFIXES = ("hey ", "hi ", "yo ", "quick one: ", "pls ", "hey, ", "ok ", "so ", "")
_SUFFIXES = (" thx", " please", " 🙏", " thanks", "!", " asap", " :)", "")


class UtteranceGenerator:
    """Seeded generator of (text, skill) pairs over a given set of entities."""

    def __init__(self, rng: random.Random, *, services: Sequence[str], people: Sequence[str],
                 channels: Sequence[str], customers: Sequence[str], fold: tuple[int, int, bool] | None = None) -> None:
        """`fold=(k, folds, held_out)` keeps only frames whose index % folds == k (held_out) or != k,
        so a classifier can be tested on sentence frames it never saw."""
        self.rng = rng
        self.frames = {skill: _select(frames, fold) for skill, frames in _FRAMES.items()}
        # "who owns X" phrasings belong to the people skill; the other service facts stay ask questions
        self.attributes = _select(tuple(a for a in facts.ATTRIBUTES if a.key != "owner"), fold)
        self.grammar = Grammar(rng, dict(vocab.LEXICON))
        self.slots: dict[str, str | list[str]] = {
            "svc": list(services), "person": list(people), "customer": list(customers),
            "channel": [f"#{c}" for c in channels] + ["this channel", "here"], "ds": list(vocab.DATASTORES),
            "ds2": list(vocab.DATASTORES), "tool": list(vocab.TOOLS), "thing": list(_THINGS),
            "topic": list(_TOPICS), "time": list(_TIMES), "feature": list(vocab.FEATURES),
            "release": list(vocab.RELEASES), "err": list(vocab.ERRORS), "day": [d.lower()[:3] for d in vocab.WEEKDAYS],
            "clock": ["08:00", "09:00", "9:30", "07:45", "10:00", "16:00", "17:30"], "n": ["5", "10", "20", "50"],
            "deadline": ["the code freeze", "the release branch cut", "perf review self-assessment due",
                         "the security training deadline"],
        }

    def one(self, skill: str | None = None) -> tuple[str, str]:
        rng = self.rng
        skill = skill or rng.choices(SKILLS, WEIGHTS)[0]
        if skill == "ask" and rng.random() < 0.35:
            attr = rng.choice(self.attributes)
            text = self.grammar.expand(rng.choice((attr.asks, attr.paraphrases)), self.slots)
        else:
            text = self.grammar.expand(self.frames[skill], self.slots)
        return self._noise(text), skill

    def many(self, n: int) -> list[tuple[str, str]]:
        return [self.one() for _ in range(n)]

    def _noise(self, text: str) -> str:
        rng = self.rng
        if rng.random() < 0.25:
            text = rng.choice(_PREFIXES) + text
        if rng.random() < 0.15:
            text = text.rstrip("?") + rng.choice(_SUFFIXES)
        r = rng.random()
        if r < 0.3:
            text = text.lower()
        elif r < 0.55 and text[:1].isalpha():
            text = text[0].upper() + text[1:]
        if rng.random() < 0.05 and len(text) > 6:
            i = rng.randrange(1, len(text) - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        return text.strip()


T = TypeVar("T")


def _select(items: Sequence[T], fold: tuple[int, int, bool] | None) -> tuple[T, ...]:
    if fold is None:
        return tuple(items)
    k, folds, held_out = fold
    return tuple(x for i, x in enumerate(items) if (i % folds == k) == held_out)


def training_utterances(seed: int, n: int, fold: tuple[int, int, bool] | None = None) -> list[tuple[str, str]]:
    """Utterances over the full vocabulary (no workspace needed), for `whybot train router`."""
    rng = random.Random(f"utterances:{seed}")
    people = [f"{f} {last}" if rng.random() < 0.5 else f for f, last in zip(
        rng.sample(vocab.FIRST_NAMES, 40), rng.sample(vocab.LAST_NAMES, 40), strict=True)]
    services = [s + rng.choice(vocab.SERVICE_SUFFIXES) for s in vocab.SERVICE_STEMS]
    channels = ["engineering", "incidents", "support", "random", "announcements", "product", "design", "data",
                "frontend", "sre", "eng-payments", "team-growth", "sales"]
    customers = [c + rng.choice(vocab.CUSTOMER_SUFFIXES) for c in vocab.CUSTOMERS]
    gen = UtteranceGenerator(rng, services=services, people=people, channels=channels, customers=customers,
                             fold=fold)
    return gen.many(n)
