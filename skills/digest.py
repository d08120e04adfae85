"""digest: the channel's most important threads, ranked by an explainable model, and subscriptions.

Grammar (one for Slack, Teams and the playground):
  digest now [24h|7d]            the digest for this channel, now
  digest daily HH:MM [tz=Zone]   every day at that local time
  digest weekly DAY HH:MM [tz=]  every week
  digest off | digest status
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from bot.backends.importance import Scored, group_threads
from bot.evidence import citation, evidence, passage_from_message, verified_citations
from bot.models import Citation, FollowUp, Generator, Inputs, Rationale, Reply, ReplyItem, ReplySection, Trigger
from bot.skill import SkillContext, SkillError, SkillRequest
from bot.timewindow import Window, parse_window
from storage import ChannelRecord

DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
_TZ = re.compile(r"\btz=(\S+)", re.IGNORECASE)
_TOP = re.compile(r"\btop=(\d{1,2})\b", re.IGNORECASE)


def parse_schedule(words: list[str]) -> tuple[str, str]:
    """(cron expression, human description) for `daily HH:MM` or `weekly DAY HH:MM`."""
    if not words:
        raise SkillError("Say when: `digest daily 09:00` or `digest weekly mon 09:00`.")
    cadence = words[0].lower()
    if cadence == "daily" and len(words) == 2 and (m := _TIME.match(words[1])):
        hour, minute = int(m.group(1)), int(m.group(2))
        return f"{minute} {hour} * * *", f"daily at {hour:02d}:{minute:02d}"
    if cadence == "weekly" and len(words) == 3 and (m := _TIME.match(words[2])):
        day = words[1].lower()[:3]
        if day not in DAYS:
            raise SkillError(f"`{words[1]}` is not a day: use mon, tue, wed, thu, fri, sat or sun.")
        hour, minute = int(m.group(1)), int(m.group(2))
        return f"{minute} {hour} * * {DAYS[day]}", f"weekly on {day.capitalize()} at {hour:02d}:{minute:02d}"
    raise SkillError("I didn't understand that schedule. Use `digest daily 09:00` or `digest weekly mon 09:00`.")


def next_run(cron: str, tz: str, after: datetime) -> datetime:
    """The next fire time in UTC, computed in the subscriber's zone so DST shifts keep local time."""
    zone = ZoneInfo(tz)
    local = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return local.astimezone(ZoneInfo("UTC"))


