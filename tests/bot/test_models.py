"""The seam models survive a JSON round trip unchanged (they are stored and sent between processes)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import (
    ChatEvent,
    Citation,
    ConversationKind,
    EvidenceItem,
    Generator,
    Inputs,
    Platform,
    Rationale,
    Reply,
    ReplyItem,
    ReplySection,
    Route,
    RouteKind,
    Trigger,
)


def test_chat_event_round_trip() -> None:
    event = ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C1", conversation_kind=ConversationKind.GROUP,
                      user="U1", text="when is the freeze? 🚀", thread_id="1.2", trigger=Trigger.COMMAND,
                      command="ask", args="when is the freeze?", private_reply=True, event_id="Ev1",
                      reference={"response_url": "https://hooks.example/1", "nested": {"a": [1, 2]}})
    assert ChatEvent.model_validate_json(event.model_dump_json()) == event


def test_reply_and_rationale_round_trip() -> None:
    now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    rationale = Rationale(
        decision_id="d_1", skill="ask",
        route=Route(kind=RouteKind.CLASSIFIER, skill="ask", reason="tf-idf", scores={"ask": 0.91, "help": 0.04},
                    top_features={"ask": ["when", "?"]}),
        inputs=Inputs(query="when?", query_terms=["freez"], channels=["eng"], window_start=now, window_end=now,
                      messages_considered=10),
        evidence=[EvidenceItem(rank=1, source_id="message:1", channel="C1", score=2.5, matched_terms=["freeze"],
                               contributions={"replies": 0.4})],
        generator=Generator(kind="llm", model="gpt-4o-mini", prompt_version="ask-2", prompt_tokens=100,
                            completion_tokens=20, retries=1, latency_ms=850.0),
        caveats=["fell back"], left_out=["2 threads"], withheld_sources=1, timings_ms={"total": 12.5},
        created_at=now)
    reply = Reply(title="About", body="**Thursday** [1]", rationale=rationale,
                  sections=[ReplySection(title="Top", items=[ReplyItem(text="x", link="https://x", why=["a"],
                                                                       citation_numbers=[1], item_id="t:1")])],
                  citations=[Citation(number=1, source_id="message:1", permalink="https://x", snippet="s",
                                      channel="C1", timestamp=now)])
    again = Reply.model_validate_json(reply.model_dump_json())
    assert again == reply and again.decision_id == "d_1"
    assert Rationale.model_validate(reply.rationale.model_dump(mode="json")) == rationale
