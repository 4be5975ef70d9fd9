"""Accounts: donors and admins, and the refresh tokens issued to them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import ADMIN_ROLES, ROLES, sql_in


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
