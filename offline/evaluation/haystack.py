"""Hide a small labelled workspace inside a large synthetic one ("quality at scale").

The large workspace is generated from another seed, then given the labelled workspace's team id and,
for public channels of the same name, its channel ids: its hundreds of thousands of messages about
the same services, customers and kinds of threads land in the same tenant and the same channels as
the labelled ones, so the right thread has to win against similar topics. Private channels keep
their own ids (their members differ). The labelled workspace is imported after the haystack, so its
channel membership is the one that stays.
"""

from __future__ import annotations

import json
from pathlib import Path

from offline.synth.export import write_export
from offline.synth.generate import generate


def write_haystack(labelled: Path, size: str, seed: int, out: Path) -> dict[str, int]:
    """Write the haystack export for the labelled export folder `labelled` into `out`."""
    team = json.loads((labelled / "labels.json").read_text(encoding="utf-8"))["team_id"]
    public = {c["name"]: c["id"] for c in json.loads((labelled / "channels.json").read_text(encoding="utf-8"))}
    hay = generate(seed, size)
    hay.team_id = team
    for channel in hay.channels:
        if not channel.private and channel.name in public:
            channel.id = public[channel.name]
    return write_export(hay, out)
