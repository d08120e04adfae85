"""Who may see which channel's content. Every source shown anywhere passes through here.

The rule: content from channel S may be shown to a reader when S is a public channel of the
reader's tenant, when it is shown back in S itself, or when every person who will read the answer
is a member of S (in private: the reader alone; in a private channel, group or DM: all its members).
A public channel's readers are "everyone", so private content never goes there. A channel open only
to one group (a Teams team's standard channel: `audience_scope`) counts as public only where the
answer is shown inside that same group, or to a private reader (a DM) who is a stored member of that
group (the team roster, `ChannelRecord.audience_members`). An unknown roster admits no one.
A channel excluded with `/whybot settings exclude` admits no one, not even from inside it.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.models import Reader
from storage import ChannelRecord


class Visibility:
    def __init__(self, reader: Reader, tenant_id: str, channels: Iterable[ChannelRecord]) -> None:
        self.reader = reader
        self.tenant_id = tenant_id
        self._channels = {c.external_id: c for c in channels if c.tenant_id == tenant_id}
        self.audience = self._audience()
        self._allowed = {c.external_id for c in self._channels.values() if not c.excluded and self._may_see(c)}
        here = self._channels.get(reader.channel or "")
        if reader.channel and not (here is not None and here.excluded):
            self._allowed.add(reader.channel)

    def _audience(self) -> frozenset[str] | None:
        """The people who will read what we show; None means anyone in the tenant."""
        if self.reader.private:
            return frozenset({self.reader.user})
        here = self._channels.get(self.reader.channel or "")
        if here is None or not here.restricted:
            return None
        return here.member_ids | {self.reader.user}

    def _may_see(self, channel: ChannelRecord) -> bool:
        if not channel.restricted:
            if channel.audience_scope is None:
                return True
            # Readable by one group only (a Teams team): shown where the readers are that group too.
            here = self._channels.get(self.reader.channel or "")
            if channel.external_id == self.reader.channel or (
                    here is not None and here.audience_scope == channel.audience_scope):
                return True
            # In private the reader alone reads the answer: enough that they are in the group.
            return self.reader.private and self.reader.user in channel.audience_members
        if channel.external_id == self.reader.channel:
            return True
        return self.audience is not None and bool(self.audience) and self.audience <= channel.member_ids

    def may_see_channel(self, channel_external_id: str | None) -> bool:
        """None stands for tenant-wide content (documents not tied to a channel)."""
        return channel_external_id is None or channel_external_id in self._allowed

    def may_know_channel(self, channel_external_id: str) -> bool:
        """Whether the reader may see the channel itself (its name and rules, not its content): the same
        rule as for its content, except that an excluded channel stays known to those who could see it,
        so they can read its rules and include it again."""
        record = self._channels.get(channel_external_id)
        return record is not None and (record.external_id == self.reader.channel or self._may_see(record))

    def in_view(self, channel_external_id: str | None) -> ChannelRecord | None:
        """The channel a person has open while asking (a platform's assistant view), if it may scope what
        is shown here: a known channel, not a DM, whose content every reader may see. Whatever the platform
        said, anything else is no scope at all."""
        record = self._channels.get(channel_external_id) if channel_external_id else None
        if record is None or record.kind == "dm" or not self.may_see_channel(record.external_id):
            return None
        return record

    @property
    def allowed_channels(self) -> frozenset[str]:
        return frozenset(self._allowed)

    def channel(self, external_id: str) -> ChannelRecord | None:
        return self._channels.get(external_id)

    @property
    def allowed_channel_ids(self) -> frozenset[int]:
        """Storage ids of the channels whose content may be shown (for retrieval masks)."""
        return frozenset(c.id for c in self._channels.values() if c.external_id in self._allowed)
