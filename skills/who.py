"""who: "who knows about X / who decided Y / who owns Z", answered with people, not quotes.

People are ranked by what they did in the threads that match the subject: named as owner or
assignee, decided, answered, or started the thread. Each role earns points weighted by how well its
thread matched, and every person in the reply cites the messages that earned them their place, so
"why Bob?" is answered by Bob's own words. Only threads the readers may see count.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

from bot import query_filters
from bot import text as textlib
from bot.backends.llm.base import Passage
from bot.backends.retrieval.base import weighted_coverage
from bot.evidence import citation, evidence, passage_from_message
from bot.models import FollowUp, Generator, Inputs, Rationale, Reply, ReplyItem, ReplySection
from bot.skill import SkillContext, SkillError, SkillRequest
from bot.visibility import Visibility
from storage import MessageRecord

THREADS = 6  # matching threads read
PEOPLE = 3  # people shown
PER_PERSON = 2  # messages cited per person

_LEAD = re.compile(
    r"^\W*(?:(?:hey|hi|so|ok|quick one)\W+)?(?:do you know\s+)?(?:who(?:'s|\s+is|\s+are)?\s+)?"
    r"(?P<verb>knows?(?: (?:about|anything about|the most about))?|decided(?: on| about)?|made the (?:call|decision)"
    r"(?: on| about)?|signed off(?: on)?|approved|owns|maintains|looks after|worked on|works on|"
    r"(?:the )?(?:expert|owner|go-to(?: person)?|point of contact|in charge|responsible)(?: (?:on|of|for|about))?|"
    r"can help(?: with)?|should i (?:ask|talk to|ping)(?: about)?)\s+", re.IGNORECASE)
_DECIDED = re.compile(r"\b(decided|decision|final call|we('ll| will) go|agreed|going with|approved|settled|"
                      r"signed off)\b", re.IGNORECASE)
_OWNS = re.compile(r"(<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>)\W{0,3}(?:'s team|owns|is the owner|is the DRI|will drive|"
                   r"is on it|took it over)|(?:owner is|owned by|DRI is|assigned to)\W{0,3}<@([UW][A-Z0-9_]+)",
                   re.IGNORECASE)
# Points per role, per kind of "who": the role asked about counts most; asking counts least.
_ROLE_POINTS: dict[str, dict[str, float]] = {
    "knows": {"answered": 2.0, "decided": 1.5, "named owner": 1.5, "started": 1.0, "took part": 0.5, "asked": 0.2},
    "decided": {"decided": 4.0, "started": 1.0, "named owner": 1.0, "answered": 1.0, "took part": 0.5, "asked": 0.2},
    "owns": {"named owner": 4.0, "decided": 1.0, "answered": 1.0, "started": 0.5, "took part": 0.3, "asked": 0.1},
}


@dataclass
class Candidate:
    user: str
    name: str
    score: float = 0.0
    roles: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    messages: list[tuple[float, MessageRecord, str]] = field(default_factory=list)  # (points, message, role)


def subject(question: str) -> tuple[str, str]:
    """(what the question is about, what kind of "who": knows / decided / owns). The router may
    already have taken the command word "who" off the front ("decided on X")."""
    m = _LEAD.search(question)
    if m is None:
        return question.strip(" ?"), "knows"
    verb = m.group("verb").lower()
    kind = "decided" if re.search(r"decid|call|decision|signed|approved", verb) else (
        "owns" if re.search(r"own|maintain|look|charge|responsible|contact|go-to", verb) else "knows")
    return question[m.end():].strip(" ?"), kind


class WhoSkill:
    """Named "people", not "who": the router treats a skill's name as a command word, and "who" would
    capture every question that starts with it ("who is on call?" is a question for `ask`)."""

    name = "people"
    aliases = ("experts",)
    summary = "Find the people who know about, decided or own something, with the messages that show it."
    usage = ("people <topic>", "who knows about <topic>", "who decided <topic>", "who owns <service>")
    examples = ("who knows about the Kafka migration?", "who decided to drop v1?", "who owns billing-api?")

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        question = request.args.strip()
        if not question:
            raise SkillError("Ask me about a topic, for example `who knows about the release freeze?`")
        started = time.perf_counter()
        about, kind = subject(question)
        channels = await ctx.storage.workspace.channels_seen_by(request.tenant_id, request.reader.user,
                                                             request.reader.channel)
        visibility = Visibility(request.reader, request.tenant_id, channels)
        parsed = query_filters.parse(about, ctx.clock())
        users = await ctx.storage.workspace.list_users(request.tenant_id)
        scope = query_filters.resolve(parsed, [c for c in channels if c.external_id in visibility.allowed_channels],
                                      users) if parsed.any else None
        result = await ctx.retriever.search(request.tenant_id, parsed.question, visibility.allowed_channel_ids,
                                            k=THREADS * 3, filters=scope.filters if scope else None)
        names = {u.external_id: u.label for u in users}
        bots = {u.external_id for u in users if u.is_bot}
        picked: list[tuple[float, MessageRecord]] = []  # the best matching threads' first matches, in rank order
        seen: set[tuple[int, str]] = set()
        for hit in result.hits:
            m = hit.message
            if m is None or not visibility.may_see_channel(m.channel_external_id):
                continue
            key = (m.channel_id, m.thread_root)
            if key in seen:
                continue
            seen.add(key)
            relevance = weighted_coverage(hit.matched_terms, result.term_weights)
            if relevance < ctx.settings.min_term_coverage:
                continue
            picked.append((relevance, m))
            if len(picked) == THREADS:
                break
        read = await ctx.storage.messages.threads(request.tenant_id, [(m.channel_id, m.thread_root) for _, m in picked])
        threads = [(relevance, read[(m.channel_id, m.thread_root)] or [m]) for relevance, m in picked]
        people = self._rank(threads, kind, names, bots)
        inputs = Inputs(query=parsed.question, query_terms=result.query_terms,
                        channels=sorted(c.name for c in channels if c.external_id in visibility.allowed_channels),
                        messages_considered=result.searched_messages, candidates=len(threads),
                        filters=scope.shown if scope else [],
                        expansion=[f"{w} ({x:.2f})" for w, x in result.expansion.items()], retrieval=result.backend)
        timings = {"total": round((time.perf_counter() - started) * 1000, 2)}
        if not people:
            rationale = Rationale(skill=self.name, route=request.route, inputs=inputs,
                                  generator=Generator(kind="extractive", reason="not run: no matching thread names "
                                                                                "anyone"),
                                  caveats=["declined: no thread that matches enough of the question has people "
                                           "in it", *(scope.problems if scope else [])],
                                  timings_ms=timings)
            return Reply(title="I couldn't find who", rationale=rationale,
                         body=f"I couldn't find threads about “{textlib.shorten(about, 80)}” that show who "
                              f"{kind} it. Try other words, or `ask` the question instead.",
                         follow_ups=[FollowUp(label="Ask instead", command=f"ask {question}")])
        return self._reply(request, question, about, kind, people, inputs, timings)

    @staticmethod
    def _rank(threads: list[tuple[float, list[MessageRecord]]], kind: str, names: dict[str, str],
              bots: set[str]) -> list[Candidate]:
        found: dict[str, Candidate] = {}

        def credit(user: str | None, role: str, message: MessageRecord, relevance: float) -> None:
            if not user or user in bots:
                return
            points = _ROLE_POINTS[kind][role] * relevance
            person = found.setdefault(user, Candidate(user, names.get(user, user)))
            person.score += points
            person.roles[role] += points
            person.messages.append((points, message, role))

        for relevance, thread in threads:
            root = thread[0]
            asker = root.user_external_id if textlib.is_question(root.text) else None
            credit(root.user_external_id, "asked" if asker else "started", root, relevance)
            for m in thread:
                for match in _OWNS.finditer(m.text):
                    credit(match.group(2) or match.group(3), "named owner", m, relevance)
                if m is root or m.is_bot:
                    continue
                if _DECIDED.search(m.text):
                    credit(m.user_external_id, "decided", m, relevance)
                elif m.user_external_id != asker and not textlib.is_question(m.text) and len(m.text) > 25:
                    credit(m.user_external_id, "answered", m, relevance)
                else:
                    credit(m.user_external_id, "took part", m, relevance)
        return sorted(found.values(), key=lambda c: (-c.score, c.name))[:PEOPLE]

    def _reply(self, request: SkillRequest, question: str, about: str, kind: str, people: list[Candidate],
               inputs: Inputs, timings: dict[str, float]) -> Reply:
        passages: list[Passage] = []
        number_of: dict[str, int] = {}
        channel_of = {m.source_id: m.channel_external_id for person in people for _, m, _r in person.messages}
        items: list[ReplyItem] = []
        for person in people:
            numbers = []
            for _, m, _role in sorted(person.messages, key=lambda x: -x[0])[:PER_PERSON]:
                if m.source_id not in number_of:
                    number_of[m.source_id] = len(passages) + 1
                    passages.append(passage_from_message(len(passages) + 1, m, score=round(person.score, 4)))
                numbers.append(number_of[m.source_id])
            roles = ", ".join(f"{role}" for role, _ in sorted(person.roles.items(), key=lambda kv: -kv[1]))
            cites = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
            items.append(ReplyItem(text=f"**{person.name}**: {roles} {cites}", citation_numbers=list(dict.fromkeys(
                numbers)), why=[f"{role} {points:.2f}" for role, points in person.roles.items()]))
        by_source = {p.source_id: p for p in passages}
        contributions: dict[str, dict[str, float]] = defaultdict(dict)
        for person in people:
            for points, m, role in person.messages:
                if m.source_id in by_source:
                    contributions[m.source_id][f"{person.name}: {role}"] = round(points, 3)
        rationale = Rationale(
            skill=self.name, route=request.route, inputs=inputs,
            evidence=[evidence(p, channel_of.get(p.source_id), used=True, contributions=contributions.get(p.source_id),
                               note="cited for the person it names or who wrote it") for p in passages],
            generator=Generator(kind="extractive", reason=f"people ranked by role points in {inputs.candidates} "
                                                          f"matching thread(s), each times the thread's relevance: "
                                                          + ", ".join(f"{r} {p:g}" for r, p in
                                                                      _ROLE_POINTS[kind].items())),
            timings_ms=timings)
        body = "\n".join(f"{i}. {item.text}" for i, item in enumerate(items, start=1))
        return Reply(title=f"Who {kind} “{textlib.shorten(about, 70)}”", body=body,
                     sections=[ReplySection(title="People", items=items)],
                     citations=[citation(p, channel_of.get(p.source_id)) for p in passages],
                     rationale=rationale, follow_ups=[FollowUp(label="Ask instead", command=f"ask {question}")])
