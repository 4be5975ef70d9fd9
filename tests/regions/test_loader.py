"""Loading division files: the bundled data, further files, and files that cannot be loaded.

The bundled rows are reference data shared by every test: nothing here deletes or keeps a change
to them. Extra villages are loaded from a temporary file and removed again afterwards.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.regions import loader
from app.regions.models import Region

# Counts of the 2023 edition shipped in app/regions/data (see its README).
BUNDLED_COUNTS = {
    "province": 31,
    "city": 342,
    "county": 2978,
    "township": 41352,
}
DONGKOU_VILLAGES = 364
BUNDLED_TOTAL = sum(BUNDLED_COUNTS.values()) + DONGKOU_VILLAGES

# Five real villages of 酿溪镇 (430522100), 新邵县, copied from the national villages.csv.gz;
# the project ships no village of that county.
XINSHAO_TOWNSHIP = "430522100"
EXTRA_VILLAGES_CSV = """\
code,name,streetCode,provinceCode,cityCode,areaCode
430522100001,"酿溪社区",430522100,43,4305,430522
430522100002,"大塘社区",430522100,43,4305,430522
430522100003,"新涟社区",430522100,43,4305,430522
430522100004,"新阳社区",430522100,43,4305,430522
430522100005,"大新社区",430522100,43,4305,430522
"""
EXTRA_CODES = [f"{XINSHAO_TOWNSHIP}{n:03d}" for n in range(1, 6)]


async def level_counts(engine: AsyncEngine) -> dict[str, int]:
    """Regions per level, villages counted under Dongkou county only."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Region.level, func.count())
            .where((Region.level != "village") | Region.code.startswith("430525"))
            .group_by(Region.level)
        )
        return {str(level): int(count) for level, count in rows.all()}


def write_file(path: Path, text: str) -> Path:
    """``text`` written to ``path``, gzipped when the name ends in ``.gz``."""
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


# -- the bundled data ----------------------------------------------------------------------------


async def test_bundled_data_has_the_expected_count_per_level(engine: AsyncEngine) -> None:
    assert await level_counts(engine) == {**BUNDLED_COUNTS, "village": DONGKOU_VILLAGES}


async def test_loading_the_bundled_data_again_changes_no_count(engine: AsyncEngine) -> None:
    before = await level_counts(engine)
    async with engine.begin() as connection:
        written = await loader.upsert_regions(connection, loader.bundled_rows())
    assert written == BUNDLED_TOTAL
    assert await level_counts(engine) == before


async def test_loading_a_renamed_region_updates_its_name(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await loader.upsert_regions(
                connection,
                [{"code": "430525", "name": "改名县", "level": "county", "parent_code": "4305"}],
            )
            renamed = await connection.scalar(select(Region.name).where(Region.code == "430525"))
        finally:
            await transaction.rollback()
    assert renamed == "改名县"


# -- further files -------------------------------------------------------------------------------


@pytest.fixture(params=["csv", "csv.gz"])
async def extra_villages(
    request: pytest.FixtureRequest, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[Path]:
    """A file of five real villages (plain or gzipped); the rows are deleted afterwards."""
    path = write_file(tmp_path / f"villages-430522.{request.param}", EXTRA_VILLAGES_CSV)
    yield path
    async with engine.begin() as connection:
        await connection.execute(delete(Region).where(Region.code.in_(EXTRA_CODES)))


async def test_a_further_file_loads_its_rows(engine: AsyncEngine, extra_villages: Path) -> None:
    async with engine.begin() as connection:
        written = await loader.upsert_regions(connection, loader.file_rows(extra_villages))
    assert written == len(EXTRA_CODES)
    async with engine.connect() as connection:
        loaded = await connection.scalars(
            select(Region.code).where(Region.parent_code == XINSHAO_TOWNSHIP).order_by(Region.code)
        )
        assert loaded.all() == EXTRA_CODES


async def test_loaded_villages_resolve_with_their_ancestors(
    engine: AsyncEngine, client: AsyncClient, extra_villages: Path
) -> None:
    async with engine.begin() as connection:
        await loader.upsert_regions(connection, loader.file_rows(extra_villages))
    response = await client.get(f"/api/v1/regions/{EXTRA_CODES[1]}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["level"], body["parent_code"]) == (
        "大塘社区",
        "village",
        XINSHAO_TOWNSHIP,
    )
    assert [(a["code"], a["name"]) for a in body["ancestors"]] == [
        ("43", "湖南省"),
        ("4305", "邵阳市"),
        ("430522", "新邵县"),
        (XINSHAO_TOWNSHIP, "酿溪镇"),
    ]


async def test_a_township_lists_the_villages_loaded_under_it(
    engine: AsyncEngine, client: AsyncClient, extra_villages: Path
) -> None:
    async with engine.begin() as connection:
        await loader.upsert_regions(connection, loader.file_rows(extra_villages))
    response = await client.get("/api/v1/regions", params={"parent": XINSHAO_TOWNSHIP})
    assert response.status_code == 200
    assert [item["code"] for item in response.json()["items"]] == EXTRA_CODES


# -- files that cannot be loaded -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "id,title\n43,湖南省\n",
        "code\n43\n",
        "",
    ],
    ids=["other-columns", "no-name-column", "empty"],
)
def test_a_file_without_code_and_name_columns_is_refused(tmp_path: Path, text: str) -> None:
    path = write_file(tmp_path / "regions.csv", text)
    with pytest.raises(loader.RegionFileError, match=rf"^{path}: expected a header"):
        list(loader.file_rows(path))


@pytest.mark.parametrize(
    "row",
    [
        "4305221,七位数",
        "43052210000x,字母",
        "4305 2210,空格",
        "４３,全角数字",
        ",无代码",
        "430522100001,",
    ],
    ids=["seven-digits", "letter", "space", "fullwidth-digits", "no-code", "no-name"],
)
@pytest.mark.parametrize("suffix", ["csv", "csv.gz"])
def test_a_bad_row_is_refused_with_its_file_and_line(tmp_path: Path, row: str, suffix: str) -> None:
    path = write_file(tmp_path / f"regions.{suffix}", f"code,name\n43,湖南省\n{row}\n")
    with pytest.raises(loader.RegionFileError, match=rf"^{path}:3: not a division code"):
        list(loader.file_rows(path))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("regions.csv.gz", b"code,name\n43,x\n"),
        ("regions.csv.gz", gzip.compress("code,name\n43,湖南省\n".encode())[:-12]),
        ("regions.csv", "code,name\n43,湖南省\n".encode("gbk")),
    ],
    ids=["not-gzip", "truncated-gzip", "not-utf8"],
)
def test_an_unreadable_file_is_refused_with_its_name(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(loader.RegionFileError, match=rf"^{path}: not a UTF-8 CSV file"):
        list(loader.file_rows(path))
