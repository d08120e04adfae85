"""The neutral markdown subset replies are written in, turned into each surface's own markup.

Constructs: **bold**, *emphasis*, `code`, [text](url), "> " quote lines, and person/channel tokens made
by `person()` and `place()` (Slack shows channels as <#C…>; people by name, or <@U…> when no name is known).
Everything else is text: HTML output escapes it first, so a message containing <script> is shown,
never run; Slack output escapes &, <, > and defuses broadcast mentions (@channel, @here, @everyone).

Links stay honest: text written by people or models may carry `[the SSO page](https://evil.example)`,
so every surface shows a link's real address next to its label. Only links the renderer makes itself
from stored permalinks (`link()` in adapters) are masked.
"""

from __future__ import annotations

import html
import re

from bot.naming import SOMEONE

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_EM = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_CODE = re.compile(r"`([^`\n]+)`")
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")

# Private-use characters delimit the tokens; `clean()` strips them from anything people or models wrote,
# so a display name cannot forge a mention.
_OPEN, _MID, _CLOSE = "\ue000", "\ue001", "\ue002"
_TOKEN = re.compile(f"{_OPEN}([@#]){_MID}([^{_OPEN}{_MID}{_CLOSE}]*){_MID}([^{_OPEN}{_MID}{_CLOSE}]*){_CLOSE}")
_SENTINELS = re.compile(f"[{_OPEN}{_MID}{_CLOSE}]")
_WORD_JOINER = "\u2060"


def clean(text: str) -> str:
    return _SENTINELS.sub("", text)


def person(label: str, user_id: str | None = None) -> str:
    """A person: their name everywhere; on Slack a <@U…> mention only when the name is unknown."""
    return f"{_OPEN}@{_MID}{clean(user_id or '')}{_MID}{clean(label)}{_CLOSE}"


def place(label: str, channel_id: str | None = None) -> str:
    """A channel: its label ('#engineering', 'this chat') everywhere, <#C…> on Slack for a Slack id."""
    return f"{_OPEN}#{_MID}{clean(channel_id or '')}{_MID}{clean(label)}{_CLOSE}"


def _labels(text: str) -> str:
    return _TOKEN.sub(lambda m: m.group(3), text)


def defuse_broadcasts(text: str) -> str:
    """`@channel` stays readable but can no longer notify a whole channel."""
    return _BROADCAST.sub(lambda m: "@" + _WORD_JOINER + m.group(1), text)


def slack_escape(text: str) -> str:
    """Slack's three control characters, and broadcast mentions; everything else is literal in mrkdwn."""
    text = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return defuse_broadcasts(text)


def _slack_token(m: re.Match[str]) -> str:
    """A known name is written out: a <@U…> mention would notify everyone a reply cites (Slack has no
    silent mention). Only a person whose name whybot never learned is shown as a mention."""
    kind, ident, label = m.group(1), m.group(2), m.group(3)
    if kind == "@" and _SLACK_USER_ID.match(ident):
        unknown = label.strip().lstrip("@")
        return f"<@{ident}>" if not unknown or unknown == SOMEONE or _SLACK_USER_ID.match(unknown) else label
    if kind == "#" and _SLACK_CHANNEL_ID.match(ident):
        return f"<#{ident}>"
    return label


def _slack_link(m: re.Match[str]) -> str:
    label, url = m.group(1), m.group(2)
    return f"<{url}>" if label.strip() in (url, url.split("://", 1)[-1]) else f"{label} (<{url}>)"


def to_slack(md: str) -> str:
    out_lines = []
    for line in md.split("\n"):
        quote = line.startswith("> ")
        raw = line[2:] if quote else line
        # Escape the text between tokens and each token's label, then turn the tokens into mentions.
        parts = _TOKEN.split(raw)
        pieces: list[str] = []
        for i in range(0, len(parts), 4):
            pieces.append(slack_escape(parts[i]))
            if i + 3 < len(parts):
                pieces.append(f"{_OPEN}{parts[i + 1]}{_MID}{parts[i + 2]}{_MID}{slack_escape(parts[i + 3])}{_CLOSE}")
        body = "".join(pieces)
        body = _LINK.sub(_slack_link, body)
        body = _BOLD.sub(r"*\1*", body)
        body = _TOKEN.sub(_slack_token, body)
        out_lines.append(("> " if quote else "") + body)
    return "\n".join(out_lines)


def _html_link(m: re.Match[str]) -> str:
    label, url = m.group(1), m.group(2)
    anchor = f'<a href="{url}" target="_blank" rel="noopener noreferrer">{url}</a>'
    return anchor if label.strip() == url else f"{label} ({anchor})"


def to_html(md: str) -> str:
    out_lines = []
    for line in md.split("\n"):
        quote = line.startswith("> ")
        body = html.escape(_labels(line[2:] if quote else line), quote=True)
        body = clean(body)
        body = _LINK.sub(_html_link, body)
        body = _CODE.sub(r"<code>\1</code>", body)
        body = _BOLD.sub(r"<strong>\1</strong>", body)
        body = _EM.sub(r"<em>\1</em>", body)
        out_lines.append(f"<blockquote>{body}</blockquote>" if quote else body)
    return "<br>".join(out_lines).replace("</blockquote><br>", "</blockquote>")


def to_teams(md: str) -> str:
    """Teams TextBlock markdown: links show their address, & < > are entities, broadcasts defused,
    code spans plain, quote lines italic, one paragraph per line (a single newline is no break there)."""
    lines = []
    for line in clean_tokens(md).split("\n"):
        line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        line = defuse_broadcasts(_CODE.sub(r"\1", line))
        line = _LINK.sub(lambda m: f"[{m.group(2)}]({m.group(2)})" if m.group(1).strip() == m.group(2)
                         else f"{m.group(1)} ([{m.group(2)}]({m.group(2)}))", line)
        if line.startswith("&gt; ") and line[5:].strip():
            line = f"_{line[5:].strip()}_"
        lines.append(line)
    return "\n\n".join(lines)


def clean_tokens(md: str) -> str:
    """Person and channel tokens as their plain labels."""
    return clean(_labels(md))


def to_plain(md: str) -> str:
    text = _LINK.sub(lambda m: m.group(2) if m.group(1).strip() == m.group(2) else f"{m.group(1)} ({m.group(2)})",
                     clean_tokens(md))
    return _CODE.sub(r"\1", _BOLD.sub(r"\1", text))
