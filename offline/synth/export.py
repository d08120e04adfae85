"""Write a synthetic workspace as a standard Slack workspace export folder, plus `labels.json`.

Layout (what Slack's admin export produces, unzipped)::

    users.json        members, bots included (`is_bot`), one deactivated account (`deleted`)
    channels.json     public channels with `members`, `topic`, `purpose`, `created`, `creator`
    groups.json       private channels, same shape; `members` is the only way to know who may read them
    <channel name>/YYYY-MM-DD.json   that channel's messages of that UTC day, oldest first

Messages carry `type`, `user`, `text`, `ts`, `client_msg_id`, `team`, `user_team`, `source_team`,
`user_profile`; thread roots add `thread_ts`, `reply_count`, `reply_users_count`, `latest_reply`,
`reply_users`, `replies` [{user, ts}]; replies add `thread_ts` and `parent_user_id`; `reactions`
[{name, users, count}], `edited` {user, ts}, `files` (with `upload`), `subtype` `bot_message` (with
`bot_id`, `username`, `icons`), `thread_broadcast`, or `tombstone` for a deleted root that still has
replies. Deleted messages are absent, as in a real export.

labels.json schema (version "whybot-synth-labels/1"); a message id is "<channel id>:<ts>"::

    {
      "schema": "whybot-synth-labels/1", "seed": int, "size": "small|medium|large",
      "team_id": str, "now": ISO-8601 UTC (the generator's clock; "recent" means root within 24 h of it),
      "threads": [{"id": root message id, "channel": id, "channel_name": str, "kind": str,
                   "importance": 0..3 (0 noise, 1 useful, 2 important, 3 must-read),
                   "topic": str, "recent": bool, "messages": [message ids, root first],
                   "duplicate_of": root message id | null}],
      "questions": [{"id": "q<n>", "question": paraphrase to ask the bot (not the literal message),
                     "asked": literal question message id | null, "answers": [message ids],
                     "facts": [strings a correct answer contains], "channels": [channel ids of answers]}],
      "paraphrases": [{"id": "p<n>", "of": question id, "question": the same question in words the answering
                       thread never uses (only the subject's names are kept), "answers", "facts", "channels"}],
      "follow_ups": [{"id": "f<n>", "of": question id, "question": a follow-up asked in the answer's thread
                      ("and who said that?"), "threads": [thread root ids that answer it]}],
      "unanswerable": [{"id": "u<n>", "question": str}],
      "utterances": [{"text": str, "skill": "ask|summarize|digest|help"}],
      "private_facts": [{"fact": str (verbatim in the message, nowhere outside the channel),
                         "channel": private channel id, "message": message id, "members": [user ids],
                         "probe": a question that would surface it}],
      "deleted": [{"id": message id, "text": original text}]
    }
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from offline.synth.model import Bot, Channel, Message, Person, Workspace
from offline.synth.paraphrase import follow_up, paraphrase

LABELS_SCHEMA = "whybot-synth-labels/1"


def _dump(path: Path, data: Any) -> None:
    # json.dumps uses the C encoder; json.dump streams through the pure-Python one (5x slower)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@lru_cache(maxsize=4096)
def _avatar(person_id: str) -> tuple[str, str]:
    h = hashlib.sha1(person_id.encode()).hexdigest()
    return h[:12], f"https://avatars.slack-edge.com/2024-01-01/{h[:10]}_{h[10:30]}_72.png"


def _user(ws: Workspace, p: Person) -> dict[str, Any]:
    avatar_hash, image = _avatar(p.id)
    return {
        "id": p.id, "team_id": ws.team_id, "name": p.name, "deleted": p.deleted, "color": "9f69e7",
        "real_name": p.real_name, "tz": p.tz, "tz_label": p.tz_label, "tz_offset": p.tz_offset,
        "profile": {"title": p.title, "phone": "", "skype": "", "real_name": p.real_name,
                    "real_name_normalized": p.real_name, "display_name": p.first if p.casual else p.real_name,
                    "display_name_normalized": p.first if p.casual else p.real_name, "status_text": "",
                    "status_emoji": "", "avatar_hash": avatar_hash, "first_name": p.first, "last_name": p.last,
                    "email": f"{p.name}@{ws.domain.split('-')[0]}.example", "image_72": image,
                    "team": ws.team_id},
        "is_admin": p.team == "lead", "is_owner": p.title == "CEO", "is_primary_owner": p.title == "CEO",
        "is_restricted": False, "is_ultra_restricted": False, "is_bot": False, "is_app_user": False,
        "updated": int(ws.now) - 86400 * 3,
    }


def _bot_user(ws: Workspace, b: Bot) -> dict[str, Any]:
    return {"id": b.user_id, "team_id": ws.team_id, "name": b.name.lower().replace(" ", ""), "deleted": False,
            "real_name": b.name, "tz": "America/Los_Angeles", "tz_label": "Pacific Standard Time",
            "tz_offset": -28800, "is_bot": True, "is_app_user": False, "updated": int(ws.now) - 86400 * 30,
            "profile": {"real_name": b.name, "display_name": "", "bot_id": b.id, "first_name": b.name,
                        "team": ws.team_id, "always_active": True}}


def _channel(ch: Channel) -> dict[str, Any]:
    return {"id": ch.id, "name": ch.name, "created": ch.created, "creator": ch.creator, "is_archived": False,
            "is_general": ch.is_general, "members": list(ch.members), "pins": [],
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": ch.purpose, "creator": ch.creator, "last_set": ch.created}}


def _message(ws: Workspace, m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "message"}
    author = m.author
    if m.subtype == "tombstone":
        out.update(subtype="tombstone", user="USLACKBOT", text=m.text, ts=m.ts, hidden=True)
    elif isinstance(author, Bot):
        out.update(subtype="bot_message", text=m.text, ts=m.ts, bot_id=author.id, username=author.name,
                   icons={"emoji": author.emoji})
    else:
        avatar_hash, image = _avatar(author.id)
        out.update(text=m.text, user=author.id, ts=m.ts,
                   client_msg_id=_msg_uuid(m),
                   team=ws.team_id, user_team=ws.team_id, source_team=ws.team_id,
                   user_profile={"avatar_hash": avatar_hash, "image_72": image, "first_name": author.first,
                                 "real_name": author.real_name,
                                 "display_name": author.first if author.casual else author.real_name,
                                 "team": ws.team_id, "name": author.name, "is_restricted": False,
                                 "is_ultra_restricted": False})
        if m.subtype:
            out["subtype"] = m.subtype
    if m.edited_ts and isinstance(author, Person) and m.subtype != "tombstone":
        out["edited"] = {"user": author.id, "ts": m.edited_ts}
    if m.thread_ts and m.thread_ts == m.ts:
        if m.replies:
            users = list(dict.fromkeys(_author_id(r) for r in m.replies))
            out.update(thread_ts=m.ts, reply_count=len(m.replies), reply_users_count=len(users),
                       latest_reply=m.replies[-1].ts, reply_users=users,
                       replies=[{"user": _author_id(r), "ts": r.ts} for r in m.replies], is_locked=False,
                       subscribed=False)
    elif m.thread_ts:
        out["thread_ts"] = m.thread_ts
        if m.parent is not None:
            out["parent_user_id"] = "USLACKBOT" if m.parent.subtype == "tombstone" else _author_id(m.parent)
    if m.files:
        out["files"] = [_file(ws, m, i) for i in range(len(m.files))]
        out["upload"] = True
        out["display_as_bot"] = False
    if m.reactions:
        out["reactions"] = [{"name": r.name, "users": r.users, "count": len(r.users)} for r in m.reactions]
    return out


def _msg_uuid(m: Message) -> str:
    h = hashlib.md5(f"{m.channel.id}{m.ts}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _author_id(m: Message) -> str:
    return m.author.user_id if isinstance(m.author, Bot) else m.author.id


def _file(ws: Workspace, m: Message, i: int) -> dict[str, Any]:
    f = m.files[i]
    fid = "F" + hashlib.sha1(f"{m.channel.id}{m.ts}{i}".encode()).hexdigest()[:10].upper()
    user = _author_id(m)
    created = int(float(m.ts))
    return {"id": fid, "created": created, "timestamp": created, "name": f.name, "title": f.title,
            "mimetype": f.mimetype, "filetype": f.filetype, "pretty_type": f.filetype.upper(), "user": user,
            "editable": False, "size": f.size, "mode": "hosted", "is_external": False, "external_type": "",
            "is_public": not m.channel.private, "public_url_shared": False, "display_as_bot": False,
            "username": "",
            "url_private": f"https://files.slack.com/files-pri/{ws.team_id}-{fid}/{f.name}",
            "url_private_download": f"https://files.slack.com/files-pri/{ws.team_id}-{fid}/download/{f.name}",
            "permalink": f"https://{ws.domain}.slack.com/files/{user}/{fid}/{f.name}"}


def _day(ts: str) -> str:
    return _day_of(int(ts.partition(".")[0]) // 86400)


@lru_cache(maxsize=4096)
def _day_of(epoch_day: int) -> str:
    return datetime.fromtimestamp(epoch_day * 86400, UTC).strftime("%Y-%m-%d")


def write_export(ws: Workspace, out: Path) -> dict[str, int]:
    """Write the export folder; returns counts for the CLI to report."""
    out.mkdir(parents=True, exist_ok=True)
    _dump(out / "users.json", [_user(ws, p) for p in ws.people] + [_bot_user(ws, b) for b in ws.bots])
    _dump(out / "channels.json", [_channel(ch) for ch in ws.channels if not ch.private])
    _dump(out / "groups.json", [_channel(ch) for ch in ws.channels if ch.private])
    by_file: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for m in ws.messages:  # already sorted by channel, then ts
        by_file[(m.channel.name, _day(m.ts))].append(_message(ws, m))
    for (channel, day), items in by_file.items():
        folder = out / channel
        folder.mkdir(exist_ok=True)
        _dump(folder / f"{day}.json", items)
    _dump(out / "labels.json", labels(ws))
    return {"users": len(ws.people) + len(ws.bots), "channels": len(ws.channels), "messages": len(ws.messages),
            "day files": len(by_file), "threads": len(ws.threads)}


def labels(ws: Workspace) -> dict[str, Any]:
    """The labels document described in this module's docstring."""
    threads_out: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    paraphrases: list[dict[str, Any]] = []
    follow_ups: list[dict[str, Any]] = []
    private: list[dict[str, Any]] = []
    for t_index, (thread, row) in enumerate(zip(ws.threads, ws.thread_messages, strict=True)):
        root = row[0]
        if root is None:
            continue
        dup_row = ws.thread_messages[thread.duplicate_of] if thread.duplicate_of is not None else None
        threads_out.append({
            "id": root.id, "channel": thread.channel.id, "channel_name": thread.channel.name, "kind": thread.kind,
            "importance": thread.importance, "topic": thread.topic, "recent": root_recent(ws, root),
            "messages": [m.id for m in row if m is not None],
            "duplicate_of": dup_row[0].id if dup_row and dup_row[0] else None})
        for qa in thread.qa:
            answers = []
            for t_ref, d_index in qa.answers:
                msg = ws.thread_messages[t_index if t_ref is None else t_ref][d_index]
                if msg is not None:
                    answers.append(msg)
            if not answers:
                continue
            asked = row[qa.asked] if qa.asked is not None else None
            qid = f"q{len(questions) + 1}"
            questions.append({"id": qid, "question": qa.question,
                              "asked": asked.id if asked else None, "answers": [m.id for m in answers],
                              "facts": list(qa.facts), "channels": list(dict.fromkeys(m.channel.id for m in answers))})
            refs = {t_index if t_ref is None else t_ref for t_ref, _ in qa.answers} | {t_index}
            source = [m.text for r in refs for m in ws.thread_messages[r] if m is not None]
            far = paraphrase(qa.family, qa.slots, source, qa.question)
            if far is not None:
                paraphrases.append({"id": f"p{len(paraphrases) + 1}", "of": qid, "question": far,
                                    "answers": [m.id for m in answers], "facts": list(qa.facts),
                                    "channels": questions[-1]["channels"]})
            follow_ups.append({"id": f"f{len(follow_ups) + 1}", "of": qid, "question": follow_up(qa.question),
                               "threads": list(dict.fromkeys((m.parent or m).id for m in answers))})
        for d_index, fact, probe in thread.private_facts:
            msg = row[d_index]
            if msg is not None:
                private.append({"fact": fact, "channel": thread.channel.id, "message": msg.id,
                                "members": list(thread.channel.members), "probe": probe})
    return {
        "schema": LABELS_SCHEMA, "seed": ws.seed, "size": ws.size, "team_id": ws.team_id,
        "now": datetime.fromtimestamp(ws.now, UTC).isoformat().replace("+00:00", "Z"),
        "threads": threads_out, "questions": questions, "paraphrases": paraphrases, "follow_ups": follow_ups,
        "unanswerable": [{"id": f"u{i + 1}", "question": q} for i, q in enumerate(ws.unanswerable)],
        "utterances": [{"text": text, "skill": skill} for text, skill in ws.utterances],
        "private_facts": private,
        "deleted": [{"id": f"{ch.id}:{ts}", "text": text} for ch, ts, text in ws.deleted],
    }


def root_recent(ws: Workspace, root: Message) -> bool:
    return float(root.ts) >= ws.now - 86400
