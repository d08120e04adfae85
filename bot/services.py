"""Builds the object graph once and passes it down: settings -> storage -> backends -> router."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.adapter import Surface
from bot.backends.answerability import AnswerabilityModel, weights_for
from bot.backends.importance import ImportanceScorer
from bot.backends.llm.base import TextGenerator
from bot.backends.llm.extractive import ExtractiveGenerator
from bot.backends.llm.openai_compat import OpenAIGenerator
from bot.backends.retrieval.base import Retriever
from bot.backends.retrieval.factory import build_retriever
from bot.classifier import RulesThenClassifier
from bot.inbox import Inbox
from bot.ingest import Ingestor
from bot.intents import IntentClassifier
from bot.metrics import Metrics
from bot.models import Platform
from bot.router import Router
from bot.settings import Settings
from bot.skill import SkillContext
from skills.registry import default_skills
from storage import Storage

log = logging.getLogger(__name__)


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    storage: Storage
    retriever: Retriever
    generator: TextGenerator
    scorer: ImportanceScorer
    classifier: IntentClassifier
    router: Router
    ingest: Ingestor
    metrics: Metrics
    clock: Callable[[], datetime]
    inbox: Inbox
    surfaces: dict[Platform, Surface] = field(default_factory=dict)

    async def close(self) -> None:
        await self.retriever.close()  # hybrid search holds embedding tasks and connections
        await self.storage.close()


def build_generator(settings: Settings) -> TextGenerator:
    """The extractive generator unless an OpenAI-compatible endpoint is configured."""
    if settings.llm_configured:
        return OpenAIGenerator.from_settings(settings)
    return ExtractiveGenerator()


async def build_services(
    settings: Settings,
    *,
    storage: Storage | None = None,
    generator: TextGenerator | None = None,
    classifier: IntentClassifier | None = None,
    clock: Callable[[], datetime] = utc_clock,
) -> Services:
    storage = storage or await Storage.open(settings.database_url)
    retriever = build_retriever(settings, storage)
    generator = generator or build_generator(settings)
    scorer = ImportanceScorer.load()
    classifier = classifier or RulesThenClassifier()
    ctx = SkillContext(storage=storage, retriever=retriever, generator=generator, scorer=scorer,
                       answerability=AnswerabilityModel.load(weights_for(settings.embeddings_source)),
                       settings=settings, clock=clock)
    router = Router(default_skills(), classifier, ctx)
    metrics = Metrics(settings.metrics_dir)
    return Services(settings=settings, storage=storage, retriever=retriever, generator=generator, scorer=scorer,
                    classifier=classifier, router=router, ingest=Ingestor(storage, retriever), metrics=metrics,
                    clock=clock, inbox=Inbox(storage, clock, metrics, write_timeout_s=settings.inbox_write_timeout_s))
