"""A tiny template grammar, so message frames stay readable and varied without a dependency.

Syntax: `[a|b|]` picks one alternative (an empty one makes the group optional) and `{slot}` is
filled from the call's slots, then from the shared lexicon. A slot whose value is a list picks one
item; lexicon entries may themselves be templates, and slot values may hold further `{slots}`.
Templates are compiled once and cached, so a 200k-message workspace expands in seconds.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

# A compiled template is a tuple of parts: a literal string, a slot name (`Slot`), or a choice
# between alternative part tuples (`Choice`).


class Slot(str):
    """A slot name inside a compiled template (a `str` subclass to stay cheap)."""

    __slots__ = ()


class Choice(tuple):
    """Alternatives: each item is a tuple of parts."""

    __slots__ = ()


Part = str | Slot | Choice
SlotValue = str | Sequence[str]

_TOKEN = re.compile(r"\{(\w+)\}|\[|\]|\||[^\[\]|{]+|\{")


class TemplateError(ValueError):
    """A template with unbalanced brackets or an unknown slot."""


@lru_cache(maxsize=8192)
def compile_template(template: str) -> tuple[Part, ...]:
    stack: list[list[list[Part]]] = [[[]]]
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if match.group(1):
            stack[-1][-1].append(Slot(match.group(1)))
        elif token == "[":
            stack.append([[]])
        elif token == "|":
            if len(stack) == 1:
                stack[-1][-1].append("|")
            else:
                stack[-1].append([])
        elif token == "]":
            if len(stack) == 1:
                raise TemplateError(f"unbalanced ']' in {template!r}")
            alternatives = stack.pop()
            stack[-1][-1].append(Choice(tuple(alts) for alts in alternatives))
        else:
            stack[-1][-1].append(token)
    if len(stack) != 1:
        raise TemplateError(f"unbalanced '[' in {template!r}")
    return tuple(stack[0][0])


_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.!?;:])")


def tidy(text: str) -> str:
    """Collapse the double spaces and stray spaces that optional groups leave behind."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()


class Grammar:
    """Expands templates against per-call slots and a shared lexicon."""

    def __init__(self, rng: random.Random, lexicon: Mapping[str, SlotValue]) -> None:
        self.rng = rng
        self.lexicon = lexicon

    def expand(self, template: str | Sequence[str], slots: Mapping[str, SlotValue] | None = None) -> str:
        if not isinstance(template, str):
            template = self.rng.choice(template)
        out: list[str] = []
        self._walk(compile_template(template), slots or {}, out, 0)
        return tidy("".join(out))

    def _walk(self, parts: tuple[Part, ...], slots: Mapping[str, SlotValue], out: list[str], depth: int) -> None:
        if depth > 12:
            raise TemplateError("template recursion too deep")
        for part in parts:
            if isinstance(part, Slot):
                value = slots.get(part)
                from_lexicon = value is None
                if from_lexicon:
                    value = self.lexicon.get(part)
                if value is None:
                    raise TemplateError(f"unknown slot {{{part}}}")
                text = value if isinstance(value, str) else self.rng.choice(value)
                if "{" in text or (from_lexicon and "[" in text):
                    self._walk(compile_template(text), slots, out, depth + 1)
                else:
                    out.append(text)
            elif isinstance(part, Choice):
                self._walk(self.rng.choice(part), slots, out, depth + 1)
            else:
                out.append(part)
