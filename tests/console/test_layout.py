"""The console's colours meet WCAG AA (4.5:1 for text), and its assets ship in the package."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from app.console import charts

CSS = resources.files("app.console").joinpath("static/console.css").read_text(encoding="utf-8")
VARIABLES = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS))
WHITE = "#ffffff"


def luminance(colour: str) -> float:
    """Relative luminance (WCAG 2.1)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(ink: str, paper: str) -> float:
    high, low = sorted((luminance(ink), luminance(paper)), reverse=True)
    return (high + 0.05) / (low + 0.05)


PAIRS = {
    "text on the page": (VARIABLES["ink"], VARIABLES["bg"]),
    "text on a card": (VARIABLES["ink"], VARIABLES["card"]),
    "secondary text": (VARIABLES["muted"], VARIABLES["card"]),
    "secondary text on the page": (VARIABLES["muted"], VARIABLES["bg"]),
    "links and secondary buttons": (VARIABLES["accent"], VARIABLES["card"]),
    "buttons": (WHITE, VARIABLES["accent"]),
    "the header": (WHITE, VARIABLES["brand"]),
    "errors": (VARIABLES["bad"], VARIABLES["card"]),
    "notices": ("#0f3d24", "#e6f4ea"),
    "an empty cell of the chart": (charts.DARK_TEXT, charts.EMPTY),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_text_colours_meet_aa(pair: str) -> None:
    assert contrast(*PAIRS[pair]) >= 4.5


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0])
def test_every_cell_of_the_chart_is_legible(rate: float) -> None:
    fill, ink = charts.colour(rate)

    assert contrast(ink, fill) >= 4.5


def test_templates_and_style_sheet_ship_in_the_package() -> None:
    package = resources.files("app.console")
    assert package.joinpath("templates/base.html").is_file()
    assert package.joinpath("static/console.css").is_file()
    assert "http" not in CSS
