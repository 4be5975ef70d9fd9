"""The region table: China's statistical division codes, province down to village."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

# Code length of each level: province 2, city 4, county 6, township 9, village 12 digits.
LEVEL_LENGTHS = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
LEVEL_OF_LENGTH = {length: level for level, length in LEVEL_LENGTHS.items()}
PARENT_LENGTH = {4: 2, 6: 4, 9: 6, 12: 9}


class Region(Base):
    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint(
            "level IN ('province', 'city', 'county', 'township', 'village')", name="level"
        ),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code"), index=True
    )
