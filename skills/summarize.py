"""summarize: a thread, or a channel over a time window, with every point cited."""

from __future__ import annotations

import re
import time

from bot.backends.importance import group_threads, reasons_in_words
from bot.backends.llm.base import with_notice
from bot.evidence import citation, evidence, passage_from_message, verified_citations
from bot.headlines import write_headlines
from bot.models import FollowUp, Inputs, Rationale, Reply, ReplyItem, ReplySection, ViewScope
from bot.references import ChannelRef, find_channel_ref
from bot.skill import SkillContext, SkillError, SkillRequest
from bot.text import counted
from bot.timewindow import Window, mentions_window, parse_window
from bot.traffic import bot_user_ids, excluded_note, without_bot_traffic
from bot.visibility import Visibility
from storage import ChannelRecord

MAX_THREAD_MESSAGES = 400
MAX_CHANNEL_THREADS = 8
_THREAD_WORD = re.compile(r"\b(this\s+)?thread\b", re.IGNORECASE)


def viewed_from(reply: Reply, viewed: ChannelRecord | None) -> Reply:
    """The reply with the channel in view noted in its Why? (it chose the channel, not the question)."""
    if viewed is None:
        return reply
    inputs = reply.rationale.inputs.model_copy(update={"viewing": ViewScope(channel=viewed.external_id,
                                                                            name=viewed.name)})
    return reply.model_copy(update={"rationale": reply.rationale.model_copy(update={"inputs": inputs})})


