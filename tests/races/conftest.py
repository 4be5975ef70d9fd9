"""The races' own hooks: the SQLite half of a PostgreSQL-only test is skipped before any setup,
and a closing section says how many pairs of transitions were raced and how each ended."""

from __future__ import annotations

from pathlib import Path

import pytest

SKIP_REASON = "races need concurrent writers: PostgreSQL only"
_races: dict[str, tuple[str, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    if "race" not in properties or report.when != "call":
        return
    if report.passed:
        winners = properties.get("winners")
        counts = winners.items() if isinstance(winners, dict) else ()
        detail = ", ".join(f"{n}× {who}" for who, n in counts)
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        lines = str(crash.message if crash else report.longrepr).splitlines() or [""]
        detail = next((line.strip() for line in lines[1:] if line.strip()), lines[0][:200])
    _races[str(properties["race"])] = (report.outcome, detail)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _races:
        return
    outcomes = [outcome for outcome, _ in _races.values()]
    terminalreporter.section("transition races")
    terminalreporter.write_line(
        f"{len(_races)} pairs raced: {outcomes.count('passed')} passed, "
        f"{outcomes.count('failed')} failed"
    )
    for label, (outcome, detail) in _races.items():
        terminalreporter.write_line(f"  {outcome:6}  {label:34}  {detail[:150]}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Skipped before any fixture is set up, so the SQLite half builds no database for nothing.
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        here = item.path.is_relative_to(Path(__file__).parent)
        if here and on_sqlite and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
