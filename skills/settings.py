"""settings: this channel's rules, shown to anyone and changed by the people the platform says may.

Grammar (one for Slack, Teams and the playground):
  settings                                  show the rules here and who may change them
  settings exclude | include                stop reading this channel (and delete what was stored) | read it again
  settings answer mentions | questions      answer only when mentioned | also questions asked without a mention
  settings digest [daily HH:MM | weekly DAY HH:MM | unscheduled] [top N] [24h | 7d] [tz=Zone]
                                            the digest defaults: `digest` without arguments and new subscriptions
Changing a rule changes whybot for everyone here, so it needs the authority the platform grants (the
pipeline asks the surface and hands it in as `SkillRequest.authority`); others get a refusal that says who can.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from bot import schedule
from bot.models import ConversationKind, FollowUp, Rationale, Reply, RouteKind
from bot.naming import channel_label
from bot.rules import AnswerMode, Authority, ChannelRules, DigestDefaults, RulesBook
from bot.skill import SkillContext, SkillError, SkillRequest
from bot.text import counted

USAGE = ("settings", "settings exclude", "settings include", "settings answer mentions|questions",
         "settings digest daily 09:00 top 5 [24h|7d] [tz=Europe/Berlin]")
_TOP = re.compile(r"\btop(?:\s+|=)(\d{1,3})\b", re.IGNORECASE)
_TZ = re.compile(r"\btz=(\S+)", re.IGNORECASE)
_WINDOW = re.compile(r"^(?:last\s*)?(\d{1,3})\s*(h|hours?|d|days?)$", re.IGNORECASE)
_ANSWER_MODES = {"mention": AnswerMode.MENTION, "mentions": AnswerMode.MENTION,
                 "question": AnswerMode.QUESTIONS, "questions": AnswerMode.QUESTIONS}
MAX_WINDOW_HOURS = 24 * 30
_UNSCHEDULED = ("unscheduled", "none", "off", "no-schedule")


def parse_digest_defaults(args: str, current: DigestDefaults, user_tz: str | None) -> DigestDefaults:
    """`daily 09:00 top 5 7d tz=Europe/Berlin` -> the channel's new digest defaults; what is not said stays."""
    top = _TOP.search(args)
    tz = _TZ.search(args)
    words = _TOP.sub(" ", _TZ.sub(" ", args)).split()
    if not words and not top and not tz:
        raise SkillError("Say which digest defaults to set, e.g. `settings digest daily 09:00 top 5`.")
    changes: dict[str, object] = {}
    if top:
        n = int(top.group(1))
        if not 1 <= n <= 10:
            raise SkillError(f"`top {n}`: a digest shows 1 to 10 threads.")
        changes["top_n"] = n
    rest: list[str] = []
    for word in words:
        window = _WINDOW.match(word)
        if window:
            hours = int(window.group(1)) * (24 if window.group(2).lower().startswith("d") else 1)
            if not 1 <= hours <= MAX_WINDOW_HOURS:
                raise SkillError(f"`{word}`: a digest window is 1 hour to 30 days.")
            changes["window_hours"] = hours
        elif word.lower() in _UNSCHEDULED:
            changes.update(cron=None, tz=None, description=None)
        else:
            rest.append(word)
    if rest:
        try:
            cron, description = schedule.parse_schedule(rest)
        except schedule.ScheduleError as exc:
            raise SkillError(f"`{' '.join(rest)}`: {exc}") from exc
        zone = tz.group(1) if tz else (current.tz or user_tz or "UTC")
        changes.update(cron=cron, description=description, tz=zone)
    elif tz:
        if not current.cron:
            raise SkillError("A time zone goes with a schedule: `settings digest daily 09:00 tz=Europe/Berlin`.")
        changes["tz"] = tz.group(1)
    if isinstance(changes.get("tz"), str):
        try:
            schedule.zone(str(changes["tz"]))
        except schedule.ScheduleError as exc:
            raise SkillError(str(exc)) from exc
    return current.model_copy(update=changes)


