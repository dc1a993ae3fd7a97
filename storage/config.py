"""Storage settings; bot.config embeds them in the full settings tree (storage never imports bot)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


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


class EmbeddingSettings(Section):
    provider: Literal["model2vec", "openai"] = "model2vec"
    # "builtin" is the static model shipped inside the package; any model2vec id or local path also works.
    model: str = "builtin"
    base_url: str | None = None
    api_key: SecretStr | None = None
    dimensions: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=64, ge=1)


class StorageSettings(Section):
    data_dir: Path = Field(default=Path("data"), validate_default=True)
    sql: SQLSettings = Field(default_factory=SQLSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)

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
