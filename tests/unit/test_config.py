"""Settings: sources and their priority, profiles, and errors that name the field but never a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from bot.config import PROFILES, Settings, load_settings, require_secret
from bot.errors import EXIT_CONFIG, ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in list(os.environ):
        if var.startswith("KINDRED") or var in ("DISCORD_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(var)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_shipped_config_loads_to_the_model_defaults() -> None:
    shipped = load_settings(REPO / "config.yaml")
    assert shipped.model_dump() == Settings().model_dump()


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _field_paths(annotation, f"{path}.")
        else:
            out.append(path)
    return out


def test_shipped_config_documents_every_setting() -> None:
    text = (REPO / "config.yaml").read_text()
    missing = [p for p in _field_paths(Settings) if f"{p.rsplit('.', 1)[-1]}:" not in text]
    assert missing == []


def test_env_var_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "storage:\n  cache:\n    backend: memory\n")
    monkeypatch.setenv("KINDRED__STORAGE__CACHE__BACKEND", "redis")
    assert load_settings(path).storage.cache.backend == "redis"


def test_data_dir_env_var_moves_every_embedded_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED__STORAGE__DATA_DIR", str(tmp_path / "d"))
    settings = load_settings(write(tmp_path, ""))
    assert settings.storage.sql_url() == f"sqlite+aiosqlite:///{tmp_path / 'd' / 'kindred.db'}"
    assert settings.storage.chroma_path() == tmp_path / "d" / "chroma"


def test_conventional_env_vars_are_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    settings = load_settings(write(tmp_path, ""))
    assert settings.discord.token is not None and settings.discord.token.get_secret_value() == "abc.def"
    assert settings.llm.chain()[0].base_url == "http://127.0.0.1:11434/v1"


def test_kindred_env_var_beats_the_conventional_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "conventional")
    monkeypatch.setenv("KINDRED__DISCORD__TOKEN", "specific")
    token = load_settings(write(tmp_path, "")).discord.token
    assert token is not None and token.get_secret_value() == "specific"


def test_kindred_config_env_var_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED_CONFIG", str(write(tmp_path, "bot:\n  name: Elsewhere\n")))
    assert load_settings().bot.name == "Elsewhere"


@pytest.mark.parametrize("profile", ["production", "high_load"])
def test_profile_adjusts_pool_and_cache_sizes(tmp_path: Path, profile: str) -> None:
    settings = load_settings(write(tmp_path, f"bot:\n  profile: {profile}\n"))
    preset: dict[str, Any] = PROFILES[profile]["storage"]
    assert settings.storage.sql.pool_size == preset["sql"]["pool_size"]
    assert settings.storage.cache.max_entries == preset["cache"]["max_entries"]
    assert settings.storage.embedding.batch_size == preset["embedding"]["batch_size"]


def test_explicit_setting_wins_over_the_profile(tmp_path: Path) -> None:
    path = write(tmp_path, "bot:\n  profile: high_load\nstorage:\n  sql:\n    pool_size: 3\n")
    settings = load_settings(path)
    assert settings.storage.sql.pool_size == 3
    assert settings.storage.sql.max_overflow == PROFILES["high_load"]["storage"]["sql"]["max_overflow"]


def test_profile_from_env_applies_its_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDRED__BOT__PROFILE", "production")
    assert load_settings(write(tmp_path, "")).storage.sql.pool_size == 10


def test_unknown_profile_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bot\.profile: unknown profile 'turbo'"):
        load_settings(write(tmp_path, "bot:\n  profile: turbo\n"))


def test_bad_value_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, "storage:\n  cache:\n    backend: memcached\n"))
    assert "storage.cache.backend" in str(err.value)
    assert err.value.exit_code == EXIT_CONFIG


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"storage\.sql\.pool_sise"):
        load_settings(write(tmp_path, "storage:\n  sql:\n    pool_sise: 3\n"))


def test_error_never_shows_a_secret_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, "discord:\n  token: [sup3r-s3cret-t0ken]\n"))
    assert "discord.token" in str(err.value)
    assert "sup3r-s3cret-t0ken" not in str(err.value)


def test_secret_is_masked_when_printed(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "discord:\n  token: sup3r-s3cret\n"))
    assert "sup3r-s3cret" not in repr(settings) and "sup3r-s3cret" not in str(settings.model_dump())


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "bot: [unclosed\n"))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml")


@pytest.mark.parametrize("value", [None, "", "changeme", "<your token>", "  "])
def test_missing_or_placeholder_secret_names_the_field(value: str | None) -> None:
    secret = None if value is None else SecretStr(value)
    with pytest.raises(ConfigError, match=r"discord\.token is not set"):
        require_secret(secret, "discord.token")


def test_real_secret_is_returned() -> None:
    assert require_secret(SecretStr("MTIz.abc.def"), "discord.token") == "MTIz.abc.def"


def test_plain_postgres_url_gets_the_async_driver(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "storage:\n  sql:\n    url: postgresql://u@h/db\n"))
    assert settings.storage.sql_url() == "postgresql+asyncpg://u@h/db"
