"""Prometheus metrics on a registry owned by the app (not the library's global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
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
                                 registry=self.registry)
        self.queue_oldest = Gauge("whybot_queue_oldest_seconds", "Age of the oldest unfinished turn",
                                  registry=self.registry)
        self.turn_seconds = Gauge("whybot_turn_seconds", "Turns finished in the last 5 minutes: seconds waiting "
                                  "in the queue and from claim to answer, by quantile", ["phase", "quantile"],
                                  registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
