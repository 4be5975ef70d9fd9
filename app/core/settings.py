"""Service settings, read from ``AIXIN_*`` environment variables and an optional ``.env``."""

from __future__ import annotations

import json
import secrets
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")

# Every key the service signs or encrypts with. In development a missing key is generated once
# and kept in ``<data_dir>/dev-secrets.json`` so that tokens survive a restart; in production a
# missing key stops the service.
SECRET_NAMES = ("secret_key", "data_key", "index_key")
OWASP_ARGON2_MEMORY_KIB = 19 * 1024
RATE_LIMIT_SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://")


class Settings(BaseSettings):
    """Configuration of one Aixin process."""

    model_config = SettingsConfigDict(
        env_prefix="AIXIN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; defaults to a SQLite file in data_dir. "
        "PostgreSQL: postgresql+asyncpg://user:password@host:5432/dbname",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_command_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="The longest one PostgreSQL statement of the service may take: a database "
        "that stops answering gets the request 503, not a wait without end",
    )
    db_echo: bool = False

    secret_key: SecretStr | None = Field(default=None, description="Signs access tokens")
    data_key: SecretStr | None = Field(
        default=None,
        description="Encrypts personal data (households', helpers') and webhook secrets at rest",
    )
    index_key: SecretStr | None = Field(
        default=None, description="Keys the blind index of national ID numbers"
    )
    jwt_issuer: str = "aixin"
    jwt_audience: str = "aixin-api"
    access_token_minutes: int = Field(default=15, ge=1, le=15)
    refresh_token_days: int = Field(default=30, ge=1, le=365)

    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8)
    argon2_parallelism: int = Field(default=2, ge=1)

    claim_hold_days: int = Field(
        default=14, ge=1, le=365, description="How long a claim holds before it lapses"
    )
    max_open_claims: int = Field(
        default=5, ge=1, le=1000, description="Open claims one donor may hold at once"
    )
    need_value_caps_fen: dict[str, int] = Field(
        default={
            "goods": 500_000,
            "schooling": 1_000_000,
            "health": 2_000_000,
            "employment": 500_000,
            "service": 300_000,
            "skills": 500_000,
            "housing": 5_000_000,
            "industry": 2_000_000,
        },
        description="The largest estimated value of one need, per category, in fen",
    )
    idempotency_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="How long an Idempotency-Key is remembered"
    )
    proposal_hold_hours: int = Field(
        default=72, ge=1, le=24 * 60, description="How long a donor has to answer a proposal"
    )
    expiry_interval_seconds: float = Field(
        default=60.0, ge=0, description="How often the service lapses claims (0: never)"
    )
    matching_inline_max_needs: int = Field(
        default=5000,
        ge=0,
        description="Matching runs over more open needs than this are solved in a worker "
        "process, so that the event loop keeps serving (smaller ones in a thread)",
    )
    model_refresh_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often the service re-learns the success model from ended pairings "
        "(0: only by `aixin model refresh`)",
    )
    worker_in_process: bool = Field(
        default=True,
        description="Run the worker (webhooks, reminders, digests, daily matching and the other "
        "scheduled jobs) inside `aixin serve`; false when workers run apart (`aixin worker`)",
    )
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often a worker looks for deliveries due"
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one webhook attempt may take"
    )
    webhook_allow_private_networks: bool = Field(
        default=False,
        description="Let webhooks go to private address ranges (10/8, 172.16/12, 192.168/16 …)",
    )
    daily_matching: bool = Field(
        default=True, description="Run matching over every county with open needs once a day"
    )
    daily_matching_off: list[str] = Field(
        default=[], description="Counties (6-digit codes) that turned the daily matching off"
    )

    rate_limit_storage_url: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (this process only) or "
        "redis://host:6379/0 (shared by every replica)",
    )
    rate_limit_key_prefix: str = Field(
        default="aixin", pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Prefix of Redis keys"
    )
    sign_in_failures_per_account: int = Field(
        default=10, ge=1, le=10_000, description="Failed sign-ins per username per window"
    )
    sign_in_failures_per_address: int = Field(
        default=100, ge=1, le=1_000_000, description="Failed sign-ins per client address per window"
    )
    sign_in_window_seconds: int = Field(default=900, ge=1, le=86_400)
    claims_per_donor: int = Field(
        default=10, ge=1, le=10_000, description="Claim attempts per donor per window"
    )
    claim_window_seconds: int = Field(default=60, ge=1, le=86_400)

    photo_storage: Literal["local", "s3"] = Field(
        default="local",
        description="Where photos are kept: local (files under data_dir/photos) or s3 "
        "(an S3-compatible bucket: s3_bucket at s3_endpoint_url)",
    )
    photo_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024, description="The largest photo"
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="The S3-compatible server (AWS's own when unset)"
    )
    s3_bucket: str = Field(default="aixin-photos", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = Field(
        default=None, description="With s3_secret_access_key; unset: boto3's own lookup"
    )
    s3_secret_access_key: SecretStr | None = None

    sms_provider: str | None = Field(
        default=None,
        pattern=r"^(development|none|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="Who sends verification codes: development (logs them; the default outside "
        "production), none (the default in production: no codes), or module:factory",
    )
    sms_code_minutes: int = Field(default=5, ge=1, le=30, description="How long a code is valid")
    sms_code_attempts: int = Field(default=5, ge=1, le=20, description="Guesses per code")
    sms_per_number: int = Field(
        default=5, ge=1, le=1000, description="Codes sent to one number per window"
    )
    sms_per_address: int = Field(
        default=50, ge=1, le=100_000, description="Codes asked for from one address per window"
    )
    sms_window_seconds: int = Field(default=3600, ge=1, le=86_400)

    crowdfunding_min_fen: int = Field(
        default=100_000, ge=1, description="The least estimated value of a crowdfunded need (fen)"
    )
    credits_days: int = Field(
        default=30, ge=1, le=365, description="How long credits from an expired crowdfunding last"
    )
    payment_order_minutes: int = Field(
        default=30, ge=5, le=24 * 60, description="How long an online donation's order is open"
    )
    wechat_pay_base_url: str = Field(
        default="https://api.mch.weixin.qq.com", description="WeChat Pay API v3's address"
    )
    wechat_pay_mchid: str | None = Field(default=None, description="The merchant id (商户号)")
    wechat_pay_appid: str | None = Field(default=None, description="The app id bound to it")
    wechat_pay_merchant_serial: str | None = Field(
        default=None, description="The serial number of the merchant's API certificate"
    )
    wechat_pay_merchant_private_key: SecretStr | None = Field(
        default=None, description="The merchant's API private key (PEM)"
    )
    wechat_pay_platform_serial: str | None = Field(
        default=None, description="The serial of the platform key notifications are signed with"
    )
    wechat_pay_platform_public_key: str | None = Field(
        default=None, description="The platform's public key (PEM)"
    )
    wechat_pay_api_v3_key: SecretStr | None = Field(
        default=None, description="The APIv3 key (32 characters) that encrypts notifications"
    )
    wechat_pay_notify_url: str = Field(
        default="", description="Where WeChat Pay sends payment notifications (our public URL)"
    )
    wechat_pay_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    log_level: str = "INFO"
    log_json: bool = True

    host: str = "127.0.0.1"
    port: int = 8000

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'aixin.db').as_posix()}"
        given = {name: getattr(self, name) for name in SECRET_NAMES}
        short = [name for name, value in given.items() if value and len(value) < 32]
        if short:
            raise ValueError(f"AIXIN_{short[0].upper()} must be at least 32 characters")
        missing = [name for name in SECRET_NAMES if getattr(self, name) is None]
        if missing and self.env == "production":
            names = ", ".join(f"AIXIN_{name.upper()}" for name in missing)
            raise ValueError(f"production mode requires {names}")
        if missing:
            stored = _development_secrets(self.data_dir, missing)
            for name in missing:
                setattr(self, name, SecretStr(stored[name]))
            if self.env == "development":
                sys.stderr.write(
                    "WARNING aixin: using generated development secrets from "
                    f"{self.data_dir / 'dev-secrets.json'}; set AIXIN_SECRET_KEY, "
                    "AIXIN_DATA_KEY, AIXIN_INDEX_KEY and AIXIN_ENV=production before serving "
                    "real users\n"
                )
        return self

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _known_storage(cls, url: str) -> str:
        if not url.removeprefix("async+").startswith(RATE_LIMIT_SCHEMES):
            raise ValueError("the rate-limit storage must be memory:// or a redis:// URL")
        return url

    @model_validator(mode="after")
    def _owasp_argon2(self) -> Settings:
        # OWASP's floor for argon2id: 19 MiB, 2 passes, 1 lane; production never stores less.
        weak = self.argon2_memory_kib < OWASP_ARGON2_MEMORY_KIB or self.argon2_time_cost < 2
        if self.env == "production" and weak:
            raise ValueError("production needs argon2 memory >= 19456 KiB and time cost >= 2")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def secret(self, name: str) -> str:
        value = getattr(self, name)
        assert isinstance(value, SecretStr)
        return value.get_secret_value()


def _development_secrets(data_dir: Path, names: list[str]) -> dict[str, str]:
    """Read, and create where missing, the generated development secrets."""
    path = data_dir / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if any(name not in stored for name in names):
        for name in names:
            stored.setdefault(name, secrets.token_urlsafe(48))
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
