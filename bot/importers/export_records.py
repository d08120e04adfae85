"""The records of a Slack export, validated at the seam.

Each file is parsed with pydantic-core's JSON parser (it refuses invalid UTF-8, lone surrogates and
nesting deeper than its recursion limit with a ValueError, where `json.loads` raises RecursionError),
then each record is validated on its own, so one bad record is a counted skip that names its file and
position instead of a traceback that ends the import.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import from_json

# Slack timestamps are seconds.micros as a string; ten digits of seconds reach the year 2286.
SlackTs = Annotated[str, StringConstraints(pattern=r"^\d{1,10}(\.\d{1,6})?$")]
SlackId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Name = Annotated[str, StringConstraints(max_length=512)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Profile(_Record):
    display_name: Name | None = None
    real_name: Name | None = None


class ExportUser(_Record):
    id: SlackId
    team_id: SlackId | None = None
    name: Name | None = None
    real_name: Name | None = None
    tz: Name | None = None
    is_bot: bool = False
    profile: Profile = Field(default_factory=Profile)

    @property
    def display(self) -> str:
        return self.profile.display_name or self.profile.real_name or self.real_name or ""


class Topic(_Record):
    value: str = ""


class ExportChannel(_Record):
    """A channels.json / groups.json / mpims.json / dms.json entry."""

    id: SlackId
    name: Name | None = None
    members: list[SlackId] = Field(default_factory=list)
    topic: Topic | None = None


class Reaction(_Record):
    name: Name | None = None
    count: Count | None = None
    users: list[str] = Field(default_factory=list)


class Edited(_Record):
    ts: SlackTs | None = None


class ExportFile(_Record):
    id: str | None = None
    name: str | None = None
    title: str | None = None


class BotProfile(_Record):
    name: Name | None = None


class ExportMessage(_Record):
    """One message of a day file. `attachments` and `blocks` stay raw: slack_text reads them defensively."""

    type: str = "message"
    subtype: str | None = None
    ts: SlackTs
    user: SlackId | None = None
    bot_id: SlackId | None = None
    username: Name | None = None
    bot_profile: BotProfile | None = None
    text: str | None = None
    thread_ts: SlackTs | None = None
    reply_count: Count = 0
    edited: Edited | None = None
    reactions: list[Reaction] = Field(default_factory=list)
    files: list[ExportFile] = Field(default_factory=list)
    attachments: list[Any] = Field(default_factory=list)
    blocks: list[Any] = Field(default_factory=list)


class FileProblem(Exception):
    """A file is not a JSON list of records; the message names it."""


R = TypeVar("R", bound=BaseModel)


def records(name: str, data: bytes | bytearray) -> list[Any]:
    """The file's top-level list, or FileProblem saying what is wrong with it, in one line."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        parsed = from_json(data)
    except ValueError as exc:
        raise FileProblem(f"{name}: not valid JSON text ({exc})") from exc
    if not isinstance(parsed, list):
        found = "an object" if isinstance(parsed, dict) else type(parsed).__name__
        raise FileProblem(f"{name}: expected a list of records, found {found}")
    return parsed


def describe(exc: ValidationError) -> str:
    """The first problems of a record as `field: message (got …)`, short enough for one line."""
    parts = []
    for error in exc.errors(include_url=False)[:2]:
        where = ".".join(str(p) for p in error["loc"]) or "record"
        got = repr(error.get("input"))
        parts.append(f"{where}: {error['msg']}" + (f" (got {got[:40]})" if error["type"] != "missing" else ""))
    return "; ".join(parts)


def validate(model: type[R], raw: Any, where: str) -> R | str:
    """The record, or a one-line reason naming `where` (file and position) it cannot be used."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return f"{where}: {describe(exc)}"
