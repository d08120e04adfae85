"""Labelled answerability examples from synthetic workspaces (`offline.synth`): the features ask computed for
each labelled question, paraphrase and unanswerable question, read back from the reply's rationale.

Each workspace is generated from a seed, written as a Slack export and imported into a scratch SQLite
database, and every question goes through the real router (`router.handle`, as `whybot eval` does), so the
features are exactly what the runtime sees. The rationale keeps the features whatever was decided, so the
model that ran (hand-set or an earlier fit) does not change the data.

What counts as "answerable" is decided at training time from two facts kept per example: whether the
question has an answer in the workspace at all, and at which rank (1-based, 0 = not shown) the first source
from a labelled answering thread appears in the reply's evidence.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.backends.llm.extractive import ExtractiveGenerator
from bot.classifier import RulesThenClassifier
from bot.models import Reply
from bot.services import Services, build_services
from bot.settings import Settings
from offline.evaluation.labels import Labels
from offline.evaluation.runner import Evaluator, Timings, fixed_clock, load_workspace, ranked_evidence
from offline.synth.export import write_export
from offline.synth.generate import generate
from storage import Storage

# Seeds whose workspaces judge the shipped models (`whybot eval` held-out seeds): never trained or tuned on.
HELD_OUT = frozenset({31, 32, 33, 41})
LOWEST_THRESHOLD = 1e-6


@dataclass(frozen=True, slots=True)
class Example:
    seed: int
    kind: str  # "question" | "paraphrase" | "unanswerable"
    question: str
    features: dict[str, float]
    has_answer: bool
    thread_rank: int  # first evidence rank from a labelled answering thread (0: none shown; unanswerable: 0)
    declined: bool  # what the running code decided (for reference only)
    # Declined by a rule even where the model would answer: nothing to quote, too little of the question quoted,
    # not the kind of statement asked for. Known because every question is asked with the threshold at its lowest.
    ruled_out: bool = False


def _thread_rank(reply: Reply, label_id: dict[str, str], labels: Labels, answers: Sequence[str]) -> int:
    threads = {labels.thread_of[a] for a in answers if a in labels.thread_of}
    for rank, source in enumerate(ranked_evidence(reply), start=1):
        if labels.thread_of.get(label_id.get(source, "")) in threads:
            return rank
    return 0


async def workspace_examples(path: Path, seed: int, database_url: str, *, embeddings: bool = False
                             ) -> list[Example]:
    """Ask every labelled question of one written workspace; one example each. With `embeddings`, search is
    hybrid through the environment's embedding model (the built-in static one, or WHYBOT_EMBEDDINGS_MODEL on
    OPENAI_BASE_URL), so the features are those a deployment with that model sees; otherwise words only."""
    labels = Labels.load(path)
    update: dict[str, object] = {"database_url": database_url}
    if not embeddings:
        update |= {"embeddings_model": None, "static_embeddings": False, "openai_api_key": None,
                   "openai_base_url": None}
    # The lowest threshold lets every question reach the rules that judge what would be quoted, so the fit can
    # count the unanswerable questions they decline anyway.
    settings = Settings().model_copy(update=update | {"answer_threshold": LOWEST_THRESHOLD})
    if embeddings and settings.embeddings_source == "off":
        raise ValueError("asking with embeddings needs an embedding model, and WHYBOT_STATIC_EMBEDDINGS=false with no "
                         "WHYBOT_EMBEDDINGS_MODEL leaves none")
    storage = await Storage.open(database_url, auto_upgrade=True)
    services: Services | None = None
    try:
        services = await build_services(settings, storage=storage, generator=ExtractiveGenerator(),
                                        classifier=RulesThenClassifier(), clock=fixed_clock(labels.now))
        ws = await load_workspace(services, path, labels)
        await services.retriever.settle(ws.tenant_id)  # every message embedded first, as in `whybot eval`
        ev = Evaluator(services, ws, Timings())
        shipped = services.router.ctx.answerability.threshold
        out: list[Example] = []
        asked: list[tuple[str, str, Sequence[str], Sequence[str]]] = (
            [("question", q.question, q.answers, q.channels) for q in labels.questions]
            + [("paraphrase", p.question, p.answers, p.channels) for p in labels.paraphrases]
            + [("unanswerable", u.question, (), ()) for u in labels.unanswerable])
        for kind, question, answers, channels in asked:
            channel, user = ws.asker(list(channels))
            reply = await ev.handle(ev.event(channel, user, command="ask", args=question))
            judged = reply.rationale.answerability
            if judged is None:  # not routed to ask's search (cannot happen for an explicit `ask`)
                continue
            ruled_out = reply.rationale.declined
            out.append(Example(seed=seed, kind=kind, question=question, features=judged.features,
                               has_answer=bool(answers),
                               thread_rank=_thread_rank(reply, ws.label_id, labels, answers) if answers else 0,
                               declined=ruled_out or judged.score < shipped, ruled_out=ruled_out))
        return out
    finally:  # the services also close the embedding client, which must not outlive this event loop
        await (services.close() if services is not None else storage.close())


def synth_examples(seeds: Sequence[int], size: str = "small", *, embeddings: bool = False) -> list[Example]:
    """Generate, import and ask one workspace per seed. Refuses the held-out seeds."""
    forbidden = sorted(set(seeds) & HELD_OUT)
    if forbidden:
        raise ValueError(f"seeds {forbidden} are held out for judging; train on others")
    examples: list[Example] = []
    with tempfile.TemporaryDirectory(prefix="whybot-answerability-") as scratch:
        for seed in seeds:
            folder = Path(scratch) / f"synth-{size}-{seed}"
            write_export(generate(seed, size), folder)
            url = f"sqlite+aiosqlite:///{Path(scratch) / f'{seed}.db'}"
            examples += asyncio.run(workspace_examples(folder, seed, url, embeddings=embeddings))
    return examples


def save_examples(path: Path, examples: Sequence[Example]) -> None:
    """Keep the asked examples, so fits with other settings need not ask again (features change with the code:
    ask again after changing bot/answerability.py)."""
    path.write_text(json.dumps([dataclasses.asdict(e) for e in examples]), encoding="utf-8")


def load_examples(path: Path) -> list[Example]:
    return [Example(**e) for e in json.loads(path.read_text(encoding="utf-8"))]
