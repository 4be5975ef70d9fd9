"""Accounts: donors and admins, and the refresh tokens issued to them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import ADMIN_ROLES, ROLES, sql_in

ACCOUNT_ACTIONS = ("disable", "enable", "password_change")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {sql_in(ROLES)}", name="role"),
        CheckConstraint(
            "(role = 'donor' AND donor_kind IS NOT NULL AND scope_code IS NULL)"
            " OR (role <> 'donor' AND donor_kind IS NULL AND scope_code IS NOT NULL)",
            name="role_fields",
        ),
        Index("ix_users_role_scope_code", "role", "scope_code"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The canonical form (app.accounts.usernames): one row per name as people read it.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    donor_kind: Mapped[str | None] = mapped_column(String(16))
    # The admin's region-code prefix ("" for the platform admin); None for donors.
    scope_code: Mapped[str | None] = mapped_column(String(12))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A donor's consent to be listed on the roll of honour (爱心榜); off unless they opt in.
    honour_roll: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A donor who registered by mobile: the number encrypted, and its keyed hash to sign in by.
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Every access token carries the generation it was issued in; raising it (a password
    # change, disabling) ends every access token issued before, at their next request.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


class RefreshToken(Base):
    """One refresh token, stored as its SHA-256 digest; rotated on every use."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # Tokens descended from one sign-in share a family; reuse of a spent token revokes it all.
    family: Mapped[str] = mapped_column(String(32), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AccountEvent(Base):
    """Who did what to an account, and when: disabling, enabling, a password change."""

    __tablename__ = "account_events"
    __table_args__ = (
        CheckConstraint(f"action IN {sql_in(ACCOUNT_ACTIONS)}", name="action"),
        Index("ix_account_events_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    actor_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsCode(Base):
    """One verification code sent to a mobile number, stored as a keyed hash."""

    __tablename__ = "sms_codes"
    __table_args__ = (Index("ix_sms_codes_phone_index_id", "phone_index", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
