"""The turn pipeline: one place where every turn, from any platform, is carried out once.

    context once (tenant, channel, reader, the thread's earlier turns) -> Router.answer
    -> decision stored (with its links)
    -> Surface.send -> where it went stored -> done

A turn may be run again after its worker died. What the first run recorded on the inbox row decides
where the second one starts: a stored decision is resent rather than decided again, and a recorded
post ends the turn. Between "sent" and "recorded" the platform is asked (`find_sent`); a platform
that cannot say stops the turn with PlatformUnsure, and the worker retries later rather than guess.

Before answering, the channel's rules (bot/rules.py) and the asker's rate limits (bot/ratelimit.py) may
decide not to: an excluded channel, a person over their limit, a file or a bot. Then the decision is
stored (skill "none") and the asker is told why, privately (bot/unanswered.py). A question nobody
addressed to whybot (Trigger.UNASKED) is answered only where the channel's rule says so, only when it
found something, and never told anything otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from bot import followup, unanswered
from bot.adapter import HomeSurface, Surface
from bot.home import HomeBuilder
from bot.models import ChatEvent, ConversationKind, Platform, Reader, Reply, Trigger
from bot.naming import channel_label
from bot.progress import NO_PROGRESS, Progress
from bot.ratelimit import RateLimiter
from bot.router import new_decision_id
from bot.rules import Authority, ChannelRules, RulesBook
from bot.scheduler import DigestScheduler
from bot.services import Services
from bot.suggestions import opening
from bot.turns import (
    AnswerTurn,
    ChannelFacts,
    DigestTurn,
    ExplainTurn,
    FeedbackTurn,
    HomeTurn,
    MembershipTurn,
    MessageTurn,
    OpenedTurn,
    PersonFacts,
    Turn,
    UninstallTurn,
)
from storage import tenant_key

log = logging.getLogger(__name__)

NOT_AVAILABLE = "That explanation is not available to you (it may have expired or belong to another conversation)."
FEEDBACK_THANKS = "Thanks, noted. It helps me rank better next time."
RULES_SKILL = "settings"  # answered even in an excluded channel, so it can be included again
UNLIMITED_SKILLS = frozenset({RULES_SKILL, "help"})  # cheap, and how a person finds out what to do
ANSWERED_UNASKED = ("this channel's rule is to answer questions asked here without a mention (`settings answer "
                    "questions`), so I answered without being asked")


class NotReady(RuntimeError):
    """The turn depends on one queued before it that a parallel worker has not finished (an edit of a
    message still being stored): try again shortly rather than drop it."""


class NoSurface(RuntimeError):
    """A turn for a platform this process has no adapter for (its settings are missing here)."""


class TurnRecord(Protocol):
    """The worker's handle on the inbox row: what earlier attempts recorded, and how to record more."""

    key: str
    decision_id: str | None
    posted_ref: dict[str, Any] | None

    async def record_decision(self, decision_id: str) -> None: ...

    async def record_posted(self, posted_ref: dict[str, Any]) -> None: ...


