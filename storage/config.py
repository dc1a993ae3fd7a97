"""Storage settings; bot.config embeds them in the full settings tree (storage never imports bot)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Section(BaseModel):
    """A settings section in which an unknown key is an error, not a silently ignored setting."""

    model_config = ConfigDict(extra="forbid")


class SQLSettings(Section):
    # None means the embedded SQLite file ``<data_dir>/kindred.db``.
    url: str | None = None
    auto_migrate: bool = True
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=5, ge=0)
    connect_retries: int = Field(default=5, ge=0)
    connect_retry_delay_s: float = Field(default=1.0, ge=0)
    echo: bool = False


class CacheSettings(Section):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "kindred:"
    recent_window: int = Field(default=20, ge=1, le=500)
    default_ttl_s: int = Field(default=600, ge=1)
    max_entries: int = Field(default=10_000, ge=100)
    # How often a degraded cache tries Redis again.
    reconnect_interval_s: float = Field(default=5.0, gt=0)


class VectorSettings(Section):
    backend: Literal["embedded", "http"] = "embedded"
    # None means ``<data_dir>/chroma``.
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    ssl: bool = False
    collection_prefix: str = "kindred"
    # Embedded only: collections whose vector index stays loaded in memory, least recently used evicted
    # and read back from disk on its next query (each costs about 2.5 MB however few vectors it holds).
    # 8 keeps the embedded default under 300 MB at 100k memories (docs/performance.md, "Memory (session
    # 4)"); raise it when more people than that talk at once. 0 leaves Chroma's default, one per five
    # allowed open files (4,000 at a limit of 20,000).
    loaded_indexes_max: int = Field(default=8, ge=0)
    # Embedded only: a person's partition keeps its vectors in a plain table searched exactly (faster than
    # an index at this size, and one write for a whole batch) until it holds more than this many; then it
    # moves into a Chroma collection for good (storage/vectors/exact.py). 0 puts every partition in Chroma.
    exact_max: int = Field(default=20_000, ge=0)
    # The memory the exact partitions loaded for search may take, least recently used dropped first.
    exact_cache_mb: int = Field(default=64, ge=0)


class EmbeddingSettings(Section):
    provider: Literal["model2vec", "openai"] = "model2vec"
    # "builtin" is the static model shipped inside the package; any model2vec id or local path also works.
    model: str = "builtin"
    base_url: str | None = None
    api_key: SecretStr | None = None
    dimensions: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=64, ge=1)


class QueueSettings(Section):
    # auto: Redis Streams when the cache backend is Redis, else the SQL outbox alone. The outbox row is the
    # durable record in every mode; the stream only makes dispatch fast.
    backend: Literal["auto", "sql", "redis"] = "auto"
    stream: str = "jobs"
    group: str = "workers"
    # Failures before a job moves to the dead letters (an outage reported as RetryLater never counts).
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_s: float = Field(default=2.0, gt=0)
    backoff_cap_s: float = Field(default=300.0, gt=0)
    # How long a claimed job stays reserved; a live worker renews it, so only a dead one lets it lapse.
    lease_s: float = Field(default=60.0, gt=0)
    batch_max_size: int = Field(default=256, ge=1)
    # Batches a worker runs at once (different people's jobs; one person's run in order). Reflection jobs
    # mostly wait for the model, so this is how many model calls reflection keeps in flight.
    concurrency: int = Field(default=8, ge=1)
    batch_max_wait_s: float = Field(default=0.05, ge=0)
    # Finished jobs are kept this long: they answer duplicate enqueues and the throughput figures.
    done_retention_s: float = Field(default=86_400.0, ge=0)
    poll_interval_s: float = Field(default=1.0, gt=0)
    # A pending job not picked up after this long is dispatched again (the stream may have lost it).
    redrive_after_s: float = Field(default=60.0, gt=0)
    sweep_interval_s: float = Field(default=30.0, gt=0)
    # On SIGTERM a worker finishes its job within this time, otherwise hands it back.
    stop_grace_s: float = Field(default=8.0, ge=0)
    # Run a worker inside the bot process; turn off when separate ``kindred worker`` processes serve.
    in_process: bool = True


class CompressionSettings(Section):
    """Memory tiers and compression: what goes cold, what is summarised and merged, the memory budget."""

    enabled: bool = True
    # A memory's importance halves every half_life_days since it was made (or last recalled); once below
    # archive_below_importance, and at least min_age_days old, it leaves the vector index for the cold
    # tier. Pinned memories never do.
    half_life_days: float = Field(default=30.0, gt=0)
    archive_below_importance: float = Field(default=0.15, ge=0, le=1)
    min_age_days: float = Field(default=14.0, ge=0)
    # Turns of closed sessions older than this (since recorded, or last recalled) go to the cold tier.
    turn_cold_after_days: float = Field(default=14.0, ge=0)
    # Closed sessions quiet for this long are summarised into episodic memories, turns staying in SQL.
    summarise_after_days: float = Field(default=1.0, ge=0)
    summary_importance: float = Field(default=0.4, ge=0, le=1)
    summary_max_turns: int = Field(default=200, ge=2)
    # Sessions summarised per run at most: a backlog is worked off over several runs, not in one burst.
    summaries_per_run: int = Field(default=100, ge=0)
    # Two memories of one person, realm, kind and speaker with cosine similarity at least this are merged.
    duplicate_threshold: float = Field(default=0.93, gt=0, le=1)
    # A vector partition that lost at least this share of its vectors to the cold tier is rebuilt, which
    # is what gives the space back (deleted vectors otherwise keep their slots in the index files).
    compact_min_fraction: float = Field(default=0.25, gt=0, le=1)
    # Decoded cold vectors kept in memory per person, so recall need not re-read them on every query.
    cold_cache_mb: int = Field(default=32, ge=0)
    # Bits per component of the vectors written to the cold tier (4: about half the bytes of 8). Rows
    # already written in the other width keep decoding: the blob's first byte names its format.
    cold_vector_bits: Literal[4, 8] = 4
    batch_size: int = Field(default=500, ge=1)
    # Resident memory budget of the process in MB, 0 for none. Past shrink_at of it caches shrink and
    # compression runs early; past drop_at caches are dropped.
    memory_budget_mb: int = Field(default=0, ge=0)
    budget_shrink_at: float = Field(default=0.75, gt=0, lt=1)
    budget_drop_at: float = Field(default=0.90, gt=0, le=1)
    budget_check_interval_s: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> CompressionSettings:
        if self.budget_shrink_at >= self.budget_drop_at:
            raise ValueError("budget_shrink_at must be below budget_drop_at")
        return self


class StorageSettings(Section):
    data_dir: Path = Field(default=Path("data"), validate_default=True)
    sql: SQLSettings = Field(default_factory=SQLSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    compression: CompressionSettings = Field(default_factory=CompressionSettings)
    # In a server channel, recall may also bring back what others said there in public (never their private
    # memories, never from another channel, server or DMs). Off: each person recalls only their own turns.
    recall_channel_turns: bool = False

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    def sql_url(self) -> str:
        """Return the SQLAlchemy async URL, defaulting to the embedded SQLite file."""
        if self.sql.url:
            return _async_sql_url(self.sql.url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'kindred.db'}"

    def chroma_path(self) -> Path:
        """Return the embedded Chroma directory."""
        return (
            Path(self.vectors.path).expanduser().resolve() if self.vectors.path else self.data_dir / "chroma"
        )


def _async_sql_url(url: str) -> str:
    # People write the URL their other tools use; map it to the async driver we ship.
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
