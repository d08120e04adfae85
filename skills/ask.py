"""ask: answer a question from the team's own messages and documents, with citations.

Declines ("I couldn't find this") when the answerability model (bot/answerability.py) judges that the
sources found do not answer the question, and then shows what it searched and why, so the reader can
rephrase instead of trusting a guess.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot import answer_pick, answerability, followup, kind_rank, query_filters
from bot import text as textlib
from bot.answers import AnswerKind, answer_kinds, missing_required, subject_weights
from bot.backends.llm.base import Passage, Rewriter, with_notice
from bot.backends.retrieval.base import Hit, SearchFilters, SearchResult, weighted_coverage
from bot.evidence import citation, evidence, passage_from_hit, passage_from_message, verified_citations
from bot.models import (
    Answerability,
    ConversationNote,
    EvidenceItem,
    FollowUp,
    Generator,
    Inputs,
    Rationale,
    Reply,
    ViewScope,
)
from bot.skill import SkillContext, SkillError, SkillRequest
from bot.text import counted
from bot.visibility import Visibility
from storage import ChannelRecord, MessageRecord


@dataclass(frozen=True, slots=True)
class Scoped:
    """The question without its scope phrases, and the filters they became."""

    question: str
    filters: SearchFilters | None = None
    shown: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    viewing: ViewScope | None = None


def hit_support(hit: Hit, weights: dict[str, float], floor: float) -> float:
    """How much of the question a hit stands for: its idf-weighted share of the question's words, or,
    when the embedding model puts it at least `floor` close in meaning, its similarity (a paraphrase
    shares few words by definition)."""
    lexical = weighted_coverage(hit.matched_terms, weights)
    semantic = hit.semantic_score if hit.semantic_score is not None and hit.semantic_score >= floor else 0.0
    return max(lexical, semantic)


def just_above(score: float) -> float:
    """The answering reply ranks right before the message it answers: that reply is what the reader
    needs, and the matching message travels with it as context. Ranked after it, the answer of the third
    matching thread fell out of the top five. By rank, not by a share of the score: two matches'
    scores can sit close together."""
    return round(score + 1e-3, 4)


def with_ranks(items: list[EvidenceItem], result: SearchResult) -> list[EvidenceItem]:
    """Each source's rank among word matches, meaning matches and related-word matches, for the Why?."""
    by_id = {h.source_id: h for h in result.hits}
    out = []
    for item in items:
        hit = by_id.get(item.source_id)
        if hit is not None:
            item = item.model_copy(update={"lexical_rank": hit.lexical_rank, "semantic_rank": hit.semantic_rank,
                                           "semantic_score": hit.semantic_score, "expansion_rank": hit.expanded_rank})
        out.append(item)
    return out


def _in_threads(hits: list[Hit], via: dict[int, int], threads: frozenset[tuple[str, str]]) -> set[int]:
    """Passage numbers of the hits in `threads`, and of the replies brought in through them."""
    inside = {n for n, h in enumerate(hits, start=1)
              if h.message and (h.message.channel_external_id, h.message.thread_root) in threads}
    return inside | {n for n, q in via.items() if q in inside}


@dataclass(frozen=True, slots=True)
class Followed:
    """A follow-up as it is searched: the standalone query, the earlier subject terms it carries (weighted
    lower), the threads cited earlier (preferred), the kinds of answer wanted, and the Why? line."""

    query: str
    note: ConversationNote
    carried: frozenset[str] = frozenset()
    request: frozenset[str] = frozenset()
    threads: frozenset[tuple[str, str]] = frozenset()
    listed: bool = False  # the threads were only listed as closest matches by a declined earlier answer
    kinds: list[AnswerKind] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)


