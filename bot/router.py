"""The shared router: picks a skill for an event, runs it, and stores the decision behind Why?."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from bot.engagement import classify
from bot.intents import IntentClassifier, IntentPrediction
from bot.models import (
    ChatEvent,
    Conversation,
    ConversationKind,
    ConversationTurn,
    Reader,
    Reply,
    Route,
    RouteKind,
)
from bot.progress import NO_PROGRESS, Progress
from bot.replies import problem_reply
from bot.rules import Authority
from bot.skill import Skill, SkillContext, SkillError, SkillRequest
from bot.visibility import Visibility
from storage import DecisionRecord, message_id, tenant_key

log = logging.getLogger(__name__)

FALLBACK_SKILL = "help"
CONVERSATION_TURNS = 3  # earlier turns of a thread a follow-up sees
# Skills whose answers a thread can continue: ask, and people ("who knows about X?" then "and when was that?"),
# whose cited threads stand for the subject the same way.
FOLLOW_UP_SKILLS = frozenset({"ask", "people"})


def new_decision_id() -> str:
    return "d_" + uuid.uuid4().hex[:20]


def reader_for(event: ChatEvent) -> Reader:
    """Who will see the reply: the asker alone for private replies and DMs, else the channel."""
    private = event.private_reply or event.conversation_kind == ConversationKind.DM
    return Reader(platform=event.platform, tenant=event.tenant, user=event.user, channel=event.channel,
                  private=private)


class Router:
    def __init__(self, skills: Sequence[Skill], classifier: IntentClassifier, ctx: SkillContext) -> None:
        self.skills = {s.name: s for s in skills}
        self.by_word: dict[str, Skill] = {}
        for skill in skills:
            for word in (skill.name, *skill.aliases):
                self.by_word[word.lower()] = skill
        self.classifier = classifier
        self.ctx = ctx

    # routing -----------------------------------------------------------------------------------

    def route(self, event: ChatEvent) -> tuple[Skill, str, Route]:
        """Explicit command first, then the first word, then the classifier, then help."""
        if event.command:
            skill = self.by_word.get(event.command.lower())
            if skill is not None:
                return skill, event.args.strip(), Route(kind=RouteKind.EXPLICIT, skill=skill.name,
                                                        reason=f"explicit command `{event.command}`")
        text = " ".join((event.command or "", event.text if not event.command else event.args)).strip()
        first, _, rest = text.partition(" ")
        word = first.lower().lstrip("/")
        if word in self.by_word:
            skill = self.by_word[word]
            return skill, rest.strip(), Route(kind=RouteKind.EXPLICIT, skill=skill.name,
                                              reason=f"the request starts with the command word `{word}`")
        if not text:
            return self.skills[FALLBACK_SKILL], "", Route(kind=RouteKind.FALLBACK, skill=FALLBACK_SKILL,
                                                          reason="empty request: showing what I can do")
        prediction = self.classifier.predict(text)
        if prediction.skill is not None and prediction.skill in self.skills:
            return self.skills[prediction.skill], text, self._classified(prediction)
        fallback = self._classified(prediction)
        return self.skills[FALLBACK_SKILL], text, fallback.model_copy(update={
            "kind": RouteKind.FALLBACK, "skill": FALLBACK_SKILL,
            "reason": "no skill matched confidently"
                      + (f" (best: {max(prediction.scores, key=prediction.scores.__getitem__)})"
                         if prediction.scores else "") + ": showing help with suggestions",
        })

    def _classified(self, p: IntentPrediction) -> Route:
        kind = RouteKind.KEYWORD if p.method == "keyword_rule" else RouteKind.CLASSIFIER
        name = getattr(self.classifier, "name", p.method)
        reason = (f"{name} matched " + ", ".join(p.evidence.get(p.skill, [])[:4])) if p.skill else name
        return Route(kind=kind, skill=p.skill or FALLBACK_SKILL, reason=reason, scores=p.scores,
                     top_features=p.evidence)

    # handling ----------------------------------------------------------------------------------

    def route_in(self, event: ChatEvent, conversation: Conversation | None) -> tuple[Skill, str, Route]:
        """`route`, but inside a conversation a request that names no skill continues it: the classifier
        learnt standalone requests, and "and who signed that off?" there is not a `people` question nor
        "what happened after that?" a summary. A command word or a keyword rule for summarize or digest
        ("summarize this thread") still wins."""
        skill, args, route = self.route(event)
        if conversation is None or not conversation.turns or route.kind == RouteKind.EXPLICIT:
            return skill, args, route
        ask = self.skills.get("ask")
        if ask is None or skill is ask or (skill.name in ("summarize", "digest") and route.kind == RouteKind.KEYWORD):
            return skill, args, route
        text = event.text.strip()
        return ask, text, route.model_copy(update={
            "kind": RouteKind.KEYWORD, "skill": ask.name,
            "reason": f"continues the conversation in this thread (on its own: {route.skill})"})

    async def conversation(self, event: ChatEvent, tenant_id: str) -> Conversation | None:
        """The earlier turns of the thread `event` was asked in, newest first, that its reader may see
        (same channel; a private answer only for its asker), or None outside a thread whybot answered in.
        Each turn carries the threads its answer cited, or, when it declined, the closest matches it listed
        (in the reply, and all of them in its Why?), but only those this reader may see: the thread's earlier
        asker may have seen more (a private channel they are in, a channel since excluded), and a follow-up
        must not inherit that."""
        if not event.thread_id:
            return None
        records = await self.ctx.storage.decisions.in_thread(tenant_id, event.channel, event.thread_id,
                                                            reader=event.user, limit=CONVERSATION_TURNS)
        records = [r for r in records if r.skill in FOLLOW_UP_SKILLS]
        if not records:
            return None
        visibility = await self.visibility(tenant_id, reader_for(event))
        replies = [Reply.model_validate(r.reply) for r in records]
        sources = [c.source_id for reply in replies for c in reply.citations]
        sources += [e.source_id for reply in replies for e in reply.rationale.evidence]
        ids = list({i for i in map(message_id, sources) if i is not None})
        roots = {m.source_id: (m.channel_external_id, m.thread_root) for m in await self.ctx.storage.messages.get(ids)
                 if visibility.may_see_channel(m.channel_external_id)}
        turns = []
        for reply in replies:
            rationale = reply.rationale
            declined = rationale.declined
            shown = [c.source_id for c in reply.citations
                     if c.source_id in roots or message_id(c.source_id) is None]
            hidden = len(shown) < len(reply.citations)
            cited = [] if declined else shown
            listed = [e.source_id for e in sorted(rationale.evidence, key=lambda e: (-e.score, e.rank))
                      if e.source_id in roots] if declined else []
            asked = rationale.conversation.asked if rationale.conversation else ""
            turns.append(ConversationTurn(
                question=asked or rationale.inputs.query or "", query=rationale.inputs.query or "",
                answer="" if hidden else reply.body[:300], declined=declined, cited=cited,
                cited_threads=list(dict.fromkeys(roots[c] for c in cited if c in roots)),
                listed_threads=list(dict.fromkeys(roots[c] for c in listed if c in roots))))
        return Conversation(thread_id=event.thread_id, turns=turns)

    async def answer(self, event: ChatEvent, tenant_id: str, conversation: Conversation | None = None, *,
                     progress: Progress = NO_PROGRESS, authority: Authority | None = None) -> Reply:
        """Route and run the skill. Never raises for bad input: errors become a helpful reply. The reply
        carries a new decision id; the caller stores it (`save`) once it knows where it will be shown.
        `conversation` is the thread's earlier turns (`conversation()`), loaded once per turn by the caller;
        `authority`, whether the asker may change this channel's rules (the platform says, for `settings`)."""
        started = time.perf_counter()
        skill, args, route = self.route_in(event, conversation)
        reader = reader_for(event)
        request = SkillRequest(event=event, args=args, route=route, reader=reader, tenant_id=tenant_id,
                               conversation=conversation, progress=progress, authority=authority)
        try:
            reply = await skill.run(request, self.ctx)
        except SkillError as exc:
            reply = problem_reply(str(exc), skill, route)
        except Exception:
            log.exception("skill %s failed on event %s", skill.name, event.event_id)
            reply = problem_reply("Something went wrong on my side while answering. "
                                  "It has been logged; please try again.", skill, route)
        timings = dict(reply.rationale.timings_ms)
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        rationale = reply.rationale.model_copy(update={"decision_id": new_decision_id(), "route": route,
                                                       "timings_ms": timings})
        return reply.model_copy(update={
            "rationale": rationale,
            "private": reply.private or event.private_reply,
            "thread_id": reply.thread_id or event.thread_id or event.message_id,
        })

    async def save(self, reply: Reply, event: ChatEvent, tenant_id: str) -> None:
        """Store the decision behind Why?, with who may read it."""
        rationale = reply.rationale
        question, outcome = classify(reply, event)
        await self.ctx.storage.decisions.save(
            decision_id=rationale.decision_id, tenant_id=tenant_id, channel_external_id=event.channel,
            user_external_id=event.user, private=reply.private, skill=rationale.skill,
            rationale=rationale.model_dump(mode="json"), reply=reply.model_dump(mode="json"),
            created_at=rationale.created_at, thread_id=reply.thread_id, question=question, outcome=outcome,
        )

    async def handle(self, event: ChatEvent) -> Reply:
        """Answer and store in one step, for callers without a platform to send to (eval, tests)."""
        tenant_id = await self.ctx.storage.workspace.ensure_tenant(event.platform.value, event.tenant)
        reply = await self.answer(event, tenant_id, await self.conversation(event, tenant_id))
        await self.save(reply, event, tenant_id)
        return reply

    # explaining --------------------------------------------------------------------------------

    async def decision(self, decision_id: str, reader: Reader) -> DecisionRecord | None:
        """The decision if `reader` may look at it; None for unknown, foreign or private-to-someone-else."""
        record = await self.ctx.storage.decisions.get(decision_id)
        if record is None or record.tenant_id != tenant_key(reader.platform.value, reader.tenant):
            return None
        if record.private and record.user_external_id != reader.user:
            return None
        if record.channel_external_id and reader.channel != record.channel_external_id:
            visibility = await self.visibility(record.tenant_id, reader)
            if not visibility.may_see_channel(record.channel_external_id):
                return None
        return record

    async def visibility(self, tenant_id: str, reader: Reader) -> Visibility:
        channels = await self.ctx.storage.workspace.channels_seen_by(tenant_id, reader.user, reader.channel)
        return Visibility(reader, tenant_id, channels)

    async def explain(self, decision_id: str, reader: Reader) -> Reply | None:
        """The stored reply with its rationale trimmed to what `reader` may see, or None."""
        record = await self.decision(decision_id, reader)
        if record is None:
            return None
        reply = Reply.model_validate(record.reply)
        visibility = await self.visibility(record.tenant_id, reader)
        return redact_for(reply, visibility)

    async def feedback(self, decision_id: str, reader: Reader, helpful: bool, item_id: str = "",
                       comment: str = "") -> bool:
        if await self.decision(decision_id, reader) is None:
            return False
        await self.ctx.storage.decisions.record_feedback(decision_id, reader.user, helpful, item_id, comment)
        return True


def redact_for(reply: Reply, visibility: Visibility) -> Reply:
    """Drop citations and evidence from channels the reader cannot see, silently: a note or a count of
    what was dropped would tell the reader that something exists where they cannot look (privacy rule)."""
    rationale = reply.rationale
    evidence = [e for e in rationale.evidence if visibility.may_see_channel(e.channel)]
    citations = [c for c in reply.citations if visibility.may_see_channel(c.channel)]
    rationale = rationale.model_copy(update={"evidence": evidence, "withheld_sources": 0})
    return reply.model_copy(update={"citations": citations, "rationale": rationale})
