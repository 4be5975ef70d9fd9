"""The few SQL expressions that differ between SQLite and PostgreSQL, compiled per dialect.

Everything else in the statistics is portable SQL. Timestamps are stored in UTC (SQLite: text
``YYYY-MM-DD HH:MM:SS.ffffff``; PostgreSQL: ``timestamptz``), and the calendar is China
Standard Time, UTC+8 without daylight saving: shift by eight hours, then read the calendar.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, String
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.stats.periods import Period


class _Function(FunctionElement[Any]):
    inherit_cache = True


class cst_month(_Function):
    """``'2026-04'``: the CST calendar month of a UTC timestamp."""

    type = String()
    inherit_cache = True


class cst_quarter(_Function):
    """``'2026Q2'``: the CST calendar quarter of a UTC timestamp."""

    type = String()
    inherit_cache = True


class days_between(_Function):
    """``(end - start)`` in days, a float: ``days_between(start, end)``."""

    type = Float()
    inherit_cache = True


class code_point_order(_Function):
    """A text column ordered by code point on both engines (PostgreSQL's collation may not)."""

    type = String()
    inherit_cache = True


def period_of(
    timestamp: ColumnElement[Any] | InstrumentedAttribute[Any], period: Period
) -> ColumnElement[str]:
    """The label of the CST month or quarter holding a UTC timestamp, as ``periods.label``."""
    return cst_month(timestamp) if period == "month" else cst_quarter(timestamp)


def _arguments(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(argument, **kw) for argument in element.clauses]


@compiles(cst_month)
@compiles(cst_quarter)
@compiles(days_between)
@compiles(code_point_order)
def _unsupported(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"{type(element).__name__} is written for SQLite and PostgreSQL only")


@compiles(cst_month, "sqlite")
def _month_sqlite(element: cst_month, compiler: SQLCompiler, **kw: Any) -> str:
    (timestamp,) = _arguments(element, compiler, **kw)
    return f"strftime('%Y-%m', {timestamp}, '+8 hours')"


@compiles(cst_month, "postgresql")
def _month_postgresql(element: cst_month, compiler: SQLCompiler, **kw: Any) -> str:
    (timestamp,) = _arguments(element, compiler, **kw)
    return f"to_char(({timestamp} AT TIME ZONE 'UTC') + INTERVAL '8 hours', 'YYYY-MM')"


@compiles(cst_quarter, "sqlite")
def _quarter_sqlite(element: cst_quarter, compiler: SQLCompiler, **kw: Any) -> str:
    (timestamp,) = _arguments(element, compiler, **kw)
    year = f"strftime('%Y', {timestamp}, '+8 hours')"
    month = f"CAST(strftime('%m', {timestamp}, '+8 hours') AS INTEGER)"
    return f"({year} || 'Q' || (({month} + 2) / 3))"


@compiles(cst_quarter, "postgresql")
def _quarter_postgresql(element: cst_quarter, compiler: SQLCompiler, **kw: Any) -> str:
    (timestamp,) = _arguments(element, compiler, **kw)
    return f"""to_char(({timestamp} AT TIME ZONE 'UTC') + INTERVAL '8 hours', 'YYYY"Q"Q')"""


@compiles(days_between, "sqlite")
def _days_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _arguments(element, compiler, **kw)
    return f"(julianday({end}) - julianday({start}))"


@compiles(days_between, "postgresql")
def _days_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _arguments(element, compiler, **kw)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) / 86400 AS DOUBLE PRECISION)"


@compiles(code_point_order, "sqlite")
def _code_points_sqlite(element: code_point_order, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = _arguments(element, compiler, **kw)
    return text  # SQLite's default collation, BINARY, compares UTF-8 bytes: code point order


@compiles(code_point_order, "postgresql")
def _code_points_postgresql(element: code_point_order, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = _arguments(element, compiler, **kw)
    return f'({text} COLLATE "C")'
