"""Threads that hold an answer of the kind asked for rank above threads that only share the subject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import text as textlib
from bot.answers import answer_kinds
from bot.backends.retrieval.base import Hit
from bot.kind_rank import KIND_BOOST, kind_ranked
from storage import MessageRecord

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def message(n: int, root: int, user: str, text: str, replies: int = 0) -> MessageRecord:
    return MessageRecord(id=n, tenant_id="t", channel_id=1, channel_external_id="C1", channel_name="eng",
                         external_id=f"{n}.0", thread_external_id=None if n == root else f"{root}.0",
                         user_external_id=user, user_name=user, text=text, created_at=T0 + timedelta(minutes=n),
                         reply_count=replies)


STORAGE = [message(1, 1, "U1", "what does reviews-service use for storage?", replies=1),
           message(2, 1, "U2", "reviews-service writes to Cassandra")]
OWNER = [message(3, 3, "U3", "who should I talk to about reviews-service? need a review", replies=2),
         message(4, 3, "U4", "good question"),
         message(5, 3, "U5", "that's <@U6|Sofia>'s team")]
THREADS = {1: STORAGE, 3: OWNER}


async def load(m: MessageRecord) -> list[MessageRecord]:
    return THREADS[int(float(m.thread_root))]


def hit(m: MessageRecord, score: float) -> Hit:
    return Hit(source_id=m.source_id, score=score, matched_terms=["reviews-servic"], message=m)


async def test_the_thread_that_names_a_person_ranks_first_for_a_who_question() -> None:
    question = "who's the go-to person for reviews-service"
    terms = textlib.terms(question)
    hits = [hit(STORAGE[0], 2.09), hit(STORAGE[1], 2.0), hit(OWNER[0], 1.74)]
    ranked = await kind_ranked(hits, answer_kinds(question), load, terms, dict.fromkeys(terms, 1.0), pool=3)
    assert ranked.hits[0].source_id == OWNER[0].source_id
    assert ranked.hits[0].score == round(1.74 * (1 + KIND_BOOST), 6)
    assert ranked.notes == {OWNER[0].source_id: "ranked up: it or its thread gives a person or owner, as asked"}


async def test_a_question_of_no_particular_kind_keeps_the_search_order() -> None:
    hits = [hit(STORAGE[0], 2.09), hit(OWNER[0], 1.74)]
    ranked = await kind_ranked(hits, answer_kinds("what about reviews-service"), load, [], {}, pool=2)
    assert [h.score for h in ranked.hits] == [2.09, 1.74] and ranked.notes == {}