class SummarizeSkill:
    name = "summarize"
    aliases = ("summarise", "summary", "tldr", "recap")
    summary = "Summarize this thread, or a channel over a time window."
    usage = ("summarize  (in a thread: that thread; elsewhere: this channel, last 24h)",
             "summarize thread", "summarize #channel last 7d")
    examples = ("summarize #incidents last 24h", "summarize thread")

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        args = request.args.strip()
        ref, rest = find_channel_ref(args)
        channels = await ctx.storage.workspace.channels_seen_by(request.tenant_id, request.reader.user,
                                                             request.reader.channel)
        visibility = Visibility(request.reader, request.tenant_id, channels)
        viewed = visibility.in_view(request.event.viewing_channel) if ref is None else None
        channel = viewed or await self._channel(request, ctx, ref, visibility)
        wants_thread = bool(_THREAD_WORD.search(rest))
        window, _ = parse_window(_THREAD_WORD.sub("", rest), ctx.clock())
        here_thread = request.event.thread_id if viewed is None else None  # not the thread asked in: the view's
        if ref is None and ((here_thread and not mentions_window(args)) or wants_thread):
            root = here_thread or await ctx.storage.messages.latest_thread_root(
                request.tenant_id, channel.external_id, before=request.event.received_at)
            if root is None:
                raise SkillError("There is no thread here to summarize yet.")
            reply = await self._thread(request, ctx, channel, root)
        else:
            reply = await self._channel_window(request, ctx, channel, window)
        return viewed_from(reply, viewed)

    async def _channel(self, request: SkillRequest, ctx: SkillContext, ref: ChannelRef | None,
                       visibility: Visibility) -> ChannelRecord:
        if ref is not None:
            found = (visibility.channel(ref.external_id) if ref.external_id else None) or (
                await ctx.storage.workspace.channel_by_name(request.tenant_id, ref.name) if ref.name else None)
            if found is None or not visibility.may_see_channel(found.external_id):
                label = ref.name or ref.external_id
                raise SkillError(f"I can't find a channel #{label} that everyone reading this may see.")
            return found
        here = visibility.channel(request.event.channel)
        if here is None:
            await ctx.storage.workspace.ensure_channel(request.tenant_id, request.event.channel)
            here = await ctx.storage.workspace.channel(request.tenant_id, request.event.channel)
        assert here is not None
        return here

    async def _thread(self, request: SkillRequest, ctx: SkillContext, channel: ChannelRecord, root: str) -> Reply:
        started = time.perf_counter()
        thread = await ctx.storage.messages.thread(request.tenant_id, channel.external_id, root)
        split = without_bot_traffic([m for m in thread if not m.is_bot], await bot_user_ids(ctx, request.tenant_id))
        messages = split.kept
        if not messages:
            raise SkillError("That thread has no messages I can read.")
        clipped = messages[-MAX_THREAD_MESSAGES:]
        passages = [passage_from_message(i, m) for i, m in enumerate(clipped, start=1)]
        draft = await ctx.generator.summarize(passages, max_points=6)
        cited = verified_citations(draft, passages)
        by_number = {p.number: p for p in passages}
        people = sorted({m.user_name for m in messages})
        inputs = Inputs(channels=[channel.name], window_start=messages[0].created_at,
                        window_end=messages[-1].created_at, messages_considered=len(messages))
        left_out = [f"{len(messages) - len(clipped)} oldest messages beyond the {MAX_THREAD_MESSAGES}-message "
                    "limit"] if len(messages) > len(clipped) else []
        if split.excluded:
            left_out.append(excluded_note(split.excluded))
        rationale = Rationale(
            skill=self.name, route=request.route, inputs=inputs,
            evidence=[evidence(p, channel.external_id, used=p.number in cited) for p in passages if p.number in cited],
            generator=draft.generator, caveats=draft.caveats, left_out=left_out,
            timings_ms={"summarize": round((time.perf_counter() - started) * 1000, 2)},
        )
        title = (f"Thread in #{channel.name}: {counted(len(messages), 'message')} from "
                 f"{counted(len(people), 'person', 'people')}")
        return Reply(title=title, body=with_notice(draft.text, draft.notice), rationale=rationale, thread_id=root,
                     citations=[citation(by_number[n], channel.external_id) for n in cited])

    async def _channel_window(self, request: SkillRequest, ctx: SkillContext, channel: ChannelRecord,
                              window: Window) -> Reply:
        started = time.perf_counter()
        split = without_bot_traffic(
            await ctx.storage.messages.window(request.tenant_id, [channel.external_id], window.start, window.end,
                                              include_bots=False),
            await bot_user_ids(ctx, request.tenant_id))
        messages = split.kept
        inputs = Inputs(channels=[channel.name], window_start=window.start, window_end=window.end,
                        messages_considered=len(messages))
        if not messages:
            rationale = Rationale(skill=self.name, route=request.route, inputs=inputs,
                                  caveats=["no messages in the window"])
            return Reply(title=f"#{channel.name}, {window.label}: nothing to summarize",
                         body=f"No messages in #{channel.name} in the {window.label}.", rationale=rationale,
                         follow_ups=[FollowUp(label="Last 7 days", command=f"summarize #{channel.name} last 7d")])
        threads = group_threads(messages)
        ranked = ctx.scorer.rank(threads, window.end, window.hours)
        top = ranked[:MAX_CHANNEL_THREADS]
        headlines = await write_headlines(top, channel.external_id, ctx.generator)
        items = [ReplyItem(text=h.text, link=h.scored.thread.root.permalink, citation_numbers=h.cited,
                           item_id=h.item_id, why=reasons_in_words(h.scored.contributions))
                 for h in headlines.items]
        evidence_items = [evidence(passage_from_message(position, h.scored.thread.root, score=h.scored.score),
                                   channel.external_id, used=True, contributions=h.scored.contributions,
                                   note=f"thread of {len(h.scored.thread.messages)} messages")
                          for position, h in enumerate(headlines.items, start=1)]
        citations = [c for h in headlines.items for c in h.citations]
        rest = ranked[MAX_CHANNEL_THREADS:]
        left_out = [f"{counted(len(rest), 'quieter thread')}"] if rest else []
        if split.excluded:
            left_out.append(excluded_note(split.excluded))
        people = {m.user_external_id for m in messages}
        rationale = Rationale(skill=self.name, route=request.route, inputs=inputs, evidence=evidence_items,
                              generator=headlines.generator, left_out=left_out, caveats=headlines.caveats,
                              timings_ms={"summarize": round((time.perf_counter() - started) * 1000, 2)})
        title = (f"#{channel.name}, {window.label}: {counted(len(messages), 'message')}, "
                 f"{counted(len(threads), 'thread')}, {counted(len(people), 'person', 'people')}")
        return Reply(title=title, sections=[ReplySection(title="What happened", items=items)], citations=citations,
                     rationale=rationale, body=headlines.notice)

