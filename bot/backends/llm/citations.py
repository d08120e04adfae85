"""Checking a model's citations after it wrote them.

A model can cite a source it was never given, or state something without citing anything. The
first is removed from the text (a reader must never follow a [n] to nothing); the second is
reported, sentence by sentence, so the rationale can say which claims no source backs.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

_CITE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_CLAIM_SPLIT = re.compile(r"(?<=[.!?])\s+(?!\[)|\n+")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")


@dataclass(frozen=True)
class CheckedText:
    text: str
    cited: list[int] = field(default_factory=list)
    invented: list[int] = field(default_factory=list)
    uncited: list[str] = field(default_factory=list)


def check_citations(text: str, known: Collection[int]) -> CheckedText:
    """Normalise [1, 2] to [1][2], drop numbers not in `known`, list claims that cite nothing."""
    cited: list[int] = []
    invented: list[int] = []

    def rewrite(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]
        kept = []
        for n in numbers:
            if n in known:
                kept.append(n)
                if n not in cited:
                    cited.append(n)
            elif n not in invented:
                invented.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    cleaned = _CITE.sub(rewrite, text)
    cleaned = "\n".join(_SPACE_BEFORE_PUNCT.sub(r"\1", line).rstrip() for line in cleaned.strip().splitlines())
    uncited = [claim for claim in (c.strip(" •-*\t") for c in _CLAIM_SPLIT.split(cleaned))
               if len(claim.split()) >= 3 and not _CITE.search(claim)]
    return CheckedText(cleaned, cited, invented, uncited)
