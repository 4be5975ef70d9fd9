"""Forms: what a browser posts, turned into the values the API's schemas validate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData


def digits_or_text(value: str) -> int | str:
    """An integer for ASCII digits; the text itself otherwise (the schema then refuses it)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else value


def values(
    form: FormData,
    fields: Iterable[str],
    *,
    integers: Iterable[str] = (),
    checkboxes: Iterable[str] = (),
    keep_blank: Iterable[str] = (),
) -> dict[str, Any]:
    """The named fields of ``form``: blank ones left out (unless kept), integers parsed,
    checkboxes true when ticked and false when not."""
    found: dict[str, Any] = {}
    integers, checkboxes, keep_blank = set(integers), set(checkboxes), set(keep_blank)
    for name in fields:
        if name in checkboxes:
            found[name] = form.get(name) is not None
            continue
        raw = form.get(name)
        if not isinstance(raw, str):
            continue
        text = raw.strip()
        if not text:
            if name in keep_blank:
                found[name] = None
            continue
        found[name] = digits_or_text(text) if name in integers else text
    return found


def counter(text: object, digits: int = 9) -> int | None:
    """A version or an id a form sent back: ASCII digits of a bounded length, else None."""
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= digits:
        return int(text)
    return None


def yuan_to_fen(text: str) -> int | str:
    """Yuan written with up to two decimals (12 or 12.5 or 12.50) as fen; else the text."""
    whole, _, cents = text.strip().partition(".")
    if not (whole.isascii() and whole.isdigit() and len(whole) <= 10):
        return text
    if cents and not (cents.isascii() and cents.isdigit() and len(cents) <= 2):
        return text
    return int(whole) * 100 + int((cents or "0").ljust(2, "0"))


async def form_of(request: Request) -> FormData:
    return await request.form()
