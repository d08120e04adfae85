"""What is scrubbed from text before it leaves the process for an LLM.

Secrets are always scrubbed: the bot's own configured credentials, matched literally, and strings
shaped like well-known tokens (Slack, OpenAI, GitHub, AWS, private keys, bearer headers), in case
someone pasted one into a channel. Personal data (e-mail addresses, phone numbers, payment-card
numbers) is redacted only when `WHYBOT_REDACT_PII=true`; it is off by default because names and
contact details are often the answer people ask for. Both are plain pattern matches, so they reduce
exposure but do not guarantee it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),               # Slack bot/user/app tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{10,}"),                        # Slack app-level tokens
    re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),          # OpenAI / Anthropic style keys
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),                    # GitHub tokens
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),                   # AWS access key ids
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}"),
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_PHONE = re.compile(r"(?<![\w.(+])(?:\+\d{1,3}[ .-]?)?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}(?!\w|\.\d)")

SECRET = "[secret removed]"
EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card number]"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)


def describe(counts: dict[str, int]) -> str:
    """For the rationale: what was redacted, never the values."""
    return ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(counts.items()) if n)


@dataclass(frozen=True)
class Redactor:
    """Applied to every passage and question before a prompt is built, and to the model's output."""

    pii: bool = False
    known_secrets: tuple[str, ...] = ()

    @classmethod
    def with_secrets(cls, secrets: Iterable[str | None], *, pii: bool = False) -> Redactor:
        return cls(pii=pii, known_secrets=tuple(s for s in secrets if s and len(s) >= 6))

    def __call__(self, text: str) -> Redaction:
        counts: dict[str, int] = {}

        def add(kind: str, n: int) -> None:
            if n:
                counts[kind] = counts.get(kind, 0) + n

        for secret in self.known_secrets:
            if secret in text:
                add("secret", text.count(secret))
                text = text.replace(secret, SECRET)
        for pattern in _SECRET_PATTERNS:
            text, n = pattern.subn(SECRET, text)
            add("secret", n)
        if self.pii:
            text, n = _EMAIL.subn(EMAIL, text)
            add("email", n)
            text = _CARD.sub(lambda m: _replace(m, _is_card, CARD, add), text)
            text = _PHONE.sub(lambda m: _replace(m, _is_phone, PHONE, add), text)
        return Redaction(text, counts)


def _replace(match: re.Match[str], check: Callable[[str], bool], label: str,
             add: Callable[[str, int], None]) -> str:
    if not check(match.group(0)):
        return match.group(0)
    add(label.strip("[]").split()[0], 1)
    return label


def _is_card(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _is_phone(raw: str) -> bool:
    """Needs phone-like separators or a leading +; bare runs of digits are usually ids or versions."""
    digits = re.sub(r"\D", "", raw)
    return len(digits) >= 7 and (raw.startswith(("+", "(")) or re.search(r"[ .)-]", raw) is not None)