class TurnPipeline:
    def __init__(self, services: Services, surfaces: Mapping[Platform, Surface],
                 digests: DigestScheduler | None = None) -> None:
        self.services = services
        self.surfaces = surfaces
        self.digests = digests or DigestScheduler(services)
        self.rules = RulesBook(services.storage, services.settings)
        self.homes = HomeBuilder(services.storage, services.router, services.clock,
                                 default_top_n=services.settings.digest_top_n, rules=self.rules)
        self.limiter = RateLimiter(services.storage, services.settings, services.clock)

    def surface(self, platform: Platform) -> Surface:
        try:
            return self.surfaces[platform]
        except KeyError:
            raise NoSurface(f"no {platform.value} adapter is configured in this process") from None

    async def run(self, turn: Turn, record: TurnRecord) -> str:
        """Carry out one turn; returns a short note for the inbox row."""
        if isinstance(turn, AnswerTurn):
            return await self._answer_turn(turn, record)
        if isinstance(turn, MessageTurn):
            return await self._message(turn, record)
        if isinstance(turn, ExplainTurn):
            return await self._explain(turn, record)
        if isinstance(turn, FeedbackTurn):
            return await self._feedback(turn)
        if isinstance(turn, HomeTurn):
            return await self._home(turn, record)
        if isinstance(turn, MembershipTurn):
            return await self._membership(turn)
        if isinstance(turn, UninstallTurn):
            return await self._uninstall(turn)
        if isinstance(turn, OpenedTurn):
            return await self._opened(turn)
        if isinstance(turn, DigestTurn):
            outcome = await self.digests.run_one(turn.run_id)
            return f"digest run {turn.run_id}: {outcome}"
        raise TypeError(f"unknown turn {type(turn).__name__}")

    # context -----------------------------------------------------------------------------------

    async def _facts(self, tenant_id: str, channel_id: str, channel: ChannelFacts | None,
                     person: PersonFacts | None, reference: dict[str, Any]) -> None:
        """What the payload told us about the channel and the person (Teams carries it; Slack asks later)."""
        workspace = self.services.storage.workspace
        if channel is not None:
            await workspace.upsert_channel(tenant_id, channel_id, name=channel.name, kind=channel.kind.value,
                                           is_private=channel.is_private, audience_scope=channel.audience_scope)
            for member in channel.members:
                await workspace.add_member(tenant_id, channel_id, member)
        if person is not None:
            await workspace.upsert_user(tenant_id, person.id, name=person.name or None)
            if channel is not None and channel.kind != ConversationKind.CHANNEL:
                await workspace.add_member(tenant_id, channel_id, person.id)
        if reference:
            await self.services.storage.subscriptions.save_reference(tenant_id, channel_id, reference)

    # answering ---------------------------------------------------------------------------------

    async def _answer_turn(self, turn: AnswerTurn, record: TurnRecord) -> str:
        tenant_id = await self.services.ingest.tenant(turn.platform.value, turn.tenant)
        await self._facts(tenant_id, turn.event.channel, turn.channel, turn.person, turn.reference)
        return await self.answer(turn.event, tenant_id, record, unanswerable=turn.unanswerable)

    async def answer(self, event: ChatEvent, tenant_id: str, record: TurnRecord, *,
                     only_in_conversation: bool = False, unanswerable: unanswered.Reason | None = None) -> str:
        """Answer `event` once. With `only_in_conversation`, only when whybot answered in its thread before;
        with `unanswerable`, not at all (the asker is told why)."""
        if record.posted_ref:
            if record.decision_id and "not_answered" not in record.posted_ref:  # it may have died in between
                await self.services.storage.decisions.set_posted_ref(record.decision_id, record.posted_ref)
            return "already posted by an earlier attempt"
        surface = self.surface(event.platform)
        reply: Reply | None = None
        progress: Progress = NO_PROGRESS  # a resent decision shows no progress: it is already written
        if record.decision_id:  # an earlier attempt decided and may have sent: resend the same answer, once
            stored = await self.services.storage.decisions.get(record.decision_id)
            reason = unanswered.reason_of(stored) if stored is not None else None
            if stored is not None and reason is not None:  # decided not to answer: tell the asker (again)
                return await self._tell(event, record, Reply.model_validate(stored.reply), reason)
            if stored is not None:
                reply = Reply.model_validate(stored.reply)
                found = await surface.find_sent(event, record.key, reply.decision_id)
                if found is not None:
                    await self._posted(record, reply, found)
                    return "found already posted on the platform; not sent again"
        if reply is None:
            decided = await self._decide(event, tenant_id, record, surface, only_in_conversation=only_in_conversation,
                                         unanswerable=unanswerable)
            if isinstance(decided, str):
                return decided
            reply, progress = decided
        posted = await progress.finish(reply, key=record.key) or await surface.send(event, reply, key=record.key)
        await self._posted(record, reply, posted)
        if reply.private_note and not reply.private:
            await surface.notify({**event.reference, "channel": event.channel, "team_id": event.tenant},
                                 event.user, reply.private_note)
        return f"answered with {reply.decision_id}"

    async def _decide(self, event: ChatEvent, tenant_id: str, record: TurnRecord, surface: Surface, *,
                      only_in_conversation: bool, unanswerable: unanswered.Reason | None
                      ) -> str | tuple[Reply, Progress]:
        """The reply to send (stored, with the progress that shows it), or why there is none (a note)."""
        router = self.services.router
        unasked = event.trigger == Trigger.UNASKED
        rules = await self.rules.get(tenant_id, event.channel)
        if unasked and not rules.answers_unasked:
            return "stored: not addressed to whybot, in a channel that answers mentions only"
        conversation = None
        if only_in_conversation:
            conversation = await router.conversation(event, tenant_id)
            if conversation is None or not followup.is_question(event.text):
                return "stored: not a question in a thread whybot answered in"
        if unasked:  # a plain question: searched as asked, whatever else its words resemble
            event = event.model_copy(update={"command": "ask", "args": event.text})
        skill, _, _ = router.route(event)
        if unanswerable is not None:
            text = unanswered.UNREADABLE_TEXT if unanswerable == unanswered.Reason.UNREADABLE else \
                unanswered.NOT_A_PERSON_TEXT
            return await self._not_answered(event, tenant_id, record, unanswerable, text)
        if rules.excluded and skill.name != RULES_SKILL:
            return await self._not_answered(event, tenant_id, record, unanswered.Reason.EXCLUDED,
                                            await self._excluded_text(tenant_id, event, rules))
        if skill.name not in UNLIMITED_SKILLS:
            verdict = await self.limiter.admit(tenant_id, event.user, record.key)
            if not verdict.allowed:
                if unasked:  # they did not ask whybot, so there is nothing to tell them
                    return f"not answered unasked: the asker is over their limit per {verdict.window}"
                return await self._not_answered(event, tenant_id, record, unanswered.Reason.RATE_LIMITED,
                                                verdict.message)
        event = await surface.learn(tenant_id, event)
        started = time.perf_counter()
        if not only_in_conversation:
            conversation = await router.conversation(event, tenant_id)  # context, once
        authority = await surface.rules_authority(tenant_id, event) if skill.name == RULES_SKILL else None
        # Nobody is waiting on an unasked question, and it may go unanswered: no progress to show.
        progress = NO_PROGRESS if unasked else await surface.progress(event, record.key)
        reply = await router.answer(event, tenant_id, conversation, progress=progress, authority=authority)
        if unasked:
            if reply.rationale.declined or reply.rationale.skill != "ask":
                return "not answered unasked: nothing good enough to say"
            reply = reply.model_copy(update={"rationale": reply.rationale.model_copy(
                update={"rules": [*reply.rationale.rules, ANSWERED_UNASKED]})})
        reply = await surface.with_links(event.tenant, reply)
        await router.save(reply, event, tenant_id)
        await record.record_decision(reply.decision_id)
        name = reply.rationale.skill
        self.services.metrics.reply_seconds.labels(name).observe(time.perf_counter() - started)
        self.services.metrics.replies.labels(event.platform.value, name).inc()
        return reply, progress

    async def _excluded_text(self, tenant_id: str, event: ChatEvent, rules: ChannelRules) -> str:
        channel = await self.services.storage.workspace.channel(tenant_id, event.channel)
        name = channel_label(channel.name if channel else None, "this channel")
        return unanswered.excluded_text(name, rules.excluded_at)

    async def _not_answered(self, event: ChatEvent, tenant_id: str, record: TurnRecord,
                            reason: unanswered.Reason, text: str) -> str:
        """Store the decision not to answer (so Why?, App Home and stats see it), then tell the asker."""
        reply = unanswered.reply_for(event, reason, text, new_decision_id())
        await self.services.router.save(reply, event, tenant_id)
        await record.record_decision(reply.decision_id)
        self.services.metrics.not_answered.labels(event.platform.value, reason.value).inc()
        return await self._tell(event, record, reply, reason)

    async def _tell(self, event: ChatEvent, record: TurnRecord, reply: Reply, reason: unanswered.Reason) -> str:
        """Why there is no answer, to the asker alone; recorded on the turn (the playground shows it from there)."""
        if unanswered.tells_the_asker(reason):
            await self.surface(event.platform).notify(
                {**event.reference, "channel": event.channel, "team_id": event.tenant}, event.user, reply.body)
        await record.record_posted({"not_answered": reply.decision_id, "reason": reason.value, "note": reply.body})
        return f"not answered ({reason.value}): {reply.decision_id}"

    async def _posted(self, record: TurnRecord, reply: Reply, posted: dict[str, Any]) -> None:
        await record.record_posted(posted)  # the turn first: a retry that finds it posted repairs the decision
        await self.services.storage.decisions.set_posted_ref(reply.decision_id, posted)

    # history -----------------------------------------------------------------------------------

    async def _message(self, turn: MessageTurn, record: TurnRecord) -> str:
        ingest = self.services.ingest
        tenant_id = await ingest.tenant(turn.platform.value, turn.tenant)
        await self._facts(tenant_id, turn.channel_id, turn.channel, turn.person, turn.reference)
        surface = self.surface(turn.platform)
        if (await self.rules.get(tenant_id, turn.channel_id)).excluded:  # nothing said here is kept
            if turn.answer is not None and turn.op == "new":
                return await self.answer(turn.answer, tenant_id, record,
                                         only_in_conversation=turn.answer_in_conversation_only,
                                         unanswerable=turn.unanswerable)
            return f"{turn.op} in an excluded channel: not stored"
        if turn.op in ("edit", "delete", "undelete"):
            found: object
            if turn.op == "edit":
                found = await ingest.edit(tenant_id, turn.channel_id, turn.external_id, turn.text, turn.edited_at)
            elif turn.op == "delete":
                found = await ingest.delete(tenant_id, turn.channel_id, turn.external_id)
            else:
                found = await ingest.undelete(tenant_id, turn.channel_id, turn.external_id, turn.text,
                                              turn.edited_at)
            if not found:
                raise NotReady(f"{turn.op} of message {turn.external_id}, which is not stored (yet)")
            return f"{turn.op} applied"
        assert turn.message is not None
        user = turn.message.user_external_id if not turn.message.is_bot else None
        await surface.learn_channel(tenant_id, turn.tenant, turn.channel_id, user, turn.channel_hint)
        note = "stored"
        if turn.answer is not None:  # answered before it is stored, so a question is never its own evidence
            note = await self.answer(turn.answer, tenant_id, record,
                                     only_in_conversation=turn.answer_in_conversation_only,
                                     unanswerable=turn.unanswerable)
            if self.services.router.route(turn.answer)[0].name == RULES_SKILL and \
                    (await self.rules.get(tenant_id, turn.channel_id)).excluded:  # it was `settings exclude`
                return note
        await ingest.message(tenant_id, turn.message)
        return note

    # clicks ------------------------------------------------------------------------------------

    async def _explain(self, turn: ExplainTurn, record: TurnRecord) -> str:
        surface = self.surface(turn.platform)
        router = self.services.router
        reply = await router.explain(turn.decision_id, turn.reader)
        if reply is None:
            await surface.notify(turn.reference, turn.reader.user, NOT_AVAILABLE)
            return "not available to this reader"
        stored = await self.services.storage.decisions.get(turn.decision_id)
        if turn.expanded:
            self.services.metrics.why_clicks.labels(turn.platform.value).inc()
            if stored is not None:
                await self.services.storage.engagement.record_open(
                    record.key, stored.id, stored.tenant_id, turn.reader.user, admin=turn.admin,
                    at=self.services.clock())
        reference = {**((stored.posted_ref or {}) if stored is not None else {}), **turn.reference}
        await surface.update(reference, turn.reader.private, reply, expanded=turn.expanded, admin=turn.admin)
        return "expanded" if turn.expanded else "folded"

    async def _feedback(self, turn: FeedbackTurn) -> str:
        decision_id = turn.decision_id or await self.services.storage.decisions.posted_as(
            tenant_key(turn.platform.value, turn.tenant), turn.reader.channel or "", turn.message_id)
        ok = bool(decision_id) and await self.services.router.feedback(
            decision_id or "", turn.reader, turn.helpful, turn.item_id, turn.comment)
        if not turn.acknowledged:  # a native control has thanked the person itself; unknown ids stay silent
            await self.surface(turn.platform).notify(turn.reference, turn.reader.user,
                                                     FEEDBACK_THANKS if ok else NOT_AVAILABLE)
        return "recorded" if ok else "not available to this reader"

    # conversations opened in the platform's assistant view --------------------------------------

    async def _opened(self, turn: OpenedTurn) -> str:
        """Prompts built for the one person reading them (in private), around the channel in view if they
        may see it; that channel is passed on only then, so it never becomes the scope of an answer otherwise."""
        tenant_id = await self.services.ingest.tenant(turn.platform.value, turn.tenant)
        surface = self.surface(turn.platform)
        await surface.learn_channel(tenant_id, turn.tenant, turn.channel_id, turn.user, "im")
        reader = Reader(platform=turn.platform, tenant=turn.tenant, user=turn.user, channel=turn.channel_id,
                        private=True)
        shown = await opening(self.services.storage, tenant_id, reader, turn.viewing_channel, greet=turn.greet)
        await surface.opened(turn, shown)
        return f"opened: {len(shown.suggestions)} prompts" + (", in view: a channel" if shown.viewing_channel else "")

    # home --------------------------------------------------------------------------------------

    async def _home(self, turn: HomeTurn, record: TurnRecord) -> str:
        """Apply a change made at home, then draw the home again for its one reader."""
        surface = self.surface(turn.platform)
        if not isinstance(surface, HomeSurface):
            return f"{turn.platform.value} has no home to draw"
        tenant_id = await self.services.ingest.tenant(turn.platform.value, turn.tenant)
        await surface.learn_person(tenant_id, turn.tenant, turn.user)
        reader = Reader(platform=turn.platform, tenant=turn.tenant, user=turn.user, private=True)
        notice = None

        async def authority_of(event: ChatEvent) -> Authority:  # as for `/whybot settings` in that channel
            return await surface.rules_authority(tenant_id, event)

        if turn.change is not None:
            if turn.change.op == "subscribe":  # a channel picked from the platform's own list: learn it first
                await surface.learn_channel(tenant_id, turn.tenant, turn.change.channel, None, None)
            notice = await self.homes.apply(tenant_id, reader, turn.change, authority_of)
        admin = await surface.is_admin(turn.tenant, turn.user)
        home = await self.homes.build(tenant_id, reader, admin=admin, why=turn.why, notice=notice,
                                      authority_of=authority_of)
        if home.opened is not None:
            self.services.metrics.why_clicks.labels(turn.platform.value).inc()
            await self.services.storage.engagement.record_open(record.key, home.opened, tenant_id, turn.user,
                                                               admin=False, at=self.services.clock())
        await surface.publish_home(turn.tenant, turn.user, home)
        return "home drawn" + (f" after {turn.change.op} {turn.change.channel}" if turn.change else "") + (
            f" with {home.opened} open" if home.opened else "") + (" (admin)" if admin else "")

    # membership and installs -------------------------------------------------------------------

    async def _membership(self, turn: MembershipTurn) -> str:
        tenant_id = await self.services.ingest.tenant(turn.platform.value, turn.tenant)
        conversation = turn.reference.get("conversation")
        await self._facts(tenant_id, turn.channel_id, turn.channel, turn.person,
                          conversation if isinstance(conversation, dict) else {})
        if turn.is_bot:
            if turn.joined:
                if (await self.rules.get(tenant_id, turn.channel_id)).excluded:
                    return "joined an excluded channel: its history is not read"
                await self.surface(turn.platform).joined(tenant_id, turn.tenant, turn.channel_id, turn.reference)
                return "joined: channel learned"
            return "the bot left"
        workspace = self.services.storage.workspace
        if turn.joined:
            await workspace.add_member(tenant_id, turn.channel_id, turn.user)
        else:
            await workspace.remove_member(tenant_id, turn.channel_id, turn.user)
        return "member added" if turn.joined else "member removed"

    async def _uninstall(self, turn: UninstallTurn) -> str:
        await self.surface(turn.platform).forget(turn.tenant, turn.detail)
        if not turn.forget_data:
            log.info("workspace %s: %s; keeping its data (WHYBOT_DELETE_DATA_ON_UNINSTALL=false)", turn.tenant,
                     turn.reason)
            return "kept the data"
        await self.services.ingest.forget_tenant(tenant_key(turn.platform.value, turn.tenant))
        log.info("workspace %s: %s; deleted its data", turn.tenant, turn.reason)
        return "forgot the workspace"
