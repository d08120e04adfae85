"""The Why? of a reply, shared by every adapter: a few plain lines for people, details for admins, and
everything for operators (`whybot explain ID`).

People read "where I looked, what I found and who said it, who wrote it, what I left out"; scores,
classifier probabilities, feature weights, model training notes and the decision id are admin detail.
Lines use the neutral markdown subset of `bot.markup` (with person/channel tokens, so Slack can show
<@U…> names); every number in them is a citation number the reply itself shows.

Privacy: nothing here says that sources were withheld, nor how many. A reply's readers may include
people who could not see them, and the design's rule is that they are not told even a count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import text as textlib
from bot.answerability import summary as answerability_summary
from bot.backends.importance import feature_label
from bot.citing import number_of_source, numbered
from bot.markup import clean_tokens, person, place, to_plain
from bot.models import EvidenceItem, Rationale, Reply, RouteKind
from bot.naming import channel_label, person_label

WHY_MAX_LINES = 6
ADMIN_MAX_LINES = 12
_SHOWN_CHANNELS = 3
_ROUTES = {RouteKind.EXPLICIT: "explicit command", RouteKind.KEYWORD: "keyword rules",
           RouteKind.CLASSIFIER: "intent classifier", RouteKind.FALLBACK: "fallback"}


def _shareable(note: str) -> bool:
    """Notes about withheld or hidden sources are for no reader of a shared reply (privacy rule)."""
    lowered = note.lower()
    return "withheld" not in lowered and "source(s) hidden" not in lowered


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _span(start: datetime, end: datetime) -> str:
    hours = (end - start) / timedelta(hours=1)
    for label, h in (("the last hour", 1), ("the last 24 hours", 24), ("the last 48 hours", 48),
                     ("the last 7 days", 24 * 7), ("the last 30 days", 24 * 30)):
        if abs(hours - h) < 0.01:
            return label
    same_day = start.date() == end.date()
    return (f"{start:%a %d %b %H:%M}–{end:%H:%M} UTC" if same_day
            else f"{start:%a %d %b %H:%M} to {end:%a %d %b %H:%M} UTC")


def _where(r: Rationale) -> str | None:
    i = r.inputs
    if not (i.messages_considered or i.documents_considered or i.channels):
        return None
    what = []
    if i.messages_considered or not i.documents_considered:
        what.append(_count(i.messages_considered, "message"))
    if i.documents_considered:
        what.append(_count(i.documents_considered, "document passage"))
    line = "**Where I looked:** " + " and ".join(what)
    names = [channel_label(c) for c in i.channels]
    if names:
        shown = ", ".join(place(n) for n in names[:_SHOWN_CHANNELS])
        more = len(names) - _SHOWN_CHANNELS
        line += f" in {shown}" + (f" and {_count(more, 'more channel')}" if more > 0 else "")
    if i.window_start and i.window_end:
        line += f", {_span(i.window_start, i.window_end)}"
    return line


def _who(e: EvidenceItem) -> str:
    who = person(person_label(e.author), e.author_id) if e.author else ""
    if e.channel_name or e.channel:
        where = place(channel_label(e.channel_name), e.channel)
        return f"{who} in {where}" if who else where
    return who or e.title


def _found(reply: Reply) -> str | None:
    r = reply.rationale
    numbers = number_of_source(reply)
    used = [e for e in r.evidence if e.used and e.source_id in numbers]
    if r.skill == "ask" and not used and (r.evidence or r.inputs.messages_considered):
        return "**What I found:** nothing that answers it; the closest matches share only a word or two"
    if not used:
        return None
    if any(e.contributions for e in used):
        of = f" of {r.inputs.candidates}" if r.inputs.candidates > len(used) else ""
        return f"**What I found:** {_count(len(used), 'thread')}{of} worth reading"
    groups: dict[str, list[int]] = {}
    for e in sorted(used, key=lambda e: numbers[e.source_id]):
        groups.setdefault(_who(e), []).append(numbers[e.source_id])
    parts = [" ".join(f"[{n}]" for n in ns) + f" {who}" for who, ns in groups.items()]
    return "**What I found:** " + "; ".join(parts[:4])


def _writer(r: Rationale) -> str | None:
    g = r.generator
    if r.skill == "help" or (g.kind != "llm" and not g.reason and not r.evidence):
        return None
    if g.kind == "llm":
        return f"**Who wrote it:** an AI model ({g.model}) from the sources cited; check them before relying on it"
    if g.fallback_from:
        return (f"**Who wrote it:** no one; these are quotes, because the AI model ({g.fallback_from}) did not "
                "answer in time")
    if r.skill == "ask" and not any(e.used for e in r.evidence):
        return None
    return "**Who wrote it:** no one; the text is quoted word for word from the sources (no AI model)"


def _left_out(r: Rationale) -> str | None:
    left = [x for x in r.left_out if _shareable(x)]
    unused = [e for e in r.evidence if not e.used]
    if unused and any(e.used for e in r.evidence):
        left.insert(0, f"{_count(len(unused), 'weaker match', 'weaker matches')} that did not answer it")
    return ("**Left out:** " + "; ".join(left[:3])) if left else None


def _ranked(r: Rationale) -> str | None:
    if not any(e.contributions for e in r.evidence if e.used):
        return None
    line = ("**How I ranked:** by what usually matters to a team (decisions, deadlines, incidents, open "
            "questions, how many people took part); each item says why")
    if any("this channel's own weights" in c for c in r.caveats):
        line += ", tuned by this channel's 👍/👎"
    return line


def _continues(r: Rationale) -> str:
    """One line for a follow-up: what it continues and what was searched for it."""
    c = r.conversation
    if c is None:
        return ""
    line = f"**Continues:** {textlib.shorten(c.continues, 80)} → searched as: {textlib.shorten(c.searched_as, 100)}"
    return f"{line}; {c.preferred}" if c.preferred else line


def _viewing(r: Rationale) -> str | None:
    """Where the answer was scoped without being asked to: the channel the person had open."""
    v = r.inputs.viewing
    if v is None:
        return None
    where = place(channel_label(v.name), v.channel)
    if v.widened:
        return f"**Scope:** nothing in {where} (the channel you were viewing) answered it, so I looked everywhere " \
               "you can see"
    return f"**Scope:** {where}, the channel you were viewing; name another channel to look elsewhere"


def _answerable(r: Rationale) -> str | None:
    """ask: whether the matches answer the question and the main reason, in words (scores are in the details)."""
    a = r.answerability
    if a is None:
        return None
    return "**Could I answer?** " + answerability_summary(a, brief=True)


def _rules(r: Rationale) -> str:
    """The channel rules or permissions that shaped the reply (answered unasked, who may change rules)."""
    return ("**Rules:** " + "; ".join(r.rules[:2])) if r.rules else ""


def why_lines(reply: Reply) -> list[str]:
    """The Why? people see: at most six short lines, no scores, ids or settings."""
    reply = numbered(reply)
    r = reply.rationale
    lines = [line for line in (_rules(r), _continues(r), _viewing(r), _where(r), _found(reply), _answerable(r),
                               _ranked(r), _writer(r), _left_out(r)) if line]
    if r.skill == "help":
        lines.append("**How I chose this:** you asked for help, so this lists what I can do")
    elif r.skill == "settings":
        lines.append("**How I chose this:** you asked about this channel's rules")
    elif not lines or lines == [_rules(r)]:
        lines.append(f"**How I chose this:** you asked me to {r.skill}" if r.route.kind == RouteKind.EXPLICIT
                     else f"**How I chose this:** your message read like a request to {r.skill}")
    return lines[:WHY_MAX_LINES]


def _evidence_detail(e: EvidenceItem, number: int | None) -> str:
    label = f"[{number}]" if number else "(not cited)"
    detail = [f"score {e.score:.2f}"]
    if e.matched_terms:
        detail.append("matched " + ", ".join(e.matched_terms[:4]))
    detail += [f"{feature_label(k)} {v:+.2f}"
               for k, v in sorted(e.contributions.items(), key=lambda kv: -abs(kv[1]))[:3] if v]
    return f"{label} {'; '.join(detail)}"


def admin_lines(reply: Reply) -> list[str]:
    """Details for admins: route and classifier scores, per-source scores and weights, model details,
    notes and the decision id to look up with `whybot explain`."""
    reply = numbered(reply)
    r = reply.rationale
    numbers = number_of_source(reply)
    route = r.route
    scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(route.scores.items(), key=lambda kv: -kv[1])[:3])
    lines = [f"Route: {_ROUTES[route.kind]} → {route.skill}" + (f" ({scores})" if scores else "")]
    evidence = sorted(r.evidence, key=lambda e: numbers.get(e.source_id, 999))[:4]
    lines += [_evidence_detail(e, numbers.get(e.source_id)) for e in evidence]
    a = r.answerability
    if a is not None:
        top = sorted(a.contributions.items(), key=lambda kv: -abs(kv[1]))[:4]
        lines.append(f"Answerability {a.score:.2f} (threshold {a.threshold:.2f}, {a.model}): "
                     + ", ".join(f"{k.replace('_', ' ')} {v:+.2f}" for k, v in top if v))
    g = r.generator
    if r.skill != "help":
        parts = [g.model or "extractive", g.prompt_version or ""]
        if g.prompt_tokens or g.completion_tokens:
            parts.append(f"{g.prompt_tokens or 0}+{g.completion_tokens or 0} tokens")
        if g.retries:
            parts.append(f"{g.retries} retr{'y' if g.retries == 1 else 'ies'}")
        lines.append("Generator: " + ", ".join(p for p in parts if p) + (f" ({g.reason})" if g.reason else ""))
    lines += [f"Note: {c}" for c in r.caveats if _shareable(c)][:3]
    total = r.timings_ms.get("total")
    lines.append((f"Took {total:.0f} ms · " if total is not None else "") + f"decision `{r.decision_id}` "
                 "(`whybot explain` shows everything)")
    return lines[-ADMIN_MAX_LINES:] if len(lines) > ADMIN_MAX_LINES else lines


def notification_text(reply: Reply, limit: int = 300) -> str:
    """The first line of the answer, for notifications and screen readers: not the echoed question."""
    reply = numbered(reply)
    candidates = [reply.body, *(s.text for s in reply.sections),
                  *(i.text for s in reply.sections for i in s.items), reply.title]
    for text in candidates:
        for line in text.split("\n"):
            plain = to_plain(clean_tokens(line.removeprefix("> "))).strip()
            plain = " ".join(w for w in plain.split() if not (w.startswith("[") and w.rstrip(".,").endswith("]")
                                                              and w.strip("[].,").isdigit()))
            if plain and not plain.startswith("—"):
                return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "…"
    return "whybot"


def full_text(r: Rationale) -> str:
    """Everything we know about a decision, for operators (`whybot explain ID`)."""
    out = [f"decision {r.decision_id}  skill={r.skill}  at {r.created_at:%Y-%m-%d %H:%M:%S} UTC", "",
           "ROUTE", f"  {r.route.kind.value}: {r.route.reason}"]
    for skill, score in sorted(r.route.scores.items(), key=lambda kv: -kv[1]):
        feats = ", ".join(r.route.top_features.get(skill, []))
        out.append(f"    {skill:<10} {score:7.3f}  {feats}")
    if r.conversation is not None:
        c = r.conversation
        out += ["", "CONVERSATION", f"  continues: {c.continues!r}", f"  asked: {c.asked!r}",
                f"  searched as: {c.searched_as!r}", f"  rewrite: {c.method or '-'}",
                f"  preferred: {c.preferred or '-'}"]
    i = r.inputs
    out += ["", "INPUTS", f"  query: {i.query!r}" if i.query else "  query: -",
            f"  terms: {', '.join(i.query_terms) or '-'}", f"  channels: {', '.join(i.channels) or '-'}",
            f"  window: {i.window_start} .. {i.window_end}",
            f"  considered: {i.messages_considered} messages, {i.documents_considered} documents, "
            f"{i.candidates} candidates", f"  {i.scope_line()}"]
    out += ["", "EVIDENCE"]
    for e in r.evidence:
        flag = "used" if e.used else "not used"
        out.append(f"  [{e.rank}] {e.source_id} #{e.channel or '-'} score={e.score:.4f} ({flag}) {e.title} "
                   f"{e.found_by()}".rstrip())
        if e.matched_terms:
            out.append(f"      matched: {', '.join(e.matched_terms)}")
        for name, value in sorted(e.contributions.items(), key=lambda kv: -abs(kv[1])):
            out.append(f"      {feature_label(name) + ' (' + name + ')':<48} {value:+.4f}")
        if e.note:
            out.append(f"      note: {e.note}")
        if e.permalink:
            out.append(f"      {e.permalink}")
    a = r.answerability
    if a is not None:
        out += ["", "ANSWERABILITY", f"  {'answered' if a.answered else 'declined'}: score {a.score:.4f}, "
                f"threshold {a.threshold:.4f}, model {a.model}" + (f" ({a.note})" if a.note else "")]
        out += [f"  {k:<20} value {a.features.get(k, 0.0):7.4f}  contribution {v:+.4f}"
                for k, v in sorted(a.contributions.items(), key=lambda kv: -abs(kv[1]))]
        out += [f"  - {x}" for x in a.reasons]
    g = r.generator
    out += ["", "GENERATOR", f"  {g.kind} model={g.model or '-'} prompt={g.prompt_version or '-'} "
            f"tokens={g.prompt_tokens or 0}+{g.completion_tokens or 0} retries={g.retries} latency_ms={g.latency_ms}"
            + (f" fallback_from={g.fallback_from}" if g.fallback_from else ""),
            f"  {g.reason}" if g.reason else ""]
    if r.rules:
        out += ["", "RULES", *[f"  - {x}" for x in r.rules]]
    if r.left_out or r.caveats or r.withheld_sources:
        out += ["", "LEFT OUT AND CAVEATS", *[f"  - {x}" for x in r.left_out], *[f"  - {x}" for x in r.caveats]]
        if r.withheld_sources:
            out.append(f"  - {r.withheld_sources} source(s) withheld from readers who cannot see them")
    out += ["", "TIMINGS (ms)", *[f"  {k}: {v}" for k, v in r.timings_ms.items()]]
    return "\n".join(line for line in out if line is not None)
