"""One rendering of a rationale, shared by every adapter: compact for Why?, full for `whybot explain`.

Lines use the neutral markdown subset (**bold**, `code`, [text](url)); `bot.markup` turns it into
Slack mrkdwn or HTML, and Teams reads it as is.
"""

from __future__ import annotations

from bot.models import EvidenceItem, Rationale, RouteKind

COMPACT_MAX_LINES = 10


def _route_line(r: Rationale) -> str:
    route = r.route
    if route.kind == RouteKind.EXPLICIT:
        return f"**Routed** to `{route.skill}`: {route.reason}"
    scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(route.scores.items(), key=lambda kv: -kv[1])[:3])
    how = {RouteKind.KEYWORD: "keyword rules", RouteKind.CLASSIFIER: "intent classifier",
           RouteKind.FALLBACK: "fallback"}[route.kind]
    return f"**Routed** to `{route.skill}` by {how}" + (f" ({scores})" if scores else "") + f": {route.reason}"


def _inputs_line(r: Rationale) -> str | None:
    i = r.inputs
    parts: list[str] = []
    if i.messages_considered or i.documents_considered:
        parts.append(f"{i.messages_considered:,} messages" + (
            f" and {i.documents_considered:,} document passages" if i.documents_considered else ""))
    if i.channels:
        shown = ", ".join(f"#{c}" for c in i.channels[:4]) + (f" +{len(i.channels) - 4}" if len(i.channels) > 4 else "")
        parts.append(f"in {shown}")
    if i.window_start and i.window_end:
        parts.append(f"from {i.window_start:%Y-%m-%d %H:%M} to {i.window_end:%Y-%m-%d %H:%M} UTC")
    if i.query_terms:
        parts.append("for " + ", ".join(f"`{t}`" for t in i.query_terms[:6]))
    return ("**Looked at** " + " ".join(parts)) if parts else None


def _evidence_brief(e: EvidenceItem) -> str:
    where = f" {e.title}" if e.title else (f" #{e.channel}" if e.channel else "")
    detail = ", ".join(e.matched_terms[:3]) if e.matched_terms else ", ".join(
        f"{k} {v:+.2f}" for k, v in sorted(e.contributions.items(), key=lambda kv: -abs(kv[1]))[:2])
    return f"[{e.rank}]{where} {e.score:.2f}" + (f" ({detail})" if detail else "")


def _generator_line(r: Rationale) -> str:
    g = r.generator
    if g.kind == "llm":
        extra = f", prompt {g.prompt_version}" if g.prompt_version else ""
        retries = f", {g.retries} retr{'y' if g.retries == 1 else 'ies'}" if g.retries else ""
        return f"**Written by** {g.model}{extra}{retries}"
    return f"**Written by** the extractive generator (quotes, no model): {g.reason}" if g.reason else \
        "**Written by** the extractive generator (quotes, no model)"


def compact_lines(r: Rationale) -> list[str]:
    """At most ten lines: route, inputs, top sources, writer, what was left out, timing."""
    lines = [_route_line(r)]
    if (inputs := _inputs_line(r)) is not None:
        lines.append(inputs)
    used = [e for e in r.evidence if e.used]
    if used:
        lines.append("**Sources** " + " · ".join(_evidence_brief(e) for e in used[:4]))
    if r.skill not in ("help",):
        lines.append(_generator_line(r))
    left = list(r.left_out)
    unused = [e for e in r.evidence if not e.used]
    if unused:
        left.insert(0, f"{len(unused)} lower-ranked source(s) not used")
    if r.withheld_sources:
        left.append(f"{r.withheld_sources} source(s) withheld: not visible to everyone who can read this")
    if left:
        lines.append("**Left out** " + "; ".join(left[:3]))
    for caveat in r.caveats[:2]:
        lines.append(f"**Note** {caveat}")
    total = r.timings_ms.get("total")
    lines.append((f"Took {total:.0f} ms · " if total is not None else "") + f"decision `{r.decision_id}`")
    if len(lines) > COMPACT_MAX_LINES:
        lines = [*lines[: COMPACT_MAX_LINES - 1], lines[-1]]
    return lines


def full_text(r: Rationale) -> str:
    """Everything we know about a decision, for operators (`whybot explain ID`)."""
    out = [f"decision {r.decision_id}  skill={r.skill}  at {r.created_at:%Y-%m-%d %H:%M:%S} UTC", "",
           "ROUTE", f"  {r.route.kind.value}: {r.route.reason}"]
    for skill, score in sorted(r.route.scores.items(), key=lambda kv: -kv[1]):
        feats = ", ".join(r.route.top_features.get(skill, []))
        out.append(f"    {skill:<10} {score:7.3f}  {feats}")
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
            out.append(f"      {name:<22} {value:+.4f}")
        if e.note:
            out.append(f"      note: {e.note}")
        if e.permalink:
            out.append(f"      {e.permalink}")
    g = r.generator
    out += ["", "GENERATOR", f"  {g.kind} model={g.model or '-'} prompt={g.prompt_version or '-'} "
            f"tokens={g.prompt_tokens or 0}+{g.completion_tokens or 0} retries={g.retries} latency_ms={g.latency_ms}",
            f"  {g.reason}" if g.reason else ""]
    if r.left_out or r.caveats or r.withheld_sources:
        out += ["", "LEFT OUT AND CAVEATS", *[f"  - {x}" for x in r.left_out], *[f"  - {x}" for x in r.caveats]]
        if r.withheld_sources:
            out.append(f"  - {r.withheld_sources} source(s) withheld from readers who cannot see them")
    out += ["", "TIMINGS (ms)", *[f"  {k}: {v}" for k, v in r.timings_ms.items()]]
    return "\n".join(line for line in out if line is not None)
