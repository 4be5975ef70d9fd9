"""Charts drawn on the server as SVG: the figures become shapes here, a template draws them.

No script and no asset from elsewhere: the page carries the picture itself, each shape with a
title (its figure in words) and a table beside it for screen readers and printing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.console.render import percent
from app.stats.schemas import Calibration, SuccessReport

# Light to dark green; the text on a cell is dark on the light half and white on the dark half
# (each pair well above 4.5:1).
SCALE = ("#e5f5e0", "#c7e9c0", "#a1d99b", "#2e7d32", "#1b5e20", "#0b3d14")
EMPTY = "#f0f0f0"
DARK_TEXT, LIGHT_TEXT = "#1a1a1a", "#ffffff"


@dataclass(frozen=True, slots=True)
class Cell:
    x: int
    y: int
    fill: str
    ink: str
    text: str
    title: str


@dataclass(frozen=True, slots=True)
class Grid:
    """A heat map: one row per township, one column per month, each cell its 对接成功率."""

    width: int
    height: int
    cell_width: int
    cell_height: int
    left: int
    top: int
    rows: list[tuple[int, str]]
    columns: list[tuple[int, str]]
    cells: list[Cell]


def colour(rate: float | None) -> tuple[str, str]:
    """The fill and text colour of a rate."""
    if rate is None:
        return EMPTY, DARK_TEXT
    step = min(int(rate * len(SCALE)), len(SCALE) - 1)
    return SCALE[step], DARK_TEXT if step < 3 else LIGHT_TEXT


def success_grid(report: SuccessReport) -> Grid:
    """The 对接成功率 of each township (rows) in each month (columns)."""
    left, top, cell_width, cell_height = 120, 28, 64, 30
    months = [figures.period for figures in report.groups[0].periods] if report.groups else []
    cells = []
    for row, group in enumerate(report.groups):
        for column, figures in enumerate(group.periods):
            fill, ink = colour(figures.success_rate)
            title = (
                f"{group.name} {figures.period}：对接成功率 {percent(figures.success_rate)}"
                f"（发布 {figures.published}，完成 {figures.fulfilled}）"
            )
            cells.append(
                Cell(
                    x=left + column * cell_width,
                    y=top + row * cell_height,
                    fill=fill,
                    ink=ink,
                    text=percent(figures.success_rate),
                    title=title,
                )
            )
    return Grid(
        width=left + max(len(months), 1) * cell_width + 8,
        height=top + max(len(report.groups), 1) * cell_height + 8,
        cell_width=cell_width,
        cell_height=cell_height,
        left=left,
        top=top,
        rows=[(top + i * cell_height, g.name) for i, g in enumerate(report.groups)],
        columns=[(left + i * cell_width, month[2:]) for i, month in enumerate(months)],
        cells=cells,
    )


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    r: float
    title: str


@dataclass(frozen=True, slots=True)
class Plot:
    """The calibration plot: predicted success against the observed rate, per bin."""

    size: int
    margin: int
    ticks: list[tuple[float, str]]
    points: list[Point]


def calibration_plot(report: Calibration) -> Plot:
    size, margin = 320, 48
    span = size - 2 * margin
    largest = max((b.count for b in report.bins), default=0) or 1
    points = [
        Point(
            x=margin + span * b.mean_predicted,
            y=size - margin - span * b.observed_rate,
            r=3 + 9 * math.sqrt(b.count / largest),
            title=(
                f"预测 {percent(b.mean_predicted)}，实际 {percent(b.observed_rate)}，"
                f"{b.count} 个对接"
            ),
        )
        for b in report.bins
        if b.count and b.mean_predicted is not None and b.observed_rate is not None
    ]
    ticks = [(margin + span * t / 4, f"{t * 25}%") for t in range(5)]
    return Plot(size=size, margin=margin, ticks=ticks, points=points)
