"""Run the evaluation: import a labelled workspace into a scratch database, then put every labelled
request through the real router (`services.router.handle`) and score the replies.

What is measured, and how (the report repeats these definitions):
- router: each labelled utterance is sent as free text (a mention in a public channel); the skill
  the router picked (`rationale.route.skill`) is compared with the label.
- ask: each labelled question is sent as `ask <question>` from a public channel. The reply's evidence
  (the sources the Why? lists, ordered by score) is compared with the labelled answering messages.
- privacy: each private fact is probed (its probe question, and its own words) from places where it
  must not show: a public channel (by a member and by a non-member of the private channel) and a
  non-member's DM. Any reply text, citation or rationale string containing the fact is a leak; so is
  any cited or listed source from the private channel.
- digest: `digest now` in every channel for 24 h windows ending at the workspace clock and the days
  before; the top 5 are scored with nDCG@5 against labelled importance, next to recency order.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.backends.llm.base import TextGenerator
from bot.backends.llm.extractive import ExtractiveGenerator
from bot.classifier import RulesThenClassifier
from bot.importers.slack_export import SlackExportImporter
from bot.intents import IntentClassifier
from bot.models import ChatEvent, ConversationKind, Platform, Reply, Trigger
from bot.services import Services, build_services
from bot.settings import Settings
from offline.evaluation import metrics as m
from offline.evaluation.labels import Labels, contains_fact, message_time
from offline.synth.utterances import SKILLS
from storage import ChannelRecord, Storage

log = logging.getLogger(__name__)

TOP_K = 5
DIGEST_TOP = 5
EXAMPLES = 10  # misses kept per metric in the report, to look at


@dataclass
class Timings:
    """Wall-clock milliseconds of `router.handle` per skill (or column, e.g. "ask (llm)")."""

    by_skill: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, skill: str, ms: float) -> None:
        self.by_skill[skill].append(ms)

    def summary(self) -> dict[str, dict[str, float]]:
        return {skill: {"n": len(v), "p50_ms": round(m.percentile(v, 50), 1), "p95_ms": round(m.percentile(v, 95), 1)}
                for skill, v in sorted(self.by_skill.items())}


@dataclass
class Workspace:
    """The imported workspace as the evaluation needs it: ids mapped back to label ids."""

    labels: Labels
    tenant: str  # platform team id (what events carry)
    tenant_id: str  # storage tenant key
    channels: dict[str, ChannelRecord]
    public: list[ChannelRecord]
    people: list[str]  # human user ids
    names: dict[str, str]
    label_id: dict[str, str]  # storage source id -> "<channel>:<ts>"
    messages: int

    def member(self, channel: ChannelRecord) -> str:
        members = sorted(u for u in channel.member_ids if u in set(self.people))
        return members[0] if members else self.people[0]

    def asker(self, channels: list[str]) -> tuple[str, str]:
        """(channel, user) to ask from: the answer's own channel when public, else the first public one."""
        here = next((self.channels[c] for c in channels if c in self.channels and not self.channels[c].is_private),
                    self.public[0])
        return here.external_id, self.member(here)


async def load_workspace(services: Services, path: Path, labels: Labels) -> Workspace:
    report = await SlackExportImporter(services.ingest).run(path)
    storage = services.storage
    label_id: dict[str, str] = {}
    async for batch in storage.messages.stream(report.tenant_id):
        for record in batch:
            label_id[record.source_id] = f"{record.channel_external_id}:{record.external_id}"
    channels = {c.external_id: c for c in await storage.workspace.channels(report.tenant_id)}
    users = await storage.workspace.list_users(report.tenant_id)
    public = sorted((c for c in channels.values() if not c.is_private and c.kind == "channel"), key=lambda c: c.name)
    if not public:
        raise ValueError(f"{path} has no public channel to ask from")
    return Workspace(labels=labels, tenant=labels.team_id, tenant_id=report.tenant_id, channels=channels,
                     public=public, people=sorted(u.external_id for u in users if not u.is_bot),
                     names={u.external_id: u.label for u in users}, label_id=label_id,
                     messages=report.messages_added)