class SettingsSkill:
    name = "settings"
    aliases = ("setting",)
    summary = "This channel's rules: exclude it, answer questions without a mention, digest defaults."
    usage = USAGE
    examples = ("settings", "settings answer questions", "settings digest daily 09:00 top 5")

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        book = RulesBook(ctx.storage, ctx.settings)
        tenant, channel = request.tenant_id, request.event.channel
        rules = await book.get(tenant, channel)
        words = request.args.split()
        verb = words[0].lower() if words else ""
        if verb in ("", "show", "status", "list"):
            return await self._show(request, ctx, rules)
        actions: dict[str, Callable[[], Awaitable[Reply]]] = {
            "exclude": lambda: self._exclude(request, ctx, book, rules),
            "include": lambda: self._include(request, ctx, book, rules),
            "answer": lambda: self._answer(request, ctx, book, words[1:]),
            "digest": lambda: self._digest(request, ctx, book, rules, request.args.split(None, 1)[1:]),
        }
        action = actions.get(verb)
        if action is None or (verb in ("exclude", "include") and len(words) > 1):
            raise SkillError(f"`settings {request.args.strip()}` is not a setting I know.")
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return await action()

    # showing -------------------------------------------------------------------------------------

    async def _show(self, request: SkillRequest, ctx: SkillContext, rules: ChannelRules) -> Reply:
        name = await self._name(request, ctx)
        authority = request.authority
        lines = rules.lines()
        if authority is not None:
            lines.append(f"**Who can change these:** {authority.who}"
                         + (" (you can)" if authority.may_change else ""))
        follow_ups = []
        if authority is not None and authority.may_change and request.event.conversation_kind == \
                ConversationKind.CHANNEL and not rules.excluded:
            follow_ups.append(FollowUp(label="Answer only mentions", command="settings answer mentions")
                              if rules.answer == AnswerMode.QUESTIONS else
                              FollowUp(label="Also answer questions", command="settings answer questions"))
        return Reply(title=f"Rules for {name}", body="\n".join(lines), follow_ups=follow_ups,
                     rationale=self._rationale(request, []))

    # changing ------------------------------------------------------------------------------------

    def _refusal(self, request: SkillRequest) -> Reply | None:
        authority = request.authority or Authority(may_change=False, who="the people this platform names admins")
        if authority.may_change:
            return None
        rationale = self._rationale(request, ["refused: the asker may not change this channel's rules"])
        return Reply(title="Only some people can change this",
                     body=f"Changing this channel's rules changes whybot for everyone here, so only {authority.who} "
                          "can. Anyone can see them with `settings`.",
                     rationale=rationale, follow_ups=[FollowUp(label="Show the rules", command="settings")])

    async def _exclude(self, request: SkillRequest, ctx: SkillContext, book: RulesBook,
                       rules: ChannelRules) -> Reply:
        if request.event.conversation_kind == ConversationKind.DM:
            raise SkillError("A direct message with me can't be excluded: here I only answer you. "
                             "Exclude channels where others talk.")
        name = await self._name(request, ctx)
        if rules.excluded:
            return Reply(title=f"{name} is already excluded",
                         body="I keep nothing said here. `settings include` lets me read it again.",
                         rationale=self._rationale(request, []))
        done = await book.exclude(request.tenant_id, request.event.channel, by=request.event.user, now=ctx.clock(),
                                  retriever=ctx.retriever)
        removed = counted(done.messages_removed, "message")
        body = (f"I deleted the {removed} I had stored from {name}"
                + (f" and {counted(done.documents_removed, 'document')} tied to it" if done.documents_removed else "")
                + ". From now on I keep nothing said here, never answer from it, and answer nothing here but "
                  "`settings`." + (" Its scheduled digest is off." if done.digest_stopped else "")
                + " `settings include` lets me read it again (what I deleted stays deleted).")
        return Reply(title=f"Excluded {name}", body=body,
                     rationale=self._rationale(request, [f"excluded: {removed} deleted"]))

    async def _include(self, request: SkillRequest, ctx: SkillContext, book: RulesBook,
                       rules: ChannelRules) -> Reply:
        name = await self._name(request, ctx)
        if not rules.excluded:
            return Reply(title=f"I already read {name}", body="Nothing to change.",
                         rationale=self._rationale(request, []))
        await book.include(request.tenant_id, request.event.channel, by=request.event.user, now=ctx.clock())
        return Reply(title=f"I read {name} again",
                     body="From now on I keep what is said here and may answer from it. What I deleted when it was "
                          "excluded stays deleted.",
                     rationale=self._rationale(request, ["included again"]))

    async def _answer(self, request: SkillRequest, ctx: SkillContext, book: RulesBook, words: list[str]) -> Reply:
        mode = _ANSWER_MODES.get(words[0].lower()) if len(words) == 1 else None
        if mode is None:
            raise SkillError("Say `settings answer mentions` (answer only when mentioned) or "
                             "`settings answer questions` (also answer questions asked here without a mention).")
        if mode == AnswerMode.QUESTIONS and request.event.conversation_kind != ConversationKind.CHANNEL:
            raise SkillError("Answering questions without a mention works in channels; here, just ask me.")
        name = await self._name(request, ctx)
        await book.set_answer_mode(request.tenant_id, request.event.channel, mode, by=request.event.user,
                                   now=ctx.clock())
        body = ("From now on I also answer questions asked here without a mention, in the question's thread, "
                "when I find something good enough. I stay out of threads between people."
                if mode == AnswerMode.QUESTIONS else "From now on I answer here only when mentioned.")
        return Reply(title=f"{name}: " + ("answering questions" if mode == AnswerMode.QUESTIONS
                                          else "answering mentions only"),
                     body=body, rationale=self._rationale(request, [f"answer mode set to {mode.value}"]))

    async def _digest(self, request: SkillRequest, ctx: SkillContext, book: RulesBook, rules: ChannelRules,
                      rest: list[str]) -> Reply:
        user = await ctx.storage.workspace.get_user(request.tenant_id, request.event.user)
        defaults = parse_digest_defaults(rest[0] if rest else "", rules.digest, user.tz if user else None)
        name = await self._name(request, ctx)
        await book.set_digest_defaults(request.tenant_id, request.event.channel, defaults, by=request.event.user,
                                       now=ctx.clock())
        hint = " `digest on` subscribes this channel with them." if defaults.cron else ""
        return Reply(title=f"Digest defaults for {name}",
                     body=f"`digest` here now means the {defaults.in_words()}.{hint}",
                     rationale=self._rationale(request, [f"digest defaults: {defaults.in_words()}"]),
                     follow_ups=[FollowUp(label="Digest now", command="digest")])

    # shared --------------------------------------------------------------------------------------

    @staticmethod
    async def _name(request: SkillRequest, ctx: SkillContext) -> str:
        channel = await ctx.storage.workspace.channel(request.tenant_id, request.event.channel)
        if request.event.conversation_kind == ConversationKind.DM:
            return "this chat"
        return channel_label(channel.name if channel else None, "this channel")

    def _rationale(self, request: SkillRequest, caveats: list[str]) -> Rationale:
        authority = request.authority
        rules = [f"changing rules here: {authority.because}" if authority.because
                 else f"changing rules here needs {authority.who}"] if authority is not None else []
        route = request.route
        if route.kind != RouteKind.EXPLICIT:
            caveats = [*caveats, f"routed by {route.kind.value}"]
        return Rationale(skill=self.name, route=route, rules=rules, caveats=caveats)
