"""Scope: a region-code prefix, checked in Python by ``covers`` and in SQL by ``where``.

``where`` is a half-open range rather than ``LIKE``, so the database test compares it, on both
engines and over every bundled region, with a plain ``startswith`` filter, including prefixes
ending in 9 (whose upper bound needs a carry) and prefixes that match nothing.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.core.scope import Scope
from app.regions.models import Region

# -- covers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["430525", "430525101", "430525101201", "430525999999", "4305250"])
def test_a_scope_covers_the_codes_starting_with_it(code: str) -> None:
    assert Scope("430525").covers(code)


@pytest.mark.parametrize(
    "code", ["430526", "430524999999", "43052", "4305", "", "430522101", "530525101"]
)
def test_a_scope_does_not_cover_other_codes_nor_its_ancestors(code: str) -> None:
    assert not Scope("430525").covers(code)


@pytest.mark.parametrize("code", ["", "11", "430525101201", "659012505"])
def test_the_empty_scope_covers_everything(code: str) -> None:
    assert Scope("").covers(code)


def test_a_village_scope_covers_only_its_own_village() -> None:
    village = Scope("430525101201")
    assert village.covers("430525101201")
    assert not village.covers("430525101202")
    assert not village.covers("430525101")


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "43052a",
        " 430525",
        "430525 ",
        "-1",
        "4305.25",
        "４３０５２５",  # full-width digits: isdigit() but not ASCII
        "²",  # superscript two: isdigit() but not a decimal digit
        "%",
        "430525%",
        "_",
    ],
)
def test_a_scope_code_of_anything_but_ascii_digits_is_rejected(code: str) -> None:
    with pytest.raises(ValueError, match="digits only"):
        Scope(code)


@pytest.mark.parametrize("code", ["", "4", "430525", "430525101201"])
def test_a_scope_code_of_ascii_digits_or_empty_is_accepted(code: str) -> None:
    assert Scope(code).code == code


# -- where, in SQL -----------------------------------------------------------------------------

PREFIXES = [
    "",
    "1",
    "11",
    "43",
    "4305",
    "430525",
    "4305251",
    "430525101",
    "430525101201",
    "6",
    "65",
    "659",
    "6590",
    "659012",
    "4103111",
    "41031119",
    "410311199",
    "110109",
    "1101090",
    "1101099",
    "4305259",
    "430529",
    "19",
    "9",
    "99",
    "999999999999",
    "0",
    "00",
]


@pytest.mark.parametrize("prefix", PREFIXES, ids=lambda p: p or "empty")
async def test_where_selects_exactly_the_regions_whose_code_starts_with_the_scope(
    client: AsyncClient, app: FastAPI, prefix: str
) -> None:
    async with app.state.database.sessionmaker() as session:
        every_code = set((await session.scalars(select(Region.code))).all())
        selected = (
            await session.scalars(select(Region.code).where(Scope(prefix).where(Region.code)))
        ).all()
    assert len(every_code) > 40_000, "the bundled regions are not loaded"
    assert len(selected) == len(set(selected))
    assert set(selected) == {code for code in every_code if code.startswith(prefix)}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("430525101", {"430525101", "430525101001", "430525101201", "430525101202"}),
        ("659012", {"659012", "659012400", "659012503", "659012504", "659012505"}),
        ("41031119", {"410311199"}),
    ],
)
async def test_where_includes_the_prefix_itself_and_the_regions_below_it(
    client: AsyncClient, app: FastAPI, prefix: str, expected: set[str]
) -> None:
    """Spot checks against known codes, so the comparison above cannot pass by being empty."""
    async with app.state.database.sessionmaker() as session:
        selected = set(
            (
                await session.scalars(select(Region.code).where(Scope(prefix).where(Region.code)))
            ).all()
        )
    assert expected <= selected
    assert all(code.startswith(prefix) for code in selected)