class DigestSkill:
    name = "digest"
    aliases = ("digests", "highlights")
    summary = "The channel's most important threads, now or on a schedule."
    usage = ("digest now [24h|7d]", "digest daily HH:MM [tz=Europe/Berlin]", "digest weekly DAY HH:MM",
             "digest off", "digest status")
    examples = ("digest now", "digest daily 09:00", "digest weekly mon 09:00 tz=Europe/Berlin")

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        args = request.args.strip()
        tz_match = _TZ.search(args)
        top_match = _TOP.search(args)
        args = _TOP.sub("", _TZ.sub("", args)).strip()
        words = args.split()
        verb = words[0].lower() if words else "now"
        if verb in ("daily", "weekly"):
            return await self._subscribe(request, ctx, words, tz_match.group(1) if tz_match else None,
                                         int(top_match.group(1)) if top_match else ctx.settings.digest_top_n)
        if verb == "off":
            return await self._off(request, ctx)
        if verb == "status":
            return await self._status(request, ctx)
        if verb == "now" or parse_window(args, ctx.clock())[1] == "":
            top_n = int(top_match.group(1)) if top_match else ctx.settings.digest_top_n
            span = " ".join(words[1:]) if verb == "now" else args
            return await self.build(request, ctx, span, top_n)
        raise SkillError(f"`digest {args}` is not something I know.")

    # the digest itself ---------------------------------------------------------------------------

    async def build(self, request: SkillRequest, ctx: SkillContext, span: str, top_n: int) -> Reply:
        started = time.perf_counter()
        channel = await self._here(request, ctx)
        window, _ = parse_window(span, ctx.clock())
        messages = await ctx.storage.messages.window(request.tenant_id, [channel.external_id], window.start,
                                                     window.end)
        threads = group_threads(messages)
        ranked = ctx.scorer.rank(threads, window.end, window.hours)
        rank_ms = round((time.perf_counter() - started) * 1000, 2)
        inputs = Inputs(channels=[channel.name], window_start=window.start, window_end=window.end,
                        messages_considered=len(messages), candidates=len(threads))
        if not ranked:
            return self._quiet(request, channel, window, inputs)
        top = ranked[:top_n]
        items: list[ReplyItem] = []
        citations: list[Citation] = []
        evidence_items = []
        generator = None
        number = 0
        for position, scored in enumerate(top, start=1):
            passages = [passage_from_message(number + i, m) for i, m in enumerate(scored.thread.messages[:50], 1)]
            number += len(passages)
            draft = await ctx.generator.headline(passages)
            generator = draft.generator
            cited = verified_citations(draft, passages)
            by_number = {p.number: p for p in passages}
            citations += [citation(by_number[n], channel.external_id) for n in cited]
            root = scored.thread.root
            items.append(ReplyItem(text=draft.text, link=root.permalink, citation_numbers=cited,
                                   item_id=f"thread:{root.external_id}", why=self._why(scored)))
            evidence_items.append(evidence(
                passage_from_message(position, root, score=scored.score), channel.external_id, used=True,
                contributions=scored.contributions,
                note=(f"{len(scored.thread.messages)} messages"
                      + ("; channel feedback adjusted this ranking" if scored.adjusted_by_channel else ""))))
        left_out = self._left_out(ranked, top_n)
        people = {m.user_external_id for m in messages if not m.is_bot}
        rationale = Rationale(
            skill=self.name, route=request.route, inputs=inputs, evidence=evidence_items,
            generator=generator or Generator(kind="extractive"),
            left_out=left_out,
            caveats=[f"ranking model {ctx.scorer.version} ({ctx.scorer.trained_on})"],
            timings_ms={"rank": rank_ms, "total_digest": round((time.perf_counter() - started) * 1000, 2)},
        )
        title = (f"Digest for #{channel.name}, {window.label}: {len(threads)} threads, {len(messages)} messages, "
                 f"{len(people)} people")
        body = f"Top {len(top)} by importance." + (f" {left_out[0]}." if left_out else "")
        return Reply(title=title, body=body, sections=[ReplySection(title="Most important", items=items)],
                     citations=citations, rationale=rationale,
                     follow_ups=[FollowUp(label="Subscribe daily", command="digest daily 09:00")])

    @staticmethod
    def _why(scored: Scored) -> list[str]:
        return [f"score {scored.score:.2f}"] + [f"{name.replace('_', ' ')} {value:+.2f}"
                                               for name, value in scored.top_factors(3)]

    @staticmethod
    def _left_out(ranked: list[Scored], top_n: int) -> list[str]:
        rest = ranked[top_n:]
        if not rest:
            return []
        best = rest[0]
        factors = ", ".join(f"{k.replace('_', ' ')} {v:+.2f}" for k, v in best.top_factors(2))
        return [f"{len(rest)} more thread(s) left out; the best of them scored {best.score:.2f} "
                f"vs {ranked[top_n - 1].score:.2f} for the last one in ({factors})"]

    def _quiet(self, request: SkillRequest, channel: ChannelRecord, window: Window, inputs: Inputs) -> Reply:
        rationale = Rationale(skill=self.name, route=request.route, inputs=inputs,
                              caveats=["quiet window: no messages to rank"])
        return Reply(title=f"Digest for #{channel.name}, {window.label}: a quiet day",
                     body="Nothing was posted in this window, so there is nothing to rank.", rationale=rationale)

    async def _here(self, request: SkillRequest, ctx: SkillContext) -> ChannelRecord:
        await ctx.storage.workspace.ensure_channel(request.tenant_id, request.event.channel)
        channel = await ctx.storage.workspace.channel(request.tenant_id, request.event.channel)
        assert channel is not None
        return channel

    # subscriptions -----------------------------------------------------------------------------

    async def _subscribe(self, request: SkillRequest, ctx: SkillContext, words: list[str], tz: str | None,
                         top_n: int) -> Reply:
        if request.event.trigger == Trigger.SCHEDULE:
            raise SkillError("A scheduled digest cannot change subscriptions.")
        cron, description = parse_schedule(words)
        zone = tz or await self._user_tz(request, ctx) or "UTC"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SkillError(f"`{zone}` is not a time zone I know; use a name like Europe/Berlin.") from exc
        top_n = max(1, min(top_n, 10))
        channel = await self._here(request, ctx)
        await ctx.storage.subscriptions.subscribe(
            tenant_id=request.tenant_id, platform=request.event.platform.value,
            channel_external_id=channel.external_id, cron=cron, tz=zone, description=description, top_n=top_n,
            created_by=request.event.user, reference=request.event.reference)
        upcoming = next_run(cron, zone, ctx.clock())
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
        changed = await ctx.storage.subscriptions.deactivate(request.tenant_id, request.event.channel)
        rationale = Rationale(skill=self.name, route=request.route)
        body = "Digests for this channel are off." if changed else "This channel had no digest subscription."
        return Reply(title="Digest off" if changed else "No digest to turn off", body=body, rationale=rationale)

    async def _status(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        sub = await ctx.storage.subscriptions.for_channel(request.tenant_id, request.event.channel)
        rationale = Rationale(skill=self.name, route=request.route)
        if sub is None or not sub.active:
            return Reply(title="No digest here", body="This channel has no digest. Try `digest daily 09:00`.",
                         rationale=rationale)
        upcoming = next_run(sub.cron, sub.tz, ctx.clock() - timedelta(seconds=1))
        creator = await ctx.storage.workspace.get_user(request.tenant_id, sub.created_by)
        by = creator.label if creator else sub.created_by
        return Reply(title="Digest status",
                     body=f"Top {sub.top_n} threads, {sub.description} ({sub.tz}), set up by {by}. "
                          f"Next: {upcoming.astimezone(ZoneInfo(sub.tz)):%a %d %b %H:%M} {sub.tz}.",
                     rationale=rationale)
