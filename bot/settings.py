"""Settings from the environment and `.env`, one object passed to whoever needs it (no globals)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The name the built-in static model's vectors are stored under; a new distillation gets a new name, so that
# stored vectors of the old one are never mixed with it (the backfill embeds every message again).
BUILTIN_EMBEDDINGS = "whybot-static-minilm-128"
EmbeddingsSource = Literal["builtin", "server", "off"]
# Cosine from which a source found by meaning counts as covering the question, per source of vectors: chosen
# by measurement (QUALITY.md), all-MiniLM-L6-v2 for a server's model; the static vectors' cosines run higher
# for merely related text, so they need more before they stand for the question's words.
BUILTIN_SEMANTIC_FLOOR = 0.8
SERVER_SEMANTIC_FLOOR = 0.6


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    host: str = Field(default="127.0.0.1", validation_alias="WHYBOT_HOST")
    port: int = Field(default=3978, validation_alias="WHYBOT_PORT")
    database_url: str = Field(
        default_factory=lambda: f"sqlite+aiosqlite:///{Path.cwd() / 'whybot.db'}",
        validation_alias="WHYBOT_DATABASE_URL",
    )
    log_level: str = Field(default="INFO", validation_alias="WHYBOT_LOG_LEVEL")
    bot_name: str = Field(default="whybot", validation_alias="WHYBOT_BOT_NAME")
    public_url: str | None = Field(default=None, validation_alias="WHYBOT_PUBLIC_URL")
    playground_enabled: bool = Field(default=True, validation_alias="WHYBOT_PLAYGROUND")
    playground_hosts: str = Field(
        default="", validation_alias="WHYBOT_PLAYGROUND_HOSTS",
        description="comma-separated Host names the playground answers besides 127.0.0.1, localhost and [::1] "
                    "(anything else is refused, against DNS rebinding)",
    )
    workers: int = Field(
        default=1, ge=0, le=64, validation_alias="WHYBOT_WORKERS",
        description="worker processes `whybot serve` starts; 0 = this server only acknowledges (run `whybot "
                    "worker` elsewhere)",
    )
    worker_mode: Literal["process", "inline"] = Field(
        default="process", validation_alias="WHYBOT_WORKER_MODE",
        description="inline answers on the server's own event loop: one process, but answers then compete "
                    "with acknowledgements for the CPU",
    )
    metrics_dir: str | None = Field(
        default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="an empty directory for prometheus_client's multiprocess mode: /metrics then also counts "
                    "what the worker processes did (replies, errors, Why? clicks); `whybot serve` clears it",
    )
    turn_lease_s: float = Field(default=60.0, gt=0, validation_alias="WHYBOT_TURN_LEASE",
                                description="how long a worker that died holds its turn before another takes it")
    worker_concurrency: int = Field(default=4, ge=1, le=256, validation_alias="WHYBOT_WORKER_CONCURRENCY")
    worker_nice: int = Field(
        default=10, ge=0, le=19, validation_alias="WHYBOT_WORKER_NICE",
        description="how much a worker process yields the CPU: on a shared host the process that acknowledges "
                    "must never wait behind answering",
    )
    shutdown_grace_s: float = Field(default=10.0, ge=0, validation_alias="WHYBOT_SHUTDOWN_GRACE")
    inbox_write_timeout_s: float = Field(
        default=2.0, gt=0, validation_alias="WHYBOT_INBOX_WRITE_TIMEOUT",
        description="longest wait to commit a turn before answering the platform 5xx (Slack gives up at 3 s)",
    )
    decision_retention_days: int = Field(default=90, ge=1, validation_alias="WHYBOT_DECISION_RETENTION_DAYS")
    rate_limit_per_minute: int = Field(
        default=10, ge=0, validation_alias="WHYBOT_RATE_LIMIT_PER_MINUTE",
        description="requests one person may make in any minute (0 = no limit); counted in the database, "
                    "so across every worker and replica",
    )
    rate_limit_per_hour: int = Field(default=100, ge=0, validation_alias="WHYBOT_RATE_LIMIT_PER_HOUR",
                                     description="requests one person may make in any hour (0 = no limit)")
    admins: str = Field(
        default="", validation_alias="WHYBOT_ADMINS",
        description="comma-separated platform user ids (Slack U…, Teams 29:…) who may change any channel's "
                    "rules, besides the people each platform names (Slack admins and channel creators, …)",
    )

    # Slack
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_CLIENT_SECRET")
    slack_delete_data_on_uninstall: bool = Field(default=True, validation_alias="WHYBOT_DELETE_DATA_ON_UNINSTALL")

    # Teams / Bot Framework
    microsoft_app_id: str | None = Field(default=None, validation_alias="MICROSOFT_APP_ID")
    microsoft_app_password: SecretStr | None = Field(default=None, validation_alias="MICROSOFT_APP_PASSWORD")
    microsoft_app_tenant_id: str | None = Field(default=None, validation_alias="MICROSOFT_APP_TENANT_ID")
    microsoft_app_type: str = Field(default="MultiTenant", validation_alias="MICROSOFT_APP_TYPE")

    # LLM
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    llm_model: str = Field(default="gpt-4o-mini", validation_alias="WHYBOT_LLM_MODEL")
    llm_timeout_s: float = Field(default=8.0, validation_alias="WHYBOT_LLM_TIMEOUT")
    reply_budget_s: float = Field(default=9.0, validation_alias="WHYBOT_REPLY_BUDGET")
    llm_max_attempts: int = Field(default=3, validation_alias="WHYBOT_LLM_MAX_ATTEMPTS")
    llm_context_tokens: int = Field(
        default=8192, validation_alias="WHYBOT_LLM_CONTEXT_TOKENS",
        description="prompt + answer tokens per request; longer summaries are chunked (map-reduce)",
    )
    redact_pii: bool = Field(default=False, validation_alias="WHYBOT_REDACT_PII")

    # Retrieval and answering
    search: Literal["memory", "postgres"] = Field(
        default="memory", validation_alias="WHYBOT_SEARCH",
        description="memory: bm25s in each process; postgres: PostgreSQL serves search for every replica",
    )
    ask_top_k: int = Field(default=5, validation_alias=AliasChoices("WHYBOT_ASK_TOP_K"))
    min_term_coverage: float = Field(
        default=0.5, validation_alias="WHYBOT_MIN_TERM_COVERAGE",
        description="share of the question's terms the best source must contain before we answer",
    )
    answer_threshold: float | None = Field(
        default=None, gt=0.0, lt=1.0, validation_alias="WHYBOT_ANSWER_THRESHOLD",
        description="answerability score from which ask answers instead of declining; unset = the threshold "
                    "shipped with the model (chosen so that 95 % of unanswerable training questions are declined)",
    )

    embeddings_model: str | None = Field(
        default=None, validation_alias="WHYBOT_EMBEDDINGS_MODEL",
        description="embedding model on the OpenAI-compatible server; unset = no server model (the built-in word "
                    "vectors, unless WHYBOT_STATIC_EMBEDDINGS=false)",
    )
    static_embeddings: bool = Field(
        default=True, validation_alias="WHYBOT_STATIC_EMBEDDINGS",
        description="without a server model, bridge vocabulary with the built-in static word vectors (in process, "
                    "no network); false = words (BM25) alone",
    )
    embeddings_timeout_s: float = Field(default=0.8, validation_alias="WHYBOT_EMBEDDINGS_TIMEOUT",
                                        description="longest a question waits for its own vector")
    embeddings_batch: int = Field(default=64, validation_alias="WHYBOT_EMBEDDINGS_BATCH")
    embeddings_dimensions: int | None = Field(
        default=None, validation_alias="WHYBOT_EMBEDDINGS_DIMENSIONS",
        description="ask the server for shorter vectors (memory: messages x dimensions x 4 bytes)")
    query_expansion: bool = Field(
        default=False, validation_alias="WHYBOT_QUERY_EXPANSION",
        description="offline vocabulary bridge: expand the question with the workspace's own related words",
    )

    semantic_weight: float = Field(
        default=0.75, ge=0.0, le=1.0, validation_alias="WHYBOT_SEMANTIC_WEIGHT",
        description="share of meaning (cosine) against words (BM25) in a hybrid match's score (model-specific)",
    )
    min_semantic_similarity: float | None = Field(
        default=None, validation_alias="WHYBOT_MIN_SEMANTIC_SIMILARITY",
        description=f"cosine similarity at which a source counts as covering the question (model-specific); "
                    f"unset = {BUILTIN_SEMANTIC_FLOOR} with the built-in vectors, {SERVER_SEMANTIC_FLOOR} with a "
                    "server's model",
    )

    # Digests
    digest_top_n: int = Field(default=5, validation_alias="WHYBOT_DIGEST_TOP_N")
    digest_quiet_note: bool = Field(default=True, validation_alias="WHYBOT_DIGEST_QUIET_NOTE")
    digest_grace_hours: float = Field(default=6.0, validation_alias="WHYBOT_DIGEST_GRACE_HOURS")
    scheduler_enabled: bool = Field(default=True, validation_alias="WHYBOT_SCHEDULER")

    @property
    def embeddings_source(self) -> EmbeddingsSource:
        """Where message vectors come from: the model on the OpenAI-compatible server when one is named, else the
        static word vectors shipped with whybot, or nowhere (search by words alone)."""
        if self.embeddings_model:
            return "server"
        return "builtin" if self.static_embeddings else "off"

    @property
    def semantic_floor(self) -> float:
        if self.min_semantic_similarity is not None:
            return self.min_semantic_similarity
        return BUILTIN_SEMANTIC_FLOOR if self.embeddings_source == "builtin" else SERVER_SEMANTIC_FLOOR

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
