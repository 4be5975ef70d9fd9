"""Settings: environment variables, the SQLite default, and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.settings import Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


def test_database_defaults_to_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = make(data_dir=tmp_path, secret_key="k" * 40)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/aixin.db"
    assert settings.is_sqlite


def test_environment_variables_with_the_prefix_are_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIXIN_DATABASE_URL", "postgresql+asyncpg://u@h:5432/d")
    monkeypatch.setenv("AIXIN_ACCESS_TOKEN_MINUTES", "7")
    settings = make(data_dir=tmp_path, secret_key="k" * 40)
    assert settings.database_url == "postgresql+asyncpg://u@h:5432/d"
    assert settings.access_token_minutes == 7
    assert not settings.is_sqlite


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="AIXIN_SECRET_KEY"):
        make(env="production", data_dir=tmp_path)
    assert not (tmp_path / "dev-secrets.json").exists()


def test_development_generates_a_secret_once_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make(data_dir=tmp_path)
    second = make(data_dir=tmp_path)
    assert first.secret("secret_key") == second.secret("secret_key")
    assert len(first.secret("secret_key")) >= 32
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0
    assert "WARNING" in capsys.readouterr().err


def test_an_explicit_secret_wins_over_the_generated_one(tmp_path: Path) -> None:
    make(data_dir=tmp_path)
    assert make(data_dir=tmp_path, secret_key="explicit" * 5).secret("secret_key") == "explicit" * 5