def declined(reply: Reply) -> bool:
    return any(c.startswith("declined") for c in reply.rationale.caveats)


def contradicts(reply: Reply) -> bool:
    """The reply declines while its Why? says it could answer, or the other way round."""
    judged = reply.rationale.answerability
    return judged is not None and judged.answered == declined(reply)


def ranked_evidence(reply: Reply) -> list[str]:
    """Evidence source ids in the order the Why? ranks them: by score, then by rank."""
    items = sorted(reply.rationale.evidence, key=lambda e: (-e.score, e.rank))
    return [e.source_id for e in items]


def strings(value: Any) -> Iterator[str]:
    """Every string inside a dumped model (reply text, citations, rationale), for leak checks."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


class Evaluator:
    def __init__(self, services: Services, ws: Workspace, timings: Timings) -> None:
        self.services = services
        self.ws = ws
        self.timings = timings

    async def handle(self, event: ChatEvent, label: str | None = None, services: Services | None = None) -> Reply:
        started = time.perf_counter()
        reply = await (services or self.services).router.handle(event)
        self.timings.add(label or reply.rationale.skill, (time.perf_counter() - started) * 1000)
        return reply

    def event(self, channel: str, user: str, *, text: str = "", command: str | None = None, args: str = "",
              dm: bool = False, thread: str | None = None) -> ChatEvent:
        return ChatEvent(platform=Platform.SLACK, tenant=self.ws.tenant, channel=channel, user=user, text=text,
                         thread_id=thread,
                         command=command, args=args, trigger=Trigger.COMMAND if command else Trigger.MENTION,
                         conversation_kind=ConversationKind.DM if dm else ConversationKind.CHANNEL, private_reply=dm)

    # router ------------------------------------------------------------------------------------

    async def router(self) -> tuple[dict[str, float], dict[str, Any]]:
        here = self.ws.public[0]
        user = self.ws.member(here)
        pairs: list[tuple[str, str]] = []
        misses: list[dict[str, str]] = []
        for u in self.ws.labels.utterances:
            reply = await self.handle(self.event(here.external_id, user, text=u.text))
            predicted = reply.rationale.route.skill
            pairs.append((u.skill, predicted))
            if predicted != u.skill and len(misses) < EXAMPLES:
                misses.append({"text": u.text, "expected": u.skill, "predicted": predicted})
        accuracy = m.mean(1.0 if e == p else 0.0 for e, p in pairs)
        per_skill = {s: m.mean(1.0 if p == s else 0.0 for e, p in pairs if e == s) for s in SKILLS
                     if any(e == s for e, _ in pairs)}
        return ({"router.accuracy": round(accuracy, 4)},
                {"n": len(pairs), "classifier": getattr(self.services.classifier, "name", ""),
                 "per_skill_recall": {k: round(v, 4) for k, v in per_skill.items()},
                 "confusion": m.confusion(pairs, SKILLS), "misses": misses})

    # ask ---------------------------------------------------------------------------------------

    async def ask(self, services: Services, column: str, limit: int | None = None
                  ) -> tuple[dict[str, float], dict[str, Any]]:
        labels, ws = self.ws.labels, self.ws
        questions = labels.questions[:limit] if limit else labels.questions
        unanswerable = labels.unanswerable[:limit] if limit else labels.unanswerable
        timing = "ask" if column == "extractive" else f"ask ({column})"
        recall: list[float] = []
        thread_recall: list[float] = []
        rr: list[float] = []
        declines: list[float] = []
        facts: list[float] = []
        cited = cited_answer = cited_thread = 0
        contradictions = 0  # replies whose Why? says "could I answer? yes" while declining, or "no" while answering
        rows: list[dict[str, Any]] = []
        for q in questions:
            channel, user = ws.asker(q.channels)
            reply = await self.handle(self.event(channel, user, command="ask", args=q.question), timing, services)
            contradictions += contradicts(reply)
            ranked = [ws.label_id.get(s) for s in ranked_evidence(reply)]
            answers = set(q.answers)
            threads = {labels.thread_of[a] for a in q.answers if a in labels.thread_of}
            ranked_threads = [labels.thread_of.get(s or "") for s in ranked]
            recall.append(m.recall_at(ranked, answers, TOP_K))
            thread_recall.append(m.recall_at(ranked_threads, threads, TOP_K))
            rr.append(m.reciprocal_rank(ranked, answers))
            was_declined = declined(reply)
            declines.append(1.0 if was_declined else 0.0)
            if not was_declined:
                sources = [ws.label_id.get(c.source_id) for c in reply.citations]
                cited += len(sources)
                cited_answer += sum(1 for s in sources if s in answers)
                cited_thread += sum(1 for s in sources if labels.thread_of.get(s or "") in threads)
                facts.append(1.0 if any(contains_fact(reply.body, f, ws.names) for f in q.facts) else 0.0)
            rows.append({"id": q.id, "question": q.question, "declined": was_declined,
                         "answer_rank": m.first_hit(ranked, answers)})
        unanswered = []
        wrongly_answered: list[dict[str, str]] = []
        for u in unanswerable:
            channel, user = ws.asker([])
            reply = await self.handle(self.event(channel, user, command="ask", args=u.question), timing, services)
            contradictions += contradicts(reply)
            unanswered.append(1.0 if declined(reply) else 0.0)
            if not declined(reply):
                wrongly_answered.append({"id": u.id, "question": u.question, "answer": reply.body[:200]})
        prefix = "ask" if column == "extractive" else f"ask_{column}"
        values = {
            f"{prefix}.recall_at_5": m.mean(recall), f"{prefix}.mrr": m.mean(rr),
            f"{prefix}.thread_recall_at_5": m.mean(thread_recall),
            f"{prefix}.false_decline_rate": m.mean(declines),
            f"{prefix}.citation_precision": cited_answer / cited if cited else 0.0,
            f"{prefix}.citation_thread_precision": cited_thread / cited if cited else 0.0,
            f"{prefix}.fact_rate": m.mean(facts),
            f"{prefix}.unanswerable_decline_rate": m.mean(unanswered),
            f"{prefix}.why_contradictions": float(contradictions),
        }
        details = {"questions": len(questions), "unanswerable": len(unanswerable), "answered": len(facts),
                   "citations": cited, "misses": [r for r in rows if not r["answer_rank"]][:EXAMPLES],
                   "answered_unanswerable": wrongly_answered[:EXAMPLES], "rows": rows}
        return {k: round(v, 4) for k, v in values.items()}, details

    async def paraphrases(self) -> tuple[dict[str, float], dict[str, Any]]:
        """The same questions in words their answering threads never use (only the subject's names)."""
        labels, ws = self.ws.labels, self.ws
        recall: list[float] = []
        thread_recall: list[float] = []
        rr: list[float] = []
        declines: list[float] = []
        facts: list[float] = []
        misses: list[dict[str, Any]] = []
        for p in labels.paraphrases:
            channel, user = ws.asker(p.channels)
            reply = await self.handle(self.event(channel, user, command="ask", args=p.question), "ask")
            ranked = [ws.label_id.get(s) for s in ranked_evidence(reply)]
            answers = set(p.answers)
            threads = {labels.thread_of[a] for a in p.answers if a in labels.thread_of}
            recall.append(m.recall_at(ranked, answers, TOP_K))
            thread_recall.append(m.recall_at([labels.thread_of.get(s or "") for s in ranked], threads, TOP_K))
            rr.append(m.reciprocal_rank(ranked, answers))
            declines.append(1.0 if declined(reply) else 0.0)
            if not declined(reply):
                facts.append(1.0 if any(contains_fact(reply.body, f, ws.names) for f in p.facts) else 0.0)
            if not m.first_hit(ranked, answers) and len(misses) < EXAMPLES:
                misses.append({"id": p.id, "question": p.question, "declined": declined(reply)})
        values = {"paraphrase.recall_at_5": m.mean(recall), "paraphrase.mrr": m.mean(rr),
                  "paraphrase.thread_recall_at_5": m.mean(thread_recall),
                  "paraphrase.false_decline_rate": m.mean(declines), "paraphrase.fact_rate": m.mean(facts)}
        return {k: round(v, 4) for k, v in values.items()}, {"questions": len(labels.paraphrases), "misses": misses}

    async def follow_ups(self) -> tuple[dict[str, float], dict[str, Any]]:
        """Each labelled question is asked in a thread, then its follow-up in the same thread; the
        follow-up counts when it is answered (not declined) citing the labelled thread. Answered citing
        none of it is counted apart: the price of answering more follow-ups."""
        labels, ws = self.ws.labels, self.ws
        by_id = {q.id: q for q in labels.questions}
        right: list[float] = []
        elsewhere: list[float] = []
        in_evidence: list[float] = []
        kept: list[float] = []  # follow-ups of a first answer that cited the labelled thread
        misses: list[dict[str, Any]] = []

        def cited_threads(reply: Reply) -> set[str | None]:
            return {labels.thread_of.get(ws.label_id.get(c.source_id) or "") for c in reply.citations}

        for f in labels.follow_ups:
            first = by_id.get(f.of)
            if first is None:
                continue
            channel, user = ws.asker(first.channels)
            thread = f"eval-{f.id}"
            opening = await self.handle(self.event(channel, user, command="ask", args=first.question,
                                                   thread=thread), "ask")
            reply = await self.handle(self.event(channel, user, text=f.question, thread=thread), "ask (follow-up)")
            threads = set(f.threads)
            first_right = not declined(opening) and bool(threads & cited_threads(opening))
            cited = cited_threads(reply)
            shown = [labels.thread_of.get(ws.label_id.get(s) or "") for s in ranked_evidence(reply)]
            right.append(1.0 if not declined(reply) and cited & threads else 0.0)
            elsewhere.append(1.0 if not declined(reply) and not cited & threads else 0.0)
            in_evidence.append(m.recall_at(shown, threads, TOP_K))
            if first_right:
                kept.append(right[-1])
            if not right[-1] and len(misses) < EXAMPLES:
                note = reply.rationale.conversation
                misses.append({"id": f.id, "first": first.question, "follow_up": f.question,
                               "searched_as": note.searched_as if note else "(not a follow-up)",
                               "declined": next((c for c in reply.rationale.caveats if c.startswith("declined")), "")})
        return ({"followup.answered_from_thread": round(m.mean(right), 4),
                 "followup.answered_elsewhere": round(m.mean(elsewhere), 4),
                 "followup.thread_recall_at_5": round(m.mean(in_evidence), 4),
                 "followup.kept_thread": round(m.mean(kept), 4)},
                {"follow_ups": len(right), "first_answered_right": len(kept), "misses": misses})

    # privacy -----------------------------------------------------------------------------------

    async def privacy(self) -> tuple[dict[str, float], dict[str, Any]]:
        ws = self.ws
        leaks: list[dict[str, str]] = []
        source_leaks = probes = found = 0
        facts = ws.labels.private_facts
        for pf in facts:
            private = ws.channels.get(pf.channel)
            members = set(pf.members)
            outsider = next((u for u in ws.people if u not in members), None)
            insider = sorted(members)[0] if members else None
            public = ws.public[0].external_id
            places = [(f"public #{ws.public[0].name}, member", public, insider, False),
                      (f"public #{ws.public[0].name}, non-member", public, outsider, False),
                      ("DM of a non-member", f"D{outsider}", outsider, True)]
            for query in dict.fromkeys((pf.probe, pf.fact)):
                for where, channel, user, dm in places:
                    if user is None:
                        continue
                    probes += 1
                    reply = await self.handle(self.event(channel, user, command="ask", args=query, dm=dm))
                    # The reply may echo the question (title, searched terms); only what it adds can leak.
                    echo = re.compile(re.escape(query), re.IGNORECASE)
                    said = (echo.sub("", s) for s in strings(reply.model_dump(mode="json")))
                    if any(contains_fact(s, pf.fact, ws.names) for s in said):
                        leaks.append({"fact": pf.fact, "query": query, "where": where})
                    shown = [c.channel for c in reply.citations] + [e.channel for e in reply.rationale.evidence]
                    if pf.channel in shown:
                        source_leaks += 1
                        leaks.append({"fact": pf.fact, "query": query, "where": where, "what": "private source"})
            if private is not None and insider is not None:  # control: the fact is findable by members
                reply = await self.handle(self.event(pf.channel, insider, command="ask", args=pf.fact))
                found += pf.message in {ws.label_id.get(s) for s in ranked_evidence(reply)}
        fact_leaks = sum(1 for leak in leaks if "what" not in leak)
        return ({"privacy.fact_leaks": fact_leaks, "privacy.source_leaks": source_leaks,
                 "privacy.member_found_rate": round(found / len(facts), 4) if facts else 0.0},
                {"facts": len(facts), "probes": probes, "leaks": leaks[:EXAMPLES]})

    # digest ------------------------------------------------------------------------------------

    async def digest(self, settings: Settings, classifier: IntentClassifier, days: int
                     ) -> tuple[dict[str, float], dict[str, Any]]:
        labels, ws = self.ws.labels, self.ws
        by_channel: dict[str, list[tuple[str, list[float]]]] = defaultdict(list)
        for t in labels.threads:
            by_channel[t.channel].append((t.id, sorted(message_time(x) for x in t.messages)))
        model: list[float] = []
        recency: list[float] = []
        model_p: list[float] = []
        recency_p: list[float] = []
        windows: list[dict[str, Any]] = []
        for day in range(days):
            end = labels.now - timedelta(days=day)
            clock = fixed_clock(end)
            services = await build_services(settings, storage=self.services.storage, generator=ExtractiveGenerator(),
                                            classifier=classifier, clock=clock)
            start_s, end_s = (end - timedelta(hours=24)).timestamp(), end.timestamp()
            for channel in sorted(ws.channels.values(), key=lambda c: c.name):
                active = {tid: max(x for x in times if start_s <= x < end_s)
                          for tid, times in by_channel.get(channel.external_id, [])
                          if any(start_s <= x < end_s for x in times)}
                if not active:
                    continue
                gain = {tid: float(labels.thread_by_id[tid].importance) for tid in active}
                reply = await self.handle(self.event(channel.external_id, ws.member(channel), command="digest",
                                                     args=f"now top={DIGEST_TOP}"), services=services)
                items = [i.item_id or "" for s in reply.sections for i in s.items]
                ranked = [f"{channel.external_id}:{i.removeprefix('thread:')}" for i in items]
                by_recency = sorted(active, key=lambda t: -active[t])
                score = m.ndcg_at([gain.get(t, 0.0) for t in ranked], gain.values(), DIGEST_TOP)
                if score is None:
                    continue
                base = m.ndcg_at([gain[t] for t in by_recency], gain.values(), DIGEST_TOP) or 0.0
                model.append(score)
                recency.append(base)
                model_p.append(m.precision_at([gain.get(t, 0.0) >= 2 for t in ranked], DIGEST_TOP))
                recency_p.append(m.precision_at([gain[t] >= 2 for t in by_recency], DIGEST_TOP))
                windows.append({"channel": channel.name, "end": end.isoformat(), "threads": len(active),
                                "ndcg_at_5": round(score, 4), "recency_ndcg_at_5": round(base, 4)})
        values = {"digest.ndcg_at_5": m.mean(model), "digest.recency_ndcg_at_5": m.mean(recency),
                  "digest.ndcg_gain_over_recency": m.mean(model) - m.mean(recency),
                  "digest.precision_at_5": m.mean(model_p), "digest.recency_precision_at_5": m.mean(recency_p)}
        return ({k: round(v, 4) for k, v in values.items()},
                {"windows": len(windows), "days": days, "model": self.services.scorer.version,
                 "trained_on": self.services.scorer.trained_on, "per_window": windows})


def fixed_clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at


@dataclass
class EvalOptions:
    digest_days: int = 7
    llm: TextGenerator | None = None  # an LLM column runs when given
    llm_name: str = "llm"
    llm_limit: int | None = None
    haystack: Path | None = None  # an export to import into the same tenant first (quality at scale)


async def retrieval_summary(services: Services, tenant_id: str) -> dict[str, Any]:
    """What answered: the engine, and with an embedding model how many messages have a vector. A model
    that was unreachable during the import leaves vectors missing, and the run measures words alone:
    say so loudly rather than report it as the model's quality."""
    retriever = services.retriever
    dense = getattr(retriever, "dense", None)
    out: dict[str, Any] = {"engine": getattr(retriever, "name", type(retriever).__name__)}
    if dense is not None:
        out |= {"embeddings_model": dense.model, "vectors": await dense.coverage(tenant_id),
                "not_embedded": dense.missing.get(tenant_id, 0)}
        if out["not_embedded"] or not out["vectors"]:
            log.warning("only %d messages have a %s vector (%d+ missing): is the embedding server up?",
                        out["vectors"], dense.model, out["not_embedded"])
    return out


async def evaluate(path: Path, settings: Settings, options: EvalOptions | None = None) -> dict[str, Any]:
    """All metrics for one labelled workspace; `settings.database_url` must be a scratch database."""
    options = options or EvalOptions()
    labels = Labels.load(path)
    storage = await Storage.open(settings.database_url, auto_upgrade=True)
    classifier = RulesThenClassifier()
    timings = Timings()
    try:
        services = await build_services(settings, storage=storage, generator=ExtractiveGenerator(),
                                        classifier=classifier, clock=fixed_clock(labels.now))
        started = time.perf_counter()
        if options.haystack is not None:
            await SlackExportImporter(services.ingest).run(options.haystack, workspace_id=labels.team_id)
        ws = await load_workspace(services, path, labels)
        await services.retriever.settle(ws.tenant_id)  # index (and embed) everything before the first question
        retrieval = await retrieval_summary(services, ws.tenant_id)
        import_s = time.perf_counter() - started
        ev = Evaluator(services, ws, timings)
        values: dict[str, float] = {}
        details: dict[str, Any] = {}
        steps: list[tuple[str, Callable[[], Awaitable[tuple[dict[str, float], dict[str, Any]]]]]] = [
            ("router", ev.router), ("ask", lambda: ev.ask(services, "extractive")),
            ("paraphrase", ev.paraphrases), ("followup", ev.follow_ups), ("privacy", ev.privacy),
            ("digest", lambda: ev.digest(settings, classifier, options.digest_days))]
        if options.haystack is not None:  # routing and digests are not about finding one thread among many
            steps = [step for step in steps if step[0] not in ("router", "digest")]
        for name, step in steps:
            found, about = await step()
            values |= found
            details[name] = about
        if options.llm is not None:
            llm_services = await build_services(settings, storage=storage, generator=options.llm,
                                                classifier=classifier, clock=fixed_clock(labels.now))
            found, about = await ev.ask(llm_services, options.llm_name, options.llm_limit)
            values |= found
            details[f"ask_{options.llm_name}"] = about
        for skill, summary in timings.summary().items():
            key = skill.replace(" (", "_").replace(")", "")
            values[f"latency.{key}.p50_ms"] = summary["p50_ms"]
            values[f"latency.{key}.p95_ms"] = summary["p95_ms"]
        details["latency"] = timings.summary()
        return {"workspace": {"path": str(path), "seed": labels.seed, "size": labels.size, "team": labels.team_id,
                              "now": labels.now.isoformat(), "messages": ws.messages,
                              "haystack": str(options.haystack) if options.haystack else None,
                              "messages_in_tenant": await storage.messages.count(ws.tenant_id),
                              "threads": len(labels.threads),
                              "questions": len(labels.questions), "unanswerable": len(labels.unanswerable),
                              "utterances": len(labels.utterances), "private_facts": len(labels.private_facts),
                              "import_s": round(import_s, 2), "retrieval": retrieval},
                "metrics": values, "details": details}
    finally:
        await storage.close()
