"""Prometheus metrics on a registry owned by the app (not the library's global one).

Answers are counted in the worker processes, so one process's counters miss them. With
PROMETHEUS_MULTIPROC_DIR set, prometheus_client keeps every process's values in files there (it decides
at import, from the environment, which is why this is the library's variable and not a whybot one) and
`/metrics` adds them up.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


def reset_multiprocess_dir(path: str) -> None:
    """Values left by an earlier run would be added to this one's: clear them before any metric exists."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)


class Metrics:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter("whybot_events_total", "Platform events received", ["platform", "kind"],
                              registry=self.registry)
        self.duplicates = Counter("whybot_duplicate_events_total", "Retried or duplicate deliveries ignored",
                                  ["platform"], registry=self.registry)
        self.replies = Counter("whybot_replies_total", "Replies produced", ["platform", "skill"],
                               registry=self.registry)
        self.errors = Counter("whybot_errors_total", "Errors turned into user-facing messages", ["where"],
                              registry=self.registry)
        self.reply_seconds = Histogram("whybot_reply_seconds", "Time from event to reply ready", ["skill"],
                                       registry=self.registry,
                                       buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.digest_runs = Counter("whybot_digest_runs_total", "Scheduled digest runs by outcome",
                                   ["platform", "status", "late"], registry=self.registry)
        self.why_clicks = Counter("whybot_why_clicks_total", "Why? expansions", ["platform"],
                                  registry=self.registry)
        self.not_answered = Counter("whybot_not_answered_total", "Requests whybot decided not to answer, by reason",
                                    ["platform", "reason"], registry=self.registry)

        # Read from the inbox table when scraped, so they count every worker process and replica.
        self.queue_depth = Gauge("whybot_queue_depth", "Turns in the inbox, by state", ["state"],
                                 registry=self.registry, multiprocess_mode="mostrecent")
        self.queue_oldest = Gauge("whybot_queue_oldest_seconds", "Age of the oldest unfinished turn",
                                  registry=self.registry, multiprocess_mode="mostrecent")
        self.turn_seconds = Gauge("whybot_turn_seconds", "Turns finished in the last 5 minutes: seconds waiting "
                                  "in the queue and from claim to answer, by quantile", ["phase", "quantile"],
                                  registry=self.registry, multiprocess_mode="mostrecent")

    def render(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process, path=self.multiprocess_dir)
        return generate_latest(every_process)