def noted(follow: Followed | None, reply: Reply) -> Reply:
    """The reply with what it continues (for Why?) and any rewrite fallback among its caveats."""
    if follow is None:
        return reply
    caveats = [*follow.caveats, *reply.rationale.caveats]
    update: dict[str, object] = {}
    if follow.listed and not declined(reply):
        update["title"] = f"About the closest matches I listed for “{textlib.shorten(follow.note.continues, 60)}”"
        caveats.insert(0, "answered from the closest matches a declined earlier answer listed; "
                          "they may not answer the earlier question")
    rationale = reply.rationale.model_copy(update={"conversation": follow.note, "caveats": caveats})
    return reply.model_copy(update={"rationale": rationale, **update})


def declined(reply: Reply) -> bool:
    return any(c.startswith("declined") for c in reply.rationale.caveats)


class AskSkill:
    name = "ask"
    aliases = ("question", "q", "find", "search")
    summary = "Answer a question from this workspace's messages and documents, with sources."
    usage = ("ask <question>",)
    examples = ("ask when is the release freeze?", "ask who owns the billing service?")

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        question = request.args.strip()
        if not question:
            raise SkillError("Ask me a question, for example `ask when is the release freeze?`")
        channels = await ctx.storage.workspace.channels_seen_by(request.tenant_id, request.reader.user,
                                                             request.reader.channel)
        reply = await self._run(request, ctx, question, channels)
        viewing = reply.rationale.inputs.viewing
        if viewing is not None and declined(reply):  # nothing in the channel in view: look everywhere instead
            wider = await self._run(request, ctx, question, channels, use_view=False)
            if not declined(wider):
                inputs = wider.rationale.inputs.model_copy(update={"viewing": viewing.model_copy(
                    update={"widened": True})})
                reply = wider.model_copy(update={"rationale": wider.rationale.model_copy(update={"inputs": inputs})})
        note = await self._more_for_the_asker(request, ctx, question, channels)
        return reply.model_copy(update={"private_note": note}) if note else reply

    async def _more_for_the_asker(self, request: SkillRequest, ctx: SkillContext, question: str,
                                  channels: list[ChannelRecord]) -> str | None:
        """Messages only the asker may read that would answer too: said to the asker alone (the privacy rule
        allows telling a reader who could see them), never in the shared reply, its Why? or any count there."""
        if request.reader.private:
            return None
        shared = Visibility(request.reader, request.tenant_id, channels)
        own = Visibility(request.reader.model_copy(update={"private": True}), request.tenant_id, channels)
        extra = own.allowed_channel_ids - shared.allowed_channel_ids
        if not extra:
            return None
        # Only matched words count here, so the search skips meaning: at a million messages the full hybrid
        # search of the asker's private channels cost a second dense step and related-word search per question.
        found = await ctx.retriever.search(request.tenant_id, question, frozenset(extra), k=ctx.settings.ask_top_k,
                                           words_only=True)
        strong = [h for h in found.hits if h.message is not None and h.message.channel_id in extra
                  and weighted_coverage(h.matched_terms, found.term_weights) >= ctx.settings.min_term_coverage]
        if not strong:
            return None
        n = len(strong)
        return (f"{counted(n, 'more message')} that may answer this {'is' if n == 1 else 'are'} in channels not "
                f"everyone here can read; ask me in a DM and I can use {'it' if n == 1 else 'them'}.")

    async def _run(self, request: SkillRequest, ctx: SkillContext, question: str,
                   channels: list[ChannelRecord], *, use_view: bool = True) -> Reply:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        visibility = Visibility(request.reader, request.tenant_id, channels)
        k = ctx.settings.ask_top_k
        scope = await self._scope(request, ctx, question, channels, visibility, use_view=use_view)
        question = scope.question
        follow = await self._follow(request, ctx, question, timings)
        searched = follow.query if follow else question
        where = (f"#{scope.viewing.name}, the channel you are viewing" if scope.viewing
                 else f"what you can see in {textlib.plural(len(visibility.allowed_channels), 'channel')}")
        await request.progress.status(f"Searching {where}…")
        started = time.perf_counter()
        own = request.event.message_id  # the question, stored as history: never its own evidence
        filters = replace(scope.filters or SearchFilters(), exclude=frozenset({(request.event.channel, own)})) \
            if own else scope.filters
        result = await ctx.retriever.search(request.tenant_id, searched, visibility.allowed_channel_ids,
                                            k=3 * k + 1, filters=filters)
        timings["retrieve"] = round((time.perf_counter() - started) * 1000, 2)
        surface = textlib.surface_terms(searched)
        asked = (request.event.channel, own)
        hits = [h for h in result.hits if visibility.may_see_channel(h.channel_external_id)
                and not (h.message and (h.message.channel_external_id, h.message.external_id) == asked)]
        hits = self._in_conversation(request, hits, follow) if request.conversation else hits
        kinds = follow.kinds if follow else answer_kinds(request.args)
        load_thread = _ThreadCache(ctx, request.tenant_id)  # ranking and picking read the same threads once
        await load_thread.prefetch(hits[:3 * k])
        ranked = await kind_rank.kind_ranked(hits, kinds, load_thread, result.query_terms, result.term_weights,
                                             pool=3 * k)
        hits = ranked.hits[:k]
        passages, channel_by_source = self._passages(hits, surface)
        via: dict[int, int] = {}
        why: dict[int, str] = {}
        passages = await self._thread_answers(request, ctx, hits, result, passages, surface, channel_by_source, via,
                                              why, kinds=kinds, load_thread=load_thread)
        notes = {p.number: ranked.notes[p.source_id] for p in passages if p.source_id in ranked.notes}
        notes |= {n: f"the reply that best answers, in the thread of a matching message: {why[n]}" for n in via}
        weights = subject_weights(searched, result.term_weights, surface)
        if follow:
            weights = followup.carried_weights(weights, follow.carried, follow.request)
        floor = ctx.settings.semantic_floor
        support = self._support(passages, hits, via, weights, floor)
        inputs = Inputs(query=searched, query_terms=[surface.get(t, t) for t in result.query_terms],
                        channels=sorted(c.name for c in channels if c.external_id in visibility.allowed_channels),
                        messages_considered=result.searched_messages,
                        documents_considered=result.searched_documents, candidates=len(result.hits),
                        filters=scope.shown, expansion=[f"{w} ({x:.2f})" for w, x in result.expansion.items()],
                        retrieval=f"{result.backend or getattr(ctx.retriever, 'name', '')}"
                                  + (f"; semantic {result.semantic}" if result.semantic else ""),
                        viewing=scope.viewing)
        coverage = max((hit_support(h, weights, floor) for h in hits), default=0.0)
        kinds = follow.kinds if follow else answer_kinds(question)
        signals = answerability.signals(hits, passages, via, weights, surface, kinds, floor)
        judged = answerability.judge(ctx.answerability, signals, threshold=ctx.settings.answer_threshold)
        if follow and follow.threads:
            coverage = self._inherit(hits, via, follow, support, notes, coverage, ctx.settings.min_term_coverage)
            if not judged.answered and any(h.message and (h.message.channel_external_id, h.message.thread_root)
                                           in follow.threads for h in hits):
                judged = judged.model_copy(update={"answered": True, "note": "a thread the earlier answer cited "
                                                   "is among the matches, so it answers for the same subject"})
        if not hits or not judged.answered:
            return noted(follow, self._decline(request, question, result, passages, channel_by_source, inputs,
                                               coverage, ctx.settings.min_term_coverage, timings,
                                               problems=scope.problems, judged=judged))
        await request.progress.status(f"Found {textlib.plural(len(passages), 'matching message')} among "
                                      f"{result.searched_messages:,}; writing the answer…")
        started = time.perf_counter()
        quotable = self._referred(passages, hits, via, follow, notes)
        draft = await ctx.generator.answer(searched, quotable,
                                           on_text=request.progress.text if request.progress.streams else None)
        timings["generate"] = round((time.perf_counter() - started) * 1000, 2)
        if not draft.text.strip():  # nothing to quote after all ("the matching messages only ask this question")
            unquotable = "; ".join(draft.caveats) or "the writer returned no answer to quote"
            return noted(follow, self._decline(request, question, result, passages, channel_by_source, inputs,
                                               coverage, ctx.settings.min_term_coverage, timings,
                                               why=unquotable, generator=draft.generator, problems=scope.problems,
                                               judged=judged.model_copy(update={
                                                   "answered": False, "reasons": [unquotable, *judged.reasons]})))
        cited = verified_citations(draft, passages)
        by_number = {p.number: p for p in passages}
        wrong_kind = missing_required(kinds, [by_number[n].text for n in cited if n in by_number])
        if wrong_kind:
            return noted(follow, self._decline(request, question, result, passages, channel_by_source, inputs,
                                               coverage, ctx.settings.min_term_coverage, timings, why=wrong_kind,
                                               generator=draft.generator, problems=scope.problems,
                                               judged=judged.model_copy(update={
                                                   "answered": False, "reasons": [wrong_kind, *judged.reasons]})))
        quoted = max((support.get(n, 0.0) for n in cited), default=0.0)
        referred = {p.number for p in quotable if p.referred}
        # What was quoted must answer too (what "that" refers to passed the earlier answer's). The Why? then
        # shows this second judgement, not the first one's "yes".
        requoted = judged if not cited or set(cited) <= referred else (
            judged.model_copy(update={"answered": quoted >= ctx.settings.min_term_coverage}) if judged.note
            else answerability.judge(ctx.answerability, answerability.quoting(signals, quoted),
                                     threshold=ctx.settings.answer_threshold))
        if not requoted.answered:
            return noted(follow, self._decline(
                request, question, result, passages, channel_by_source, inputs, coverage,
                ctx.settings.min_term_coverage, timings,
                why=f"the sentences I could quote come from sources covering only {quoted:.0%} of "
                    f"the question (the best match, {coverage:.0%}, only asks it)",
                generator=draft.generator, problems=scope.problems, judged=requoted))
        citations = [citation(by_number[n], channel_by_source.get(by_number[n].source_id)) for n in cited]
        caveats = list(draft.caveats)
        invented = [n for n in draft.cited if n not in by_number]
        if invented:
            caveats.append(f"removed citation(s) {', '.join(f'[{n}]' for n in invented)}: no such source")
        rationale = Rationale(
            skill=self.name, route=request.route, inputs=inputs,
            evidence=with_ranks([evidence(p, channel_by_source.get(p.source_id), used=p.number in cited,
                                          note=notes.get(p.number, "")) for p in passages], result),
            answerability=judged, generator=draft.generator, caveats=[*scope.problems, *caveats, *result.notes],
            timings_ms=timings,
        )
        return noted(follow, Reply(title=f"About “{textlib.shorten(question, 80)}”",
                                   body=with_notice(draft.text, draft.notice), citations=citations,
                                   rationale=rationale, follow_ups=[FollowUp(label="Summarize this channel",
                                                                             command="summarize last 24h")]))

    @staticmethod
    async def _follow(request: SkillRequest, ctx: SkillContext, question: str,
                      timings: dict[str, float]) -> Followed | None:
        """A question in a thread whybot answered continues it: rewritten by the LLM when there is one
        (falling back to the offline rewrite), else the earlier subject carried along. None for a new question."""
        conversation = request.conversation
        if conversation is None or conversation.last is None:
            return None
        last = followup.continues(question, conversation)
        prefer = followup.preferred(last, question)
        caveats: list[str] = []
        if isinstance(ctx.generator, Rewriter):
            started = time.perf_counter()
            rewrite = await ctx.generator.rewrite(question, conversation)
            timings["rewrite"] = round((time.perf_counter() - started) * 1000, 2)
            g = rewrite.generator
            if rewrite.query:
                earlier = conversation.last
                method = f"llm {g.model} ({g.prompt_version})"
                return Followed(query=rewrite.query, threads=prefer.threads, listed=prefer.listed,
                                kinds=answer_kinds(followup.bare(question)) or answer_kinds(earlier.query),
                                note=ConversationNote(continues=earlier.question, asked=question,
                                                      searched_as=rewrite.query, method=method,
                                                      preferred=prefer.words))
            caveats.append(f"follow-up rewrite by {g.model} ({g.prompt_version}) failed: {rewrite.reason}; "
                           "the earlier subject was carried instead")
        standalone = followup.offline_rewrite(question, conversation)
        if standalone is None or last is None:
            return None
        return Followed(query=standalone.query, carried=standalone.carried, request=standalone.request,
                        threads=prefer.threads, listed=prefer.listed,
                        kinds=answer_kinds(followup.bare(question)) or answer_kinds(last.query), caveats=caveats,
                        note=ConversationNote(continues=last.question, asked=question,
                                              searched_as=standalone.query, method=standalone.method,
                                              preferred=prefer.words))

    @staticmethod
    def _inherit(hits: list[Hit], via: dict[int, int], follow: Followed, support: dict[int, float],
                 notes: dict[int, str], coverage: float, needed: float) -> float:
        """A source in a thread the earlier answer cited (it passed the gate for the same subject) stands
        for the subject of the follow-up too: it counts as covering at least what is needed. After a
        declined answer, "that" can only mean the closest matches it listed: they stand for it the same
        way, and the reply and its Why? say so (`noted`). A new question has no such threads."""
        inherited = _in_threads(hits, via, follow.threads)
        for n in inherited:
            support[n] = max(support.get(n, 0.0), needed)
            earlier = ("in a thread my earlier reply listed as a closest match" if follow.listed
                       else "in a thread cited earlier in this conversation")
            notes[n] = f"{notes[n]}; {earlier}" if notes.get(n) else earlier
        return max(coverage, needed) if inherited else coverage

    @staticmethod
    def _referred(passages: list[Passage], hits: list[Hit], via: dict[int, int], follow: Followed | None,
                  notes: dict[int, str]) -> list[Passage]:
        """What may be quoted. A follow-up that only points back ("and when was that?") asks about the threads
        it continues: when they are among the matches, a runbook line that merely shares the subject's words is
        not what "that" means, so only they are quoted (the rest stay in the Why?, saying so)."""
        if follow is None or not follow.threads or not followup.points_back(follow.note.asked):
            return passages
        referred = _in_threads(hits, via, follow.threads)
        if not referred:
            return passages
        for p in passages:
            if p.number not in referred:
                aside = "not quoted: not in the thread “that” refers to"
                notes[p.number] = f"{notes[p.number]}; {aside}" if notes.get(p.number) else aside
        # In threads the earlier answer cited, "that" is what was said there, whatever its words: "and who said
        # that?" is answered by quoting it with its author. Threads a declined answer only listed get no such trust.
        return [p.model_copy(update={"referred": not follow.listed}) for p in passages if p.number in referred]

    @staticmethod
    def _in_conversation(request: SkillRequest, hits: list[Hit], follow: Followed | None) -> list[Hit]:
        """Inside a conversation: its own thread (the questions put to whybot) is not evidence unless an
        earlier answer cited it, and hits in threads cited earlier score up to 1.5x (bounded, so a much
        better match elsewhere still wins)."""
        here = (request.event.channel, request.event.thread_id)
        cited = follow.threads if follow else frozenset()
        out = []
        for h in hits:
            where = (h.message.channel_external_id, h.message.thread_root) if h.message else None
            if where == here and where not in cited:
                continue
            if where in cited:
                h = replace(h, score=round(h.score * (1 + followup.CITED_THREAD_BOOST), 6))
            out.append(h)
        return sorted(out, key=lambda h: -h.score)

    @staticmethod
    def _passages(hits: list[Hit], surface: dict[str, str]) -> tuple[list[Passage], dict[str, str | None]]:
        passages = [passage_from_hit(i, h, surface) for i, h in enumerate(hits, start=1)]
        return passages, {h.source_id: h.channel_external_id for h in hits}

    @staticmethod
    async def _scope(request: SkillRequest, ctx: SkillContext, question: str, channels: list[ChannelRecord],
                     visibility: Visibility, *, use_view: bool = True) -> Scoped:
        """"in #incidents", "from @bob", "last week": taken out of the words searched, applied as filters.
        A question that names no channel, asked while looking at one the reader may see, is scoped to it."""
        parsed = query_filters.parse(question, ctx.clock())
        viewed = visibility.in_view(request.event.viewing_channel) if use_view and not parsed.channels else None
        if not parsed.any and viewed is None:
            return Scoped(question)
        users = await ctx.storage.workspace.list_users(request.tenant_id) if parsed.authors else []
        visible = [c for c in channels if c.external_id in visibility.allowed_channels]
        scope = query_filters.resolve(parsed, visible, users)
        if viewed is None:
            return Scoped(parsed.question, scope.filters, scope.shown, scope.problems)
        filters = replace(scope.filters, channel_ids=frozenset({viewed.id}))
        return Scoped(parsed.question, filters, [f"in #{viewed.name} (the channel you were viewing)", *scope.shown],
                      scope.problems, viewing=ViewScope(channel=viewed.external_id, name=viewed.name))

    @staticmethod
    def _support(passages: list[Passage], hits: list[Hit], via: dict[int, int],
                 weights: dict[str, float], floor: float) -> dict[int, float]:
        """How much of the question each passage stands for: a hit its own idf-weighted coverage (or its
        meaning, when close enough), a reply brought in from a matching question's thread the coverage
        of that question."""
        support = {p.number: hit_support(h, weights, floor) for p, h in zip(passages, hits, strict=False)}
        for number, question in via.items():
            support[number] = support.get(question, 0.0)
        return support

    async def _thread_answers(self, request: SkillRequest, ctx: SkillContext, hits: list[Hit],
                              result: SearchResult, passages: list[Passage], surface: dict[str, str],
                              channel_by_source: dict[str, str | None], via: dict[int, int],
                              why: dict[int, str], kinds: list[AnswerKind],
                              load_thread: kind_rank.ThreadLoader) -> list[Passage]:
        """The message that matches a question is often not the one that answers it: the incident
        announcement, not "root cause: …"; the question, not its reply. For the top matching threads,
        find the reply that best answers (its words plus the kind of statement asked for) and quote it
        with the matching message as context: added as a passage, or, when it was a weaker hit itself,
        that passage gains the context. `via` maps each such passage number to the hit it came through, `why`
        to the reason it was chosen (the kind of answer sought and what the reply says; bot.answer_pick)."""
        out = list(passages)
        number_of = {p.source_id: p.number for p in out}
        threads: set[tuple[str, str]] = set()
        for number, hit in enumerate(hits, start=1):
            m = hit.message
            if m is None or len(threads) == 3 or (m.reply_count == 0 and not m.thread_external_id):
                continue
            if (m.channel_external_id, m.thread_root) in threads:
                continue
            threads.add((m.channel_external_id, m.thread_root))
            thread = await load_thread(m)
            taken = frozenset(sid for sid, n in number_of.items() if n in via)
            pick = answer_pick.best_reply(answer_pick.candidates(thread, m, taken), kinds, result.query_terms,
                                          result.term_weights)
            if pick is None:
                continue  # nobody in the thread says anything beyond "looking" or "on it"
            best = pick.message
            context = textlib.plain(m.text)
            existing = number_of.get(best.source_id)
            if existing is not None and existing < number:
                continue  # already a stronger match than the message it would answer
            if existing is not None:
                out[existing - 1] = out[existing - 1].model_copy(update={
                    "in_reply_to": context, "score": max(out[existing - 1].score, just_above(hit.score))})
                via[existing] = number
                why[existing] = pick.reason
                continue
            matched = [surface.get(t, t) for t in textlib.overlap(result.query_terms, best.text)]
            added = passage_from_message(len(out) + 1, best, score=just_above(hit.score), matched=matched)
            out.append(added.model_copy(update={"in_reply_to": context}))
            number_of[best.source_id] = added.number
            via[added.number] = number
            why[added.number] = pick.reason
            channel_by_source[best.source_id] = best.channel_external_id
        return out

    def _decline(self, request: SkillRequest, question: str, result: SearchResult, passages: list[Passage],
                 channel_by_source: dict[str, str | None], inputs: Inputs, coverage: float, needed: float,
                 timings: dict[str, float], why: str = "", generator: Generator | None = None,
                 problems: list[str] | None = None, judged: Answerability | None = None) -> Reply:
        problems = problems or []
        terms = ", ".join(f"`{t}`" for t in inputs.query_terms) or "(no searchable words)"
        where = f"{result.searched_messages:,} messages"
        if result.searched_documents:
            where += f" and {result.searched_documents:,} document passages"
        scoped = f" ({'; '.join(inputs.filters)})" if inputs.filters else ""
        lines = [f"I couldn't find an answer. I searched {where} you can see{scoped} for {terms}."]
        lines += [f"(There is {p}.)" for p in problems]
        said = why or (judged.reasons[0] if judged and judged.reasons and passages else "")
        if said:
            lines.append(f"({said[0].upper()}{said[1:]}.)")
        if passages:
            lines.append("Closest matches, which don't answer it:")
            lines += [f"• {textlib.shorten(p.text, 120)} — {p.author} [{p.number}]" for p in passages[:3]]
        lines.append("Try other words, or ask in the channel where this would have been discussed.")
        citations = [citation(p, channel_by_source.get(p.source_id)) for p in passages[:3]]
        reason = why or ((f"{answerability.verdict(judged)}: "
                          + ("; ".join(judged.reasons) or "nothing counted for answering")) if judged and passages
                         else f"best source covers {coverage:.0%} of the question (idf-weighted terms); "
                              f"I answer from {needed:.0%}" if passages
                         else "no source matched any of the question's terms")
        rationale = Rationale(
            skill=self.name, route=request.route, inputs=inputs,
            evidence=with_ranks([evidence(p, channel_by_source.get(p.source_id), used=False,
                                          note="too weak to answer from") for p in passages], result),
            answerability=judged, generator=generator or Generator(kind="extractive",
                                             reason="not run: the evidence was too thin to answer from"),
            caveats=[f"declined: {reason}", *problems, *result.notes],
            timings_ms=timings,
        )
        return Reply(title="I couldn't find this", body="\n".join(lines), citations=citations, rationale=rationale,
                     follow_ups=[FollowUp(label="Help", command="help")])


class _ThreadCache:
    """Threads read for one question, by (channel, root): each is read from storage at most once."""

    def __init__(self, ctx: SkillContext, tenant_id: str) -> None:
        self.ctx = ctx
        self.tenant_id = tenant_id
        self.threads: dict[tuple[str, str], list[MessageRecord]] = {}

    async def __call__(self, message: MessageRecord) -> list[MessageRecord]:
        key = (message.channel_external_id, message.thread_root)
        if key not in self.threads:
            self.threads[key] = await self.ctx.storage.messages.thread(self.tenant_id, *key)
        return self.threads[key]

    async def prefetch(self, hits: Sequence[Hit]) -> None:
        """Read the threads of these hits that have one, all in one query."""
        wanted = {(m.channel_external_id, m.thread_root): (m.channel_id, m.thread_root) for h in hits
                  if (m := h.message) is not None and (m.reply_count or m.thread_external_id)}
        missing = {key: stored for key, stored in wanted.items() if key not in self.threads}
        if missing:
            found = await self.ctx.storage.messages.threads(self.tenant_id, missing.values())
            self.threads |= {key: found[stored] for key, stored in missing.items()}
