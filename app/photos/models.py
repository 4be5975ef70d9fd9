"""Photos (照片): a need's, posted by its admins, a delivery's, as proof it was handed over, and a
help act's (帮扶记录), taken at the household's home."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import sql_in

KINDS = ("need", "delivery")
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")
# The photos one album (a need's, or one delivery's) holds at most; each takes a numbered slot.
PER_ALBUM = 6


class StoredImage:
    """The columns of a stored photo, whatever album holds it: its slot, image and thumbnail."""

    slot: Mapped[int] = mapped_column(Integer)
    # The storage key of the image; the thumbnail's is derived from it.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    thumbnail_size_bytes: Mapped[int] = mapped_column(Integer)
    thumbnail_width: Mapped[int] = mapped_column(Integer)
    thumbnail_height: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Photo(StoredImage, Base):
    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(KINDS)}", name="kind"),
        CheckConstraint(
            "(kind = 'need' AND pairing_id IS NULL) "
            "OR (kind = 'delivery' AND pairing_id IS NOT NULL)",
            name="album",
        ),
        CheckConstraint(f"slot BETWEEN 1 AND {PER_ALBUM}", name="slot"),
        CheckConstraint(f"media_type IN {sql_in(MEDIA_TYPES)}", name="media_type"),
        # The cap of an album, held by the database itself: two uploads racing for the last
        # slot cannot both be written.
        Index(
            "uq_photos_need_slot",
            "need_id",
            "slot",
            unique=True,
            sqlite_where=text("kind = 'need'"),
            postgresql_where=text("kind = 'need'"),
        ),
        Index(
            "uq_photos_pairing_slot",
            "pairing_id",
            "slot",
            unique=True,
            sqlite_where=text("kind = 'delivery'"),
            postgresql_where=text("kind = 'delivery'"),
        ),
        Index("ix_photos_need_id_kind_id", "need_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    need_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("needs.id"))
    # The delivery's pairing; None for a photo of the need itself.
    pairing_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("pairings.id"))
    kind: Mapped[str] = mapped_column(String(8))


class HelpActPhoto(StoredImage, Base):
    """A photo of a help act. It shows the household's home: personal data of the household,
    seen only by the admins whose scope covers it and by the helper who recorded the act."""

    __tablename__ = "help_act_photos"
    __table_args__ = (
        CheckConstraint(f"slot BETWEEN 1 AND {PER_ALBUM}", name="slot"),
        CheckConstraint(f"media_type IN {sql_in(MEDIA_TYPES)}", name="media_type"),
        # The cap of an act's album, held by the database itself, as for a need's.
        UniqueConstraint("help_act_id", "slot"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    help_act_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("help_acts.id"))
