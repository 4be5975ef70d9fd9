"""Loading the division data (``aixin regions load``).

The project ships every province, city, county and township and the villages of Dongkou county
(430525) in ``app/regions/data``; the national village file (or any file of the same columns,
plain or gzipped) loads through the same code. Loading is an upsert: running it twice changes
nothing, and a renamed region takes its new name.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.regions.models import LEVEL_OF_LENGTH, PARENT_LENGTH, Region

BUNDLED_FILES = (
    "provinces.csv",
    "cities.csv",
    "areas.csv",
    "streets.csv.gz",
    "villages-430525.csv",
)
CHUNK = 2000


class RegionFileError(ValueError):
    """A division file that cannot be read as code,name,… rows."""


def _open_text(raw: IO[bytes], name: str) -> IO[str]:
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw  # type: ignore[assignment]
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def parse_rows(text: IO[str], source: str) -> Iterator[dict[str, Any]]:
    """Region rows from a CSV with at least the columns ``code`` and ``name``."""
    reader = csv.DictReader(text)
    if not reader.fieldnames or not {"code", "name"} <= set(reader.fieldnames):
        raise RegionFileError(f"{source}: expected a header with the columns code and name")
    for line, row in enumerate(reader, start=2):
        code, name = (row.get("code") or "").strip(), (row.get("name") or "").strip()
        level = LEVEL_OF_LENGTH.get(len(code))
        if level is None or not (code.isascii() and code.isdigit()) or not name:
            raise RegionFileError(f"{source}:{line}: not a division code and name: {code!r}")
        parent = code[: PARENT_LENGTH[len(code)]] if len(code) in PARENT_LENGTH else None
        yield {"code": code, "name": name[:100], "level": level, "parent_code": parent}


def bundled_rows() -> Iterator[dict[str, Any]]:
    """The rows shipped with the project, parents before children."""
    data = resources.files("app.regions") / "data"
    for name in BUNDLED_FILES:
        with (data / name).open("rb") as raw, _open_text(raw, name) as text:
            yield from parse_rows(text, name)


def file_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a division file on disk (``.csv`` or ``.csv.gz``)."""
    try:
        with path.open("rb") as raw, _open_text(raw, path.name) as text:
            yield from parse_rows(text, str(path))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error, csv.Error) as exc:
        raise RegionFileError(f"{path}: not a UTF-8 CSV file ({exc})") from exc


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def upsert_regions(connection: AsyncConnection, rows: Iterable[dict[str, Any]]) -> int:
    """Insert or update ``rows`` (parents first); returns how many were written."""
    table: Table = Region.__table__  # type: ignore[assignment]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.code],
        set_={
            "name": statement.excluded.name,
            "level": statement.excluded.level,
            "parent_code": statement.excluded.parent_code,
        },
    )
    written = 0
    for chunk in _chunks(rows):
        await connection.execute(statement, chunk)
        written += len(chunk)
    return written
