"""``INSERT … ON CONFLICT DO NOTHING`` in the dialect at hand (PostgreSQL or SQLite).

Both engines speak the same clause; SQLAlchemy builds it from each dialect's own ``insert``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert


def insert_or_nothing(dialect_name: str, model: Any, index_elements: list[str]) -> Insert:
    """An insert into ``model`` that writes nothing where a row with the same key exists."""
    insert = pg_insert if dialect_name == "postgresql" else sqlite_insert
    return insert(model).on_conflict_do_nothing(index_elements=index_elements)
