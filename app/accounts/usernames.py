"""Usernames in one canonical form: what two people would read as one name is one name.

A name is brought to its canonical form by NFKC (full-width ``ａｄｍｉｎ`` is ``admin``), case
folding, and folding every character that Unicode's confusables data (UTS #39, as the
``confusable_homoglyphs`` package ships it) lists as a lookalike of an ASCII letter or digit to
that letter or digit (Cyrillic ``аdmin`` is ``admin``). The canonical form is what is stored,
unique, and what sign-in looks up; Chinese names (``张小三``) pass through unchanged. Only
lookalikes of ASCII are folded: the data pairs no two Han characters one way round, so folding
them would be a guess.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from confusable_homoglyphs.confusables import confusables_data

MIN_LENGTH, MAX_LENGTH = 2, 64
MOBILE = re.compile(r"1[3-9][0-9]{9}")
_PUNCTUATION = frozenset("_.-")


@cache
def _ascii_lookalikes() -> dict[str, str]:
    """Each non-ASCII character that looks like one ASCII letter or digit, and that character."""
    folds: dict[str, str] = {}
    for character, homoglyphs in confusables_data.items():
        if len(character) != 1 or character.isascii():
            continue
        targets = {
            glyph["c"].casefold()
            for glyph in homoglyphs
            if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalnum()
        }
        if len(targets) == 1:
            folds[character] = targets.pop()
    return folds


def _fold_once(name: str) -> str:
    name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    folds = _ascii_lookalikes()
    return "".join(folds.get(character, character) for character in name)


def canonical(name: str) -> str:
    """The canonical form of a username: NFKC, case-folded, ASCII lookalikes folded."""
    name = name.strip()
    for _ in range(4):  # a fold can expose another (NFKC of a folded character); it settles fast
        folded = _fold_once(name)
        if folded == name:
            break
        name = folded
    return name


def _allowed(character: str) -> bool:
    if character.isascii():
        return character.isalnum() or character in _PUNCTUATION
    # Letters and combining marks of any script; other scripts' digits are not ASCII digits.
    return unicodedata.category(character)[0] in "LM"


def problem(name: str) -> str | None:
    """What is wrong with a canonical username, or None when it may be registered."""
    if not MIN_LENGTH <= len(name) <= MAX_LENGTH:
        return f"a username has {MIN_LENGTH} to {MAX_LENGTH} characters"
    if not all(_allowed(character) for character in name):
        return "a username holds letters (any script), ASCII digits, '_', '.' and '-'"
    if not (name[0].isascii() and name[0].isalnum()) and unicodedata.category(name[0])[0] != "L":
        return "a username starts with a letter or a digit"
    if MOBILE.fullmatch(name):
        return "a mobile number is not a username: register with the number instead"
    return None
