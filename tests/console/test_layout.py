"""The console's colours meet WCAG AA (4.5:1 for text, 3:1 for the focus ring against every colour
it touches), and its assets ship in the package."""

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


FOCUSABLE = ("a", "button", "input", "select", "textarea", "summary")
# What a focused element's ring can touch: the element itself and what lies around it.
FOCUS_SURROUNDINGS = {
    "the page": VARIABLES["bg"],
    "a card, a field or a secondary button": VARIABLES["card"],
    "the header": VARIABLES["brand"],
    "a button, or a link's text": VARIABLES["accent"],
    "a field's border": "#767676",
    "a notice": "#e6f4ea",
}
RULES = re.findall(r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", CSS, flags=re.DOTALL))


def focus_rule() -> dict[str, str]:
    """The declarations of the rule that draws the ring around a focused link."""
    for selectors, body in RULES:
        if "a:focus" in {selector.strip() for selector in selectors.split(",")}:
            pairs = (d.partition(":") for d in body.split(";") if d.strip())
            return {name.strip(): value.strip() for name, _, value in pairs}
    raise AssertionError("no rule draws a focus ring")


def colour_of(value: str) -> str:
    variable = re.fullmatch(r"var\(--([a-z]+)\)", value)
    return VARIABLES[variable.group(1)] if variable else value


def focus_tones() -> list[str]:
    """The ring's colours: its outline's, then its halo's (a box-shadow) when it has one."""
    rule = focus_rule()
    outline = re.fullmatch(r"(\d+)px solid (\S+)", rule.get("outline", ""))
    assert outline is not None, rule
    assert int(outline.group(1)) >= 2
    tones = [colour_of(outline.group(2))]
    halo = re.fullmatch(r"0 0 0 \d+px (\S+)", rule.get("box-shadow", ""))
    if halo is not None:
        tones.append(colour_of(halo.group(1)))
    return tones


def test_every_focusable_element_draws_the_ring() -> None:
    selectors = next(s for s, _ in RULES if "a:focus" in s)
    assert {f"{tag}:focus" for tag in FOCUSABLE} <= {s.strip() for s in selectors.split(",")}
    others = [body for s, body in RULES if ":focus" in s and "a:focus" not in s]
    assert not any("outline" in body or "box-shadow" in body for body in others)
    assert not re.search(r"outline:\s*(none|0)\b", CSS)


@pytest.mark.parametrize("surrounding", sorted(FOCUS_SURROUNDINGS))
def test_the_focus_ring_stands_out_against(surrounding: str) -> None:
    # 1.4.11: one tone of the ring at least 3:1 against what it touches (technique C40).
    best = max(contrast(tone, FOCUS_SURROUNDINGS[surrounding]) for tone in focus_tones())

    assert best >= 3


def test_the_focus_rings_tones_stand_9_to_1_apart() -> None:
    # Two tones 9:1 apart leave one of them 3:1 from any colour a page may add later.
    tones = focus_tones()

    assert len(tones) == 2
    assert contrast(*tones) >= 9


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0])
def test_every_cell_of_the_chart_is_legible(rate: float) -> None:
    fill, ink = charts.colour(rate)

    assert contrast(ink, fill) >= 4.5


def test_templates_and_style_sheet_ship_in_the_package() -> None:
    package = resources.files("app.console")
    assert package.joinpath("templates/base.html").is_file()
    assert package.joinpath("static/console.css").is_file()
    assert "http" not in CSS
