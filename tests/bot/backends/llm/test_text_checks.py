"""Citation checks, scrubbing and token counting: the pure parts of the LLM backend."""

from __future__ import annotations

import httpx2
import openai

from bot.backends.llm.citations import check_citations
from bot.backends.llm.openai_compat import is_retryable, retry_after_s
from bot.backends.llm.redact import Redactor
from bot.backends.llm.tokens import TokenCounter


def test_citations_normalised_invented_removed_uncited_listed() -> None:
    checked = check_citations("Rolled back at 10:05 [2]. Root cause was the pool [3, 9]. "
                              "It was fixed on Friday. [7]\n• A bullet with no source", {1, 2, 3})
    assert checked.text == ("Rolled back at 10:05 [2]. Root cause was the pool [3]. It was fixed on Friday.\n"
                            "• A bullet with no source")
    assert checked.cited == [2, 3] and checked.invented == [9, 7]
    assert checked.uncited == ["It was fixed on Friday.", "A bullet with no source"]


def test_citation_after_the_full_stop_still_counts() -> None:
    checked = check_citations("The freeze starts Thursday at 18:00. [1][2] Cut branches by Wednesday. [2]", {1, 2})
    assert checked.uncited == [] and checked.cited == [1, 2]


def test_secrets_always_scrubbed_pii_only_when_enabled() -> None:
    text = ("token xoxb-1-2-abcdefghijkl, key sk-proj-abcdefghijklmnopqrstuvwx, configured hunter2secret, "
            "mail a.b@example.com, call (555) 123-4567, card 4111 1111 1111 1111, release 2024-05-01 v2.14")
    plain = Redactor.with_secrets(["hunter2secret"])(text)
    assert "xoxb-" not in plain.text and "sk-proj" not in plain.text and "hunter2secret" not in plain.text
    assert "a.b@example.com" in plain.text and plain.counts == {"secret": 3}
    pii = Redactor.with_secrets(["hunter2secret"], pii=True)(text)
    assert "[email]" in pii.text and "[phone]" in pii.text and "[card number]" in pii.text
    assert "2024-05-01 v2.14" in pii.text  # dates and versions are not phone numbers
    assert pii.counts == {"secret": 3, "email": 1, "phone": 1, "card": 1}


def _status_error(status: int, headers: dict[str, str]) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, headers=headers, request=request)
    cls = openai.RateLimitError if status == 429 else openai.InternalServerError
    return cls("scripted", response=response, body=None)


def test_retry_after_forms_and_what_is_retried() -> None:
    assert retry_after_s(_status_error(429, {"retry-after": "3"})) == 3.0
    assert retry_after_s(_status_error(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(_status_error(503, {})) is None
    assert is_retryable(_status_error(429, {})) and is_retryable(_status_error(500, {}))
    request = httpx2.Request("POST", "http://127.0.0.1/")
    assert is_retryable(openai.APIConnectionError(request=request))
    assert not is_retryable(openai.APITimeoutError(request=request))


def test_token_counter_estimates_for_models_tiktoken_does_not_know() -> None:
    counter = TokenCounter.for_model("llama3.1:8b")
    assert not counter.exact and "tiktoken does not know llama3.1:8b" in counter.method
    assert counter.count("x" * 35) == 10
