"""What the demo workspace's people said: read from `demo_workspace.txt`, a script people can edit like
a chat log (format at the top of that file), plus the deploy bot's notifications, drawn from a seeded
random generator so every seed of the demo is the same workspace.

Ages are durations before "now", so the last 24 hours are always busy whenever the demo is seeded.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

SCRIPT = Path(__file__).with_name("demo_workspace.txt")
DEPLOY_BOT = "deploybot"
DEPLOYS_CHANNEL = "deploys"
DEPLOY_SEED = 14

_AGE = re.compile(r"^(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+)m)?$")
_MESSAGE = re.compile(r"^(?P<indent>\s*)(?P<user>[a-z]+) (?P<age>\S+)(?: \+(?P<reactions>\d+))? \| (?P<text>.+)$")


@dataclass(frozen=True, slots=True)
class Line:
    """One message: where, who, what, how long ago, and the index of its thread root (None for a root)."""

    channel: str
    user: str
    text: str
    age: timedelta
    reply_to: int | None = None
    reactions: int = 0
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    path: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Script:
    lines: tuple[Line, ...]
    documents: tuple[Document, ...]


class ScriptError(ValueError):
    """A line of the script that cannot be read, with its line number."""


def dm_channel(*people: str) -> str:
    """The id of the direct message between these people (in any order)."""
    return "dm-" + "-".join(sorted(people))


def parse_age(spec: str) -> timedelta:
    match = _AGE.match(spec)
    if not spec or match is None:
        raise ValueError(f"not an age: {spec!r} (write 3d, 20h, 1d4.5h, 45m)")
    return timedelta(days=float(match["d"] or 0), hours=float(match["h"] or 0), minutes=int(match["m"] or 0))


def parse(text: str) -> Script:
    """The script's messages in file order (each reply after its root) and its documents."""
    lines: list[Line] = []
    documents: list[Document] = []
    channel: str | None = None
    document: list[str] | None = None
    root: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        try:
            if raw.startswith("=="):
                if document is not None:
                    documents.append(_document(document))
                document, channel, root = None, None, None
                words = raw[2:].split()
                if words[:1] == ["channel"] and len(words) == 2:
                    channel = words[1]
                elif words[:1] == ["dm"] and len(words) >= 3:
                    channel = dm_channel(*words[1:])
                elif words[:1] == ["doc"]:
                    document = [raw[2:].strip()[len("doc"):].strip()]
                else:
                    raise ValueError(f"unknown section {raw!r}")
            elif document is not None:
                document.append(raw)
            elif not raw.strip() or raw.startswith("#"):
                continue
            elif channel is None:
                raise ValueError("a message before any `== channel` line")
            else:
                line, root = _message(raw, channel, root, lines)
                lines.append(line)
        except ValueError as exc:
            raise ScriptError(f"{SCRIPT.name}:{number}: {exc}") from None
    if document is not None:
        try:
            documents.append(_document(document))
        except ValueError as exc:
            raise ScriptError(f"{SCRIPT.name}: {exc}") from None
    return Script(tuple(lines), tuple(documents))


def _message(raw: str, channel: str, root: int | None, lines: list[Line]) -> tuple[Line, int | None]:
    match = _MESSAGE.match(raw)
    if match is None:
        raise ValueError(f"not a message: {raw!r}")
    age = parse_age(match["age"])
    reactions = int(match["reactions"] or 0)
    if not match["indent"]:
        return Line(channel, match["user"], match["text"], age, None, reactions), len(lines)
    if root is None:
        raise ValueError("a reply with no message above it")
    if age >= lines[root].age:
        raise ValueError("a reply older than the message it answers")
    return Line(channel, match["user"], match["text"], age, root, reactions), root


def _document(lines: list[str]) -> Document:
    head, *body = lines
    path, _, title = head.partition("|")
    text = "\n".join(body).strip()
    if not path.strip() or not title.strip() or not text:
        raise ValueError(f"a document needs `== doc PATH | TITLE` and some text: {head!r}")
    return Document(path.strip(), title.strip(), text)


# The deploy bot ------------------------------------------------------------------------------------

SERVICES = ("api", "web", "billing", "search", "notifications", "mobile-api")
DEPLOYERS = ("bob", "alice", "frank", "hiro", "priya")
# Deploys that are part of the story (the checkout incident in #incidents): (age, text).
STORY_DEPLOYS = (
    (timedelta(days=8, hours=3), "✅ payments-gateway v2.13 deployed to production by bob (12 commits, 7 min)"),
    (timedelta(hours=20, minutes=6), "✅ payments-gateway v2.14 deployed to production by alice (9 commits, 6 min)"),
    (timedelta(hours=19, minutes=36), "↩️ payments-gateway rolled back from v2.14 to v2.13 on production by bob"),
)


def deploys(seed: int = DEPLOY_SEED, days: int = 21) -> list[Line]:
    """Three to five deploys a working day for `days` days, newest last; the same list for the same seed."""
    rng = random.Random(seed)
    versions = {s: [rng.randint(1, 4), rng.randint(0, 20), 0] for s in SERVICES}
    found: list[tuple[timedelta, str]] = list(STORY_DEPLOYS)
    for day in range(days, 0, -1):
        if day % 7 in (5, 6):  # two quiet days a week (never the last day: the digest wants it busy)
            continue
        ages = sorted((timedelta(days=day - 1, hours=rng.uniform(1, 10)) for _ in range(rng.randint(3, 5))),
                      reverse=True)
        for age in ages:  # oldest first, so versions only go up
            service = rng.choice(SERVICES)
            version = versions[service]
            version[2] += 1
            if rng.random() < 0.15:
                version[1:] = [version[1] + 1, 0]
            found.append((age, f"✅ {service} v{'.'.join(map(str, version))} deployed to production by "
                               f"{rng.choice(DEPLOYERS)} ({rng.randint(1, 25)} commits, {rng.randint(3, 14)} min)"))
    found.sort(key=lambda x: x[0], reverse=True)
    return [Line(DEPLOYS_CHANNEL, DEPLOY_BOT, text, age, is_bot=True) for age, text in found]


@cache
def script() -> Script:
    """The whole demo: the script's messages and documents, then the deploy bot's messages."""
    written = parse(SCRIPT.read_text(encoding="utf-8"))
    return Script((*written.lines, *deploys()), written.documents)
