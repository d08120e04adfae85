"""digest: the channel's most important threads, ranked by an explainable model, and subscriptions.

Grammar (one for Slack, Teams and the playground):
  digest now [24h|7d]            the digest for this channel, now
  digest daily HH:MM [tz=Zone]   every day at that local time
  digest weekly DAY HH:MM [tz=]  every week
  digest on                      subscribe on the channel's default schedule
  digest off | digest status
Whatever is not said comes from the channel's digest defaults (`settings digest …`, bot/rules.py): the
window and top N of `digest` without arguments, the top N and schedule of a new subscription.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import schedule
from bot.backends.importance import Scored, feature_label, global_positions, group_threads, reasons_in_words
from bot.backends.llm.base import with_notice
from bot.evidence import evidence, passage_from_message
from bot.headlines import write_headlines
from bot.models import FollowUp, Inputs, Rationale, Reply, ReplyItem, ReplySection, Trigger, ViewScope
from bot.rules import DigestDefaults, RulesBook
from bot.schedule import next_run
from bot.skill import SkillContext, SkillError, SkillRequest
from bot.text import counted
from bot.timewindow import Window, parse_window
from bot.traffic import bot_user_ids, excluded_note, without_bot_traffic
from bot.visibility import Visibility
from storage import ChannelRecord

__all__ = ["DigestSkill", "Slot", "next_run", "parse_schedule"]

_TZ = re.compile(r"\btz=(\S+)", re.IGNORECASE)
_TOP = re.compile(r"\btop=(\d{1,2})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Slot:
    """The scheduled time a digest run stands for (UTC), and whether it is being sent after its time."""

    at: datetime
    late: bool = False


def parse_schedule(words: list[str]) -> tuple[str, str]:
    """The shared grammar, with its errors turned into something the user is shown."""
    try:
        return schedule.parse_schedule(words)
    except schedule.ScheduleError as exc:
        raise SkillError(str(exc)) from exc


class DigestSkill:
    name = "digest"
    aliases = ("digests", "highlights")
    summary = "The channel's most important threads, now or on a schedule."
    usage = ("digest [now] [24h|7d]", "digest daily HH:MM [tz=Europe/Berlin]", "digest weekly DAY HH:MM", "digest on",
             "digest off", "digest status")
    examples = ("digest now", "digest daily 09:00", "digest weekly mon 09:00 tz=Europe/Berlin")

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        scheduled = request.event.digest
        if scheduled is not None:  # a due slot from the scheduler: typed, nothing to parse
            return await self.build(request, ctx, f"{scheduled.hours}h", scheduled.top_n,
                                    Slot(scheduled.slot, late=scheduled.late))
        args = request.args.strip()
        tz_match = _TZ.search(args)
        top_match = _TOP.search(args)
        args = _TOP.sub("", _TZ.sub("", args)).strip()
        words = args.split()
        verb = words[0].lower() if words else "now"
        defaults = (await RulesBook(ctx.storage, ctx.settings).get(request.tenant_id, request.event.channel)).digest
        top_n = int(top_match.group(1)) if top_match else defaults.top_n
        tz = tz_match.group(1) if tz_match else None
        if verb in ("daily", "weekly") and len(words) > 1:
            return await self._subscribe(request, ctx, words, tz, top_n)
        if verb in ("on", "subscribe", "daily", "weekly"):
            return await self._subscribe_default(request, ctx, defaults, tz, top_n)
        if verb == "off":
            return await self._off(request, ctx)
        if verb == "status":
            return await self._status(request, ctx)
        if verb == "now" or parse_window(args, ctx.clock())[1] == "":
            span = " ".join(words[1:]) if verb == "now" else args
            return await self.build(request, ctx, span or defaults.window, top_n)
        raise SkillError(f"`digest {args}` is not something I know.")

    # the digest itself ---------------------------------------------------------------------------

    async def build(self, request: SkillRequest, ctx: SkillContext, span: str, top_n: int,
                    slot: Slot | None = None) -> Reply:
        started = time.perf_counter()
        viewed = None if slot else await self._in_view(request, ctx)
        channel = viewed or await self._here(request, ctx)
        window, _ = parse_window(span, ctx.clock())
        split = without_bot_traffic(
            await ctx.storage.messages.window(request.tenant_id, [channel.external_id], window.start, window.end),
            await bot_user_ids(ctx, request.tenant_id))
        messages = split.kept
        fetched = time.perf_counter()
        threads = group_threads(messages)
        own = await ctx.storage.channel_weights.get(request.tenant_id, channel.external_id)
        ranked = ctx.scorer.rank(threads, window.end, window.hours,
                                 {channel.external_id: own.weights} if own else None)
        before = global_positions(ctx.scorer, ranked) if own else {}
        rank_ms = round((time.perf_counter() - fetched) * 1000, 2)
        inputs = Inputs(channels=[channel.name], window_start=window.start, window_end=window.end,
                        messages_considered=len(messages), candidates=len(threads),
                        viewing=ViewScope(channel=viewed.external_id, name=viewed.name) if viewed else None)
        slot_notes = await self._slot_notes(request, ctx, slot, channel)
        if not ranked:
            quiet = self._quiet(request, channel, window, inputs)
            return self._with_slot(quiet, slot, slot_notes)
        top = ranked[:top_n]
        headlines = await write_headlines(top, channel.external_id, ctx.generator)
        items: list[ReplyItem] = []
        evidence_items = []
        for position, h in enumerate(headlines.items, start=1):
            scored = h.scored
            moved = self._moved(position, before.get(id(scored)))
            items.append(ReplyItem(text=h.text, link=scored.thread.root.permalink, citation_numbers=h.cited,
                                   item_id=h.item_id, why=self._why(scored, moved)))
            evidence_items.append(evidence(
                passage_from_message(position, scored.thread.root, score=scored.score), channel.external_id,
                used=True, contributions=scored.contributions,
                note=f"{len(scored.thread.messages)} messages" + (f"; {moved}" if moved else "")))
        citations = [c for h in headlines.items for c in h.citations]
        left_out = self._left_out(ranked, top_n)
        if split.excluded:
            left_out.append(excluded_note(split.excluded))
        people = {m.user_external_id for m in messages if not m.is_bot}
        rationale = Rationale(
            skill=self.name, route=request.route, inputs=inputs, evidence=evidence_items,
            generator=headlines.generator,
            left_out=left_out,
            caveats=self._scores_left_out(ranked, top_n)
            + [f"ranking model {ctx.scorer.version} ({ctx.scorer.trained_on})"]
            + ([f"this channel's own weights, refitted from {own.samples} helpful/not helpful vote(s) and blended "
                f"with the global model, ranked these threads"] if own else []),
            timings_ms={"rank": rank_ms, "total_digest": round((time.perf_counter() - started) * 1000, 2)},
        )
        title = (f"Digest for #{channel.name}, {window.label}: {counted(len(threads), 'thread')}, "
                 f"{counted(len(messages), 'message')}, {counted(len(people), 'person', 'people')}")
        body = with_notice(f"The {counted(len(top), 'thread')} most worth your time" + (
            f", of {len(ranked)}." if len(ranked) > len(top) else "."), headlines.notice)
        follow_ups = [] if slot else [FollowUp(label="Subscribe daily", command="digest daily 09:00")]
        reply = Reply(title=title, body=body, sections=[ReplySection(title="Most important", items=items)],
                      citations=citations, rationale=rationale, follow_ups=follow_ups)
        return self._with_slot(reply, slot, slot_notes)

    @staticmethod
    def _moved(position: int, global_position: int | None) -> str:
        """Say when channel feedback, not the global model, put an item where it is."""
        if global_position is None or global_position == position:
            return ""
        direction = "up" if position < global_position else "down"
        return f"this channel's feedback moved it {direction} from {global_position} to {position}"

    @staticmethod
    def _why(scored: Scored, moved: str = "") -> list[str]:
        """Two or three reasons in words; the score and the weights are in the rationale's evidence."""
        lines = reasons_in_words(scored.contributions)
        return [*lines, moved] if moved else lines

    # scheduled runs ----------------------------------------------------------------------------

    @staticmethod
    async def _slot_notes(request: SkillRequest, ctx: SkillContext, slot: Slot | None,
                          channel: ChannelRecord) -> list[str]:
        if slot is None:
            return []
        sub = await ctx.storage.subscriptions.for_channel(request.tenant_id, channel.external_id)
        tz = sub.tz if sub else "UTC"
        local = slot.at.astimezone(ZoneInfo(tz))
        when = f"{local:%a %d %b %H:%M} {tz}"
        if not slot.late:
            return [f"scheduled digest for {when}"]
        minutes = max(0, int((ctx.clock() - slot.at).total_seconds() // 60))
        return [f"sent late: scheduled for {when}, delivered {minutes // 60} h {minutes % 60:02d} min later"]

    @staticmethod
    def _with_slot(reply: Reply, slot: Slot | None, notes: list[str]) -> Reply:
        if slot is None:
            return reply
        rationale = reply.rationale.model_copy(update={"caveats": [*notes, *reply.rationale.caveats]})
        title = f"{reply.title} (late)" if slot.late else reply.title
        body = f"{notes[0][0].upper()}{notes[0][1:]}. {reply.body}" if slot.late else reply.body
        return reply.model_copy(update={"title": title, "body": body, "rationale": rationale})

    @staticmethod
    def _left_out(ranked: list[Scored], top_n: int) -> list[str]:
        rest = ranked[top_n:]
        if not rest:
            return []
        return [f"{counted(len(rest), 'quieter thread')} that ranked lower"]

    @staticmethod
    def _scores_left_out(ranked: list[Scored], top_n: int) -> list[str]:
        """For admins: how close the best thread left out came."""
        rest = ranked[top_n:]
        if not rest:
            return []
        factors = ", ".join(f"{feature_label(k)} {v:+.2f}" for k, v in rest[0].top_factors(2))
        return [f"best thread left out scored {rest[0].score:.2f} vs {ranked[top_n - 1].score:.2f} for the last one "
                f"in ({factors})"]

    def _quiet(self, request: SkillRequest, channel: ChannelRecord, window: Window, inputs: Inputs) -> Reply:
        rationale = Rationale(skill=self.name, route=request.route, inputs=inputs,
                              caveats=["quiet window: no messages to rank"])
        return Reply(title=f"Digest for #{channel.name}, {window.label}: a quiet day",
                     body="Nothing was posted in this window, so there is nothing to rank.", rationale=rationale)

    @staticmethod
    async def _in_view(request: SkillRequest, ctx: SkillContext) -> ChannelRecord | None:
        """`digest now` asked while looking at a channel (Slack's assistant view): that channel, if the asker may
        see it; the digest is shown where they asked."""
        if not request.event.viewing_channel:
            return None
        channels = await ctx.storage.workspace.channels_seen_by(request.tenant_id, request.reader.user,
                                                             request.reader.channel)
        return Visibility(request.reader, request.tenant_id, channels).in_view(request.event.viewing_channel)

    async def _here(self, request: SkillRequest, ctx: SkillContext) -> ChannelRecord:
        await ctx.storage.workspace.ensure_channel(request.tenant_id, request.event.channel)
        channel = await ctx.storage.workspace.channel(request.tenant_id, request.event.channel)
        assert channel is not None
        return channel

    # subscriptions -----------------------------------------------------------------------------

    async def _subscribe_default(self, request: SkillRequest, ctx: SkillContext, defaults: DigestDefaults,
                                 tz: str | None, top_n: int) -> Reply:
        """`digest on`: the channel's default schedule (`settings digest daily 09:00`)."""
        if not defaults.cron or not defaults.description:
            raise SkillError("This channel has no default digest schedule. Say when, e.g. `digest daily 09:00`, "
                             "or set one with `settings digest daily 09:00`.")
        return await self._subscribe(request, ctx, [], tz or defaults.tz, top_n,
                                     preset=(defaults.cron, defaults.description))

    async def _subscribe(self, request: SkillRequest, ctx: SkillContext, words: list[str], tz: str | None,
                         top_n: int, *, preset: tuple[str, str] | None = None) -> Reply:
        if request.event.trigger == Trigger.SCHEDULE:
            raise SkillError("A scheduled digest cannot change subscriptions.")
        cron, description = preset or parse_schedule(words)
        zone = tz or await self._user_tz(request, ctx) or "UTC"
        try:
            schedule.zone(zone)
        except schedule.ScheduleError as exc:
            raise SkillError(str(exc)) from exc
        top_n = max(1, min(top_n, 10))
        channel = await self._here(request, ctx)
        await ctx.storage.subscriptions.subscribe(
            tenant_id=request.tenant_id, platform=request.event.platform.value,
            channel_external_id=channel.external_id, cron=cron, tz=zone, description=description, top_n=top_n,
            created_by=request.event.user, reference=request.event.reference, now=ctx.clock())
        upcoming = schedule.next_run(cron, zone, ctx.clock())
        rationale = Rationale(skill=self.name, route=request.route,
                              caveats=[f"schedule `{cron}` in {zone} (croniter); "
                                       f"next run {upcoming:%Y-%m-%d %H:%M} UTC"])
        return Reply(title="Digest scheduled",
                     body=f"#{channel.name} will get its top {top_n} threads {description} ({zone}). "
                          f"Next one: {upcoming.astimezone(ZoneInfo(zone)):%a %d %b %H:%M} {zone}.",
                     rationale=rationale, follow_ups=[FollowUp(label="Status", command="digest status"),
                                                      FollowUp(label="Turn off", command="digest off")])

    @staticmethod
    async def _user_tz(request: SkillRequest, ctx: SkillContext) -> str | None:
        user = await ctx.storage.workspace.get_user(request.tenant_id, request.event.user)
        return user.tz if user and user.tz else None

    async def _off(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        changed = await ctx.storage.subscriptions.deactivate(request.tenant_id, request.event.channel, ctx.clock())
        rationale = Rationale(skill=self.name, route=request.route)
        body = "Digests for this channel are off." if changed else "This channel had no digest subscription."
        return Reply(title="Digest off" if changed else "No digest to turn off", body=body, rationale=rationale)

    async def _status(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        sub = await ctx.storage.subscriptions.for_channel(request.tenant_id, request.event.channel)
        rationale = Rationale(skill=self.name, route=request.route)
        if sub is None or not sub.active:
            return Reply(title="No digest here", body="This channel has no digest. Try `digest daily 09:00`.",
                         rationale=rationale)
        upcoming = schedule.next_run(sub.cron, sub.tz, ctx.clock() - timedelta(seconds=1))
        creator = await ctx.storage.workspace.get_user(request.tenant_id, sub.created_by)
        by = creator.label if creator else sub.created_by
        runs = await ctx.storage.digest_runs.for_subscription(sub.id)
        last = ""
        if runs:
            run = runs[-1]
            what = {"done": "sent late" if run.late else "sent", "skipped": "skipped", "failed": "failed"}.get(
                run.status, "in progress")
            last = (f" Last: {run.scheduled_for.astimezone(ZoneInfo(sub.tz)):%a %d %b %H:%M}, {what}"
                    + (f" ({run.note})" if run.status in ("skipped", "failed") and run.note else "") + ".")
        return Reply(title="Digest status",
                     body=f"Top {sub.top_n} threads, {sub.description} ({sub.tz}), set up by {by}. "
                          f"Next: {upcoming.astimezone(ZoneInfo(sub.tz)):%a %d %b %H:%M} {sub.tz}.{last}",
                     rationale=rationale)
