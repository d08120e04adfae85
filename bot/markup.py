"""The neutral markdown subset replies are written in, turned into each surface's own markup.

Only four constructs exist: **bold**, *emphasis*, `code`, [text](url), plus "> " quote lines.
Everything else is text, and HTML output escapes it first, so a message containing <script> is shown,
never run.
"""

from __future__ import annotations

import html
import re

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_EM = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_CODE = re.compile(r"`([^`\n]+)`")


def slack_escape(text: str) -> str:
    """Slack's three control characters; everything else is literal in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_slack(md: str) -> str:
    out_lines = []
    for line in md.split("\n"):
        quote = line.startswith("> ")
        body = slack_escape(line[2:] if quote else line)
        body = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", body)
        body = _BOLD.sub(r"*\1*", body)
        out_lines.append(("> " if quote else "") + body)
    return "\n".join(out_lines)


def to_html(md: str) -> str:
    out_lines = []
    for line in md.split("\n"):
        quote = line.startswith("> ")
        body = html.escape(line[2:] if quote else line, quote=True)
        body = _LINK.sub(lambda m: f'<a href="{m.group(2)}" target="_blank" rel="noopener">{m.group(1)}</a>', body)
        body = _CODE.sub(r"<code>\1</code>", body)
        body = _BOLD.sub(r"<strong>\1</strong>", body)
        body = _EM.sub(r"<em>\1</em>", body)
        out_lines.append(f"<blockquote>{body}</blockquote>" if quote else body)
    return "<br>".join(out_lines).replace("</blockquote><br>", "</blockquote>")


def to_plain(md: str) -> str:
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", md)
    return _CODE.sub(r"\1", _BOLD.sub(r"\1", text))
