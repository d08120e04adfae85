"""Reply -> HTML for the playground. Everything user-provided is escaped by bot.markup.to_html."""

from __future__ import annotations

import html

from bot.markup import to_html
from bot.models import Reply
from bot.render import compact_lines


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def reply_html(reply: Reply) -> str:
    """The reply card: title, body, sections, citations, then Why? / feedback / follow-up buttons."""
    decision = _attr(reply.decision_id)
    parts = [f'<div class="reply" data-decision="{decision}">']
    if reply.title:
        parts.append(f'<div class="reply-title">{to_html(reply.title)}</div>')
    if reply.body:
        parts.append(f'<div class="reply-body">{to_html(reply.body)}</div>')
    for section in reply.sections:
        parts.append('<div class="reply-section">')
        if section.title:
            parts.append(f'<div class="section-title">{to_html(section.title)}</div>')
        if section.text:
            parts.append(f'<div class="section-text">{to_html(section.text)}</div>')
        if section.items:
            parts.append("<ol>")
            for item in section.items:
                cites = "".join(f'<sup class="cite-ref">[{n}]</sup>' for n in item.citation_numbers)
                link = (f' <a class="item-link" href="{_attr(item.link)}">open thread</a>' if item.link else "")
                why = (f'<div class="item-why">{html.escape(" · ".join(item.why))}</div>' if item.why else "")
                feedback = ""
                if item.item_id:
                    feedback = (f'<span class="item-feedback"><button class="fb" data-helpful="1" '
                                f'data-item="{_attr(item.item_id)}" title="Useful">+1</button>'
                                f'<button class="fb" data-helpful="0" data-item="{_attr(item.item_id)}" '
                                f'title="Not useful">-1</button></span>')
                parts.append(f"<li>{to_html(item.text)}{cites}{link}{feedback}{why}</li>")
            parts.append("</ol>")
        parts.append("</div>")
    if reply.citations:
        parts.append('<div class="citations"><div class="section-title">Sources</div>')
        for c in reply.citations:
            label = html.escape(c.title or c.source_id)
            linked = f'<a href="{_attr(c.permalink)}">{label}</a>' if c.permalink else label
            parts.append(f'<div class="citation"><span class="cite-num">[{c.number}]</span> {linked}'
                         f'<div class="snippet">{html.escape(c.snippet)}</div></div>')
        parts.append("</div>")
    parts.append('<div class="actions"><button class="why" aria-expanded="false">Why?</button>'
                 '<button class="fb" data-helpful="1" data-item="" title="Helpful">Helpful</button>'
                 '<button class="fb" data-helpful="0" data-item="" title="Not helpful">Not helpful</button>')
    for follow in reply.follow_ups[:3]:
        parts.append(f'<button class="follow" data-command="{_attr(follow.command)}">{html.escape(follow.label)}'
                     "</button>")
    parts.append('</div><div class="rationale" hidden></div></div>')
    return "".join(parts)


def rationale_html(reply: Reply) -> str:
    lines = "".join(f"<li>{to_html(line)}</li>" for line in compact_lines(reply.rationale))
    return f'<ul class="rationale-lines">{lines}</ul>'
