"""The races run on PostgreSQL only: their SQLite halves are skipped before any setup.

The closing section that says how many pairs were raced is tests/races/summary.py, a plugin of
the root conftest (the controller of a parallel run loads no conftest below the root)."""

from __future__ import annotations

from pathlib import Path

import pytest

SKIP_REASON = "races need concurrent writers: PostgreSQL only"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Skipped before any fixture is set up, so the SQLite half builds no database for nothing.
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        here = item.path.is_relative_to(Path(__file__).parent)
        if here and on_sqlite and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
