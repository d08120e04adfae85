"""Someone's home (Slack's App Home): their digest subscriptions, which they can change there, their recent
questions with Why?, and for admins the knowledge gaps and engagement. Platform-neutral: the core builds
a `Home`, an adapter draws it (adapters/slack/home.py).

Everything in a home is for its one reader, who sees it in private: subscriptions in channels they may
see, their own questions, and admin numbers counted over the decisions they may open (bot/engagement.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from bot import schedule
from bot.engagement import Access, Engagement, engagement
from bot.gaps import KnowledgeGaps, knowledge_gaps, where_asked
from bot.home_rules import AuthorityOf, HomeRule, change_rule, rules_section
from bot.models import ChatEvent, Reader, Reply
from bot.router import Router
from bot.rules import Authority, RulesBook
from bot.turns import HomeChange
from bot.visibility import Visibility
from storage import ChannelRecord, Storage, SubscriptionRecord

SCHEDULES = ("daily 08:00", "daily 09:00", "daily 17:00", "weekly mon 09:00", "weekly fri 16:00")
DEFAULT_SCHEDULE = "daily 09:00"
RECENT = 8
MAX_SUBSCRIPTIONS = 15
HOME_WEEKS = 4
GAP_WINDOW = timedelta(days=7)
NOT_AVAILABLE = "That explanation is not available to you any more."
CANNOT_REACH = ("I can't set up a digest there: invite me to that channel first (mention me in it, or add me "
                "with `/invite`), then try again here.")


class ScheduleChoice(BaseModel):
    words: str = Field(description="the digest grammar, e.g. `daily 09:00`")
    description: str = Field(description="for people, e.g. 'daily at 09:00'")


class HomeSubscription(BaseModel):
    channel_id: str
    channel_name: str
    description: str
    tz: str
    top_n: int
    schedule: str = Field(default="", description="the matching choice in `Home.schedules`, '' if none")
    next_run: datetime | None = None


class RecentQuestion(BaseModel):
    decision_id: str
    question: str
    outcome: str
    where: str
    asked_at: datetime
    why: Reply | None = Field(default=None, description="the rationale, when its reader opened it here")


class AdminHome(BaseModel):
    gaps: KnowledgeGaps
    engagement: Engagement


class Home(BaseModel):
    tenant: str
    user: str
    generated_at: datetime
    notice: str | None = Field(default=None, description="what the last change did, or why it did not")
    subscriptions: list[HomeSubscription] = Field(default_factory=list)
    more_subscriptions: int = Field(default=0, description="set up by this person but not listed (too many)")
    schedules: list[ScheduleChoice] = Field(default_factory=list)
    recent: list[RecentQuestion] = Field(default_factory=list)
    admin: AdminHome | None = Field(default=None, description="only for workspace admins")
    rules: list[HomeRule] = Field(default_factory=list, description="rules of channels this person may see")
    more_rules: int = Field(default=0, description="channels they may see whose rules are not listed")

    @property
    def opened(self) -> str | None:
        return next((q.decision_id for q in self.recent if q.why is not None), None)


async def _nobody(event: ChatEvent) -> Authority:
    return Authority(may_change=False, who="the people this platform names admins")


def schedule_choices() -> list[ScheduleChoice]:
    return [ScheduleChoice(words=w, description=schedule.parse_schedule(w.split())[1]) for w in SCHEDULES]


def _choice_for(cron: str, choices: list[ScheduleChoice]) -> str:
    return next((c.words for c in choices if schedule.parse_schedule(c.words.split())[0] == cron), "")


class HomeBuilder:
    def __init__(self, storage: Storage, router: Router, clock: Callable[[], datetime], *,
                 default_top_n: int = 5, rules: RulesBook | None = None) -> None:
        self.storage = storage
        self.router = router
        self.clock = clock
        self.default_top_n = default_top_n
        self.rules = rules

    # changes -----------------------------------------------------------------------------------

    async def apply(self, tenant_id: str, reader: Reader, change: HomeChange,
                    authority_of: AuthorityOf | None = None) -> str:
        """Carry out a change made in the home; returns what to tell its reader. A channel whybot does not
        know and one the reader may not see get the same answer (no existence leaks). A rule change needs
        the platform's word on who may (`authority_of`); without it, it is refused."""
        if change.is_rule:
            seen = await self.storage.workspace.channels_seen_by(tenant_id, reader.user, reader.channel)
            return await change_rule(self.router, tenant_id, reader, change, seen, authority_of or _nobody)
        channel = await self.storage.workspace.channel(tenant_id, change.channel)
        if channel is None or channel.kind == "dm":
            return CANNOT_REACH
        visibility = Visibility(reader, tenant_id, [channel])
        if not visibility.may_see_channel(channel.external_id):
            return CANNOT_REACH
        label = where_asked(channel)
        subs = self.storage.subscriptions
        existing = await subs.for_channel(tenant_id, channel.external_id)
        active = existing if existing is not None and existing.active else None
        if change.op == "unsubscribe":
            if active is None:
                return f"{label} has no digest to turn off."
            await subs.deactivate(tenant_id, channel.external_id, self.clock())
            return f"Digests for {label} are off."
        if change.op == "subscribe" and active is not None:
            return f"{label} already gets a digest {active.description} ({active.tz})."
        if change.op == "reschedule" and active is None:
            return f"{label} has no digest to change; add one below."
        try:
            cron, description = schedule.parse_schedule((change.schedule or DEFAULT_SCHEDULE).split())
        except schedule.ScheduleError as exc:
            return str(exc)
        tz = active.tz if active is not None else await self._tz(tenant_id, reader.user)
        top_n = active.top_n if active is not None else self.default_top_n
        await subs.subscribe(tenant_id=tenant_id, platform=reader.platform.value,
                             channel_external_id=channel.external_id, cron=cron, tz=tz, description=description,
                             top_n=top_n, created_by=reader.user,
                             reference=existing.reference if existing is not None else {}, now=self.clock())
        return f"{label} will get its top {top_n} threads {description} ({tz})."

    async def _tz(self, tenant_id: str, user: str) -> str:
        person = await self.storage.workspace.get_user(tenant_id, user)
        tz = person.tz if person is not None and person.tz else "UTC"
        try:
            schedule.zone(tz)
        except schedule.ScheduleError:
            return "UTC"
        return tz

    # the home ----------------------------------------------------------------------------------

    async def build(self, tenant_id: str, reader: Reader, *, admin: bool, why: str | None = None,
                    notice: str | None = None, authority_of: AuthorityOf | None = None) -> Home:
        """`reader`'s home; with `why`, that recent question's rationale open, trimmed for them. With
        `authority_of` (and a RulesBook), the rules of the channels they may see, with controls where they
        may change them."""
        now = self.clock()
        channels = await self.storage.workspace.channels_seen_by(tenant_id, reader.user, reader.channel)
        by_id = {c.external_id: c for c in channels}
        visibility = Visibility(reader, tenant_id, channels)
        may_see = Access(reader, visibility)
        choices = schedule_choices()
        mine = [s for s in await self.storage.subscriptions.set_up_by(tenant_id, reader.user)
                if visibility.may_see_channel(s.channel_external_id)]
        subscriptions = [self._subscription(s, by_id.get(s.channel_external_id), choices, now)
                         for s in mine[:MAX_SUBSCRIPTIONS]]
        asked = [q for q in await self.storage.engagement.recent_questions(tenant_id, reader.user, limit=RECENT * 2)
                 if may_see(q.audience)][:RECENT]
        recent: list[RecentQuestion] = []
        for q in asked:
            opened = await self.router.explain(q.decision_id, reader) if q.decision_id == why else None
            recent.append(RecentQuestion(decision_id=q.decision_id, question=q.question or "(not recorded)",
                                         outcome=q.outcome, where=where_asked(by_id.get(q.channel_external_id or "")),
                                         asked_at=q.created_at, why=opened))
        if why is not None and not any(q.why for q in recent):
            notice = notice or NOT_AVAILABLE
        admin_home = None
        if admin:
            admin_home = AdminHome(
                gaps=await knowledge_gaps(self.storage, tenant_id, now - GAP_WINDOW, now, may_see=may_see),
                engagement=await engagement(self.storage, tenant_id, now, weeks=HOME_WEEKS, may_see=may_see))
        rules = await rules_section(self.rules, tenant_id, reader, channels, authority_of) \
            if self.rules is not None and authority_of is not None else None
        return Home(tenant=reader.tenant, user=reader.user, generated_at=now, notice=notice,
                    subscriptions=subscriptions, more_subscriptions=max(0, len(mine) - MAX_SUBSCRIPTIONS),
                    schedules=choices, recent=recent, admin=admin_home, rules=rules.rules if rules else [],
                    more_rules=rules.more if rules else 0)

    @staticmethod
    def _subscription(sub: SubscriptionRecord, channel: ChannelRecord | None, choices: list[ScheduleChoice],
                      now: datetime) -> HomeSubscription:
        try:
            upcoming: datetime | None = schedule.next_run(sub.cron, sub.tz, now)
        except (schedule.ScheduleError, ValueError, KeyError):
            upcoming = None
        return HomeSubscription(channel_id=sub.channel_external_id, channel_name=where_asked(channel),
                                description=sub.description, tz=sub.tz, top_n=sub.top_n,
                                schedule=_choice_for(sub.cron, choices), next_run=upcoming)
